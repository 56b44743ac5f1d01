"""What to do with a purchase's cashback: allow, review (held for an analyst) or block.

Like Stripe Radar and Sift, explicit lists and a few readable rules run before the model,
and every decision records which of them fired:

1. deny lists (customer, device, payment fingerprint): block. They are people's decisions,
   not the model's, so they apply in shadow mode too;
2. the watch list (customer): review at least, whatever the rules and the model say; the
   stricter list wins, so a watched customer's allow entry does not apply;
3. allow lists (customer): allow, whatever the rules and the model say (the score is still
   recorded);
4. readable rules: each names a behaviour and the action it asks for;
5. the model: its risk score against thresholds set from the analysts' review capacity.

The strictest of the watch list, rules and model wins. In shadow mode the decision is
computed and recorded (`would_be`) but the action is always allow, so a storefront can
watch what the model would do before it lets it hold anything.

Reasons are the top three in words, for the analyst and the case file: fired rules first,
then the model's most unusual behaviours, ranked by how rare each value was in the
training traffic (quantiles stored in the model's metadata).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cashback.domain.risk.aggregates import CustomerAggregates, PurchaseFacts, SharedCounts
from cashback.domain.risk.features import features, refund_history
from cashback.domain.risk.policy import (
    NO_LISTS,
    SEVERITY,
    Action,
    RiskLists,
    RulePolicy,
    Thresholds,
)
from cashback.domain.risk.reasons import RULE_GROUPS, RULES, Context, Rule, model_reasons

if TYPE_CHECKING:
    from cashback.domain.risk.scorer import Scorer

NO_MODEL = "none"
MAX_REASONS = 3
WATCH_RULE = "watch_list"
WATCH_REASON = "customer on the watch list"


@dataclass(frozen=True)
class Decision:
    """The outcome for one purchase; `score` is the model's risk in (0, 1] (None when no
    model ran), `would_be` what the action would be outside shadow mode."""

    action: Action
    score: float | None
    model_version: str
    reasons: list[str]
    rules_fired: list[str]
    shadow: bool = False
    would_be: Action = "allow"
    features: tuple[float, ...] = field(default=(), repr=False)

    @property
    def holds(self) -> bool:
        return self.action != "allow"

    def to_record(self) -> dict[str, Any]:
        """What the order stores: no floats (DynamoDB wants Decimals), the score as text."""
        return {
            "action": self.action,
            "would_be": self.would_be,
            "shadow": self.shadow,
            "score": None if self.score is None else f"{self.score:.6f}",
            "model_version": self.model_version,
            "reasons": list(self.reasons),
            "rules_fired": list(self.rules_fired),
            # The purchase's feature row (FEATURE_NAMES order), for labels and the case.
            "features": [f"{x:.6g}" for x in self.features],
        }


# -- the decision -------------------------------------------------------------------------


def decide(
    purchase: PurchaseFacts,
    aggregates: CustomerAggregates,
    shared: SharedCounts,
    now: datetime,
    scorer: Scorer | None,
    *,
    lists: RiskLists = NO_LISTS,
    thresholds: Thresholds | None = None,
    rules: RulePolicy | None = None,
    shadow: bool = False,
) -> Decision:
    """Decide a purchase from the aggregates as they were before it. Pure: the same inputs
    give the same decision, which is what makes backtests of new thresholds meaningful.

    `scorer` None runs lists and rules only (the model layer is missing, or a baseline);
    `thresholds` None takes the model's own (from its metadata)."""
    policy = rules or RulePolicy()
    row = features(aggregates, purchase, now, shared)
    score = scorer.risk(row) if scorer is not None else None
    version = scorer.model_version if scorer is not None else NO_MODEL

    def decision(
        action: Action, would_be: Action, reasons: list[str], fired: list[str]
    ) -> Decision:
        return Decision(
            action=action,
            score=score,
            model_version=version,
            reasons=reasons[:MAX_REASONS],
            rules_fired=fired,
            shadow=shadow,
            would_be=would_be,
            features=tuple(row),
        )

    denied = lists.matches(purchase, "deny")
    if denied:
        subjects = ", ".join(name.split(":")[1] for name in denied)
        return decision("block", "block", [f"{subjects} on the deny list"], denied)
    watched = bool(lists.matches(purchase, "watch"))
    allowed = lists.matches(purchase, "allow")
    if allowed and not watched:
        return decision("allow", "allow", [], allowed)

    context = Context(purchase, aggregates, shared, now, refund_history(aggregates, now), row)
    fired = [rule for rule in RULES if policy.enabled and rule.check(context, policy)]
    would_be = _strictest(fired, scorer, score, thresholds)
    if watched and SEVERITY[would_be] < SEVERITY["review"]:
        would_be = "review"
    reasons: list[str] = []
    if would_be != "allow":
        reasons = ([WATCH_REASON] if watched else []) + [rule.explain(context) for rule in fired]
        if scorer is not None:
            covered = frozenset(RULE_GROUPS[rule.name] for rule in fired)
            reasons += model_reasons(context, scorer.metadata, skip=covered, fallback=not reasons)
    names = ([WATCH_RULE] if watched else []) + [rule.name for rule in fired]
    return decision("allow" if shadow else would_be, would_be, reasons, names)


def _strictest(
    fired: list[Rule], scorer: Scorer | None, score: float | None, thresholds: Thresholds | None
) -> Action:
    """The strictest action of the fired rules and the model's score."""
    would_be: Action = "allow"
    for rule in fired:
        would_be = rule.action if SEVERITY[rule.action] > SEVERITY[would_be] else would_be
    if scorer is not None and score is not None:
        limits = thresholds or Thresholds.from_metadata(scorer.metadata)
        model_action = limits.action(score)
        if SEVERITY[model_action] > SEVERITY[would_be]:
            would_be = model_action
    return would_be
