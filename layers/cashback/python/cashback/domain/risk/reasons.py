"""What to do with a purchase's cashback: allow, review (held for an analyst) or block.

Like Stripe Radar and Sift, explicit lists and a few readable rules run before the model,
and every decision records which of them fired:

1. deny lists (customer, device, payment fingerprint): block. They are people's decisions,
   not the model's, so they apply in shadow mode too;
2. allow lists: allow, whatever the rules and the model say (the score is still recorded);
3. readable rules: each names a behaviour and the action it asks for;
4. the model: its risk score against thresholds set from the analysts' review capacity.

The strictest of rules and model wins. In shadow mode the decision is computed and
recorded (`would_be`) but the action is always allow, so a storefront can watch what the
model would do before it lets it hold anything.

Reasons are the top three in words, for the analyst and the case file: fired rules first,
then the model's most unusual behaviours, ranked by how rare each value was in the
training traffic (quantiles stored in the model's metadata).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from cashback.domain.risk.features import (
    DAY,
    FEATURE_NAMES,
    QUICK_REFUND_DAYS,
    CustomerAggregates,
    PurchaseFacts,
    RefundHistory,
    SharedCounts,
    account_age_days,
    features,
    median_amount,
    orders_since,
    refund_history,
)

if TYPE_CHECKING:
    from cashback.domain.risk.scorer import Scorer

Action = Literal["allow", "review", "block"]
SEVERITY: Mapping[str, int] = {"allow": 0, "review": 1, "block": 2}
NO_MODEL = "none"
MAX_REASONS = 3
RARE = 0.05  # a behaviour is worth naming when fewer than 5% of training purchases show it
YOUNG_DAYS = 30  # velocity reasons mention the account's age below this


@dataclass(frozen=True)
class Thresholds:
    """Risk scores (higher is riskier) at or above which a purchase is reviewed / blocked."""

    review: float
    block: float

    def __post_init__(self) -> None:
        if self.block < self.review:
            raise ValueError("the block threshold must not be below the review threshold")

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> Thresholds:
        thresholds = metadata["thresholds"]
        return cls(review=float(thresholds["review"]), block=float(thresholds["block"]))

    def action(self, score: float) -> Action:
        if score >= self.block:
            return "block"
        return "review" if score >= self.review else "allow"


@dataclass(frozen=True)
class RiskLists:
    """A storefront's allow and deny lists."""

    allow_customers: frozenset[str] = frozenset()
    allow_devices: frozenset[str] = frozenset()
    allow_payments: frozenset[str] = frozenset()
    deny_customers: frozenset[str] = frozenset()
    deny_devices: frozenset[str] = frozenset()
    deny_payments: frozenset[str] = frozenset()

    def matches(self, purchase: PurchaseFacts, which: Literal["allow", "deny"]) -> list[str]:
        """The lists of kind `which` the purchase is on, as `<which>_list:<subject>`."""
        found = []
        for subject, value in (
            ("customer", purchase.customer_id),
            ("device", purchase.device_id),
            ("payment", purchase.payment_fingerprint),
        ):
            names: frozenset[str] = getattr(self, f"{which}_{subject}s")
            if value is not None and value in names:
                found.append(f"{which}_list:{subject}")
        return found


NO_LISTS = RiskLists()


@dataclass(frozen=True)
class RulePolicy:
    """The readable rules' limits. Conservative on purpose: a rule fires only on behaviour
    no honest shopper shows, and the model covers the grey zone."""

    enabled: bool = True
    velocity_orders_24h: int = 5
    velocity_max_age_days: float = 3.0
    ring_customers: int = 3
    serial_refunded_orders: int = 4
    serial_refunded_share: float = 0.6
    serial_quick_refunds: int = 3
    spent_refunds: int = 3
    spent_share: float = 0.3


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
        }


@dataclass(frozen=True)
class Context:
    """Everything rules and reasons read, computed once per purchase."""

    purchase: PurchaseFacts
    aggregates: CustomerAggregates
    shared: SharedCounts
    now: datetime
    history: RefundHistory
    row: list[float]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _age(days: float) -> str:
    if days < 2:
        return _plural(int(days * 24), "hour")
    return _plural(int(days), "day")


def _refunds_text(h: RefundHistory) -> str:
    return (
        f"refunded {h.refunded_orders} of the last {_plural(h.orders, 'order')}, "
        f"{h.quick_refunds} within {QUICK_REFUND_DAYS} days"
    )


def _after_spendable_text(h: RefundHistory) -> str:
    return (
        f"{h.after_spendable} of {_plural(h.refunded_orders, 'refund')} came after the "
        "cashback became spendable"
    )


def _spent_text(h: RefundHistory) -> str:
    share = h.spent_before_refund / h.cashback if h.cashback else 0.0
    return (
        f"{share:.0%} of the cashback earned in 90 days was spent before its order was "
        f"refunded ({_plural(h.refunded_orders, 'refunded order')})"
    )


def _velocity_text(c: Context) -> str:
    text = (
        f"{_plural(orders_since(c.aggregates, c.now, DAY), 'order')} in the last 24 hours, "
        f"{orders_since(c.aggregates, c.now, 30 * DAY)} in 30 days"
    )
    age = account_age_days(c.aggregates, c.now)
    return f"{text} on an account {_age(age)} old" if age < YOUNG_DAYS else text


def _new_account_text(c: Context) -> str:
    if c.aggregates.first_seen is None:
        return "first purchase on this account"
    return f"account first seen {_age(account_age_days(c.aggregates, c.now))} ago"


def _amount_text(c: Context) -> str:
    reference = median_amount(c.aggregates, c.now)
    ratio = c.purchase.amount / reference if reference else 1.0
    return f"order is {ratio:.1f}x the customer's median order"


def _rate_text(c: Context) -> str:
    return f"earns {c.purchase.cashback / c.purchase.amount:.1%} cashback on this order"


def _shared_text(c: Context) -> str:
    parts = []
    if c.shared.device:
        parts.append(f"device shared with {_plural(c.shared.device, 'other customer')}")
    if c.shared.payment:
        parts.append(f"payment card shared with {_plural(c.shared.payment, 'other customer')}")
    return "; ".join(parts)


# -- readable rules -------------------------------------------------------------------------

RuleCheck = Callable[[Context, RulePolicy], bool]


@dataclass(frozen=True)
class Rule:
    name: str
    action: Action
    check: RuleCheck
    explain: Callable[[Context], str]


RULES: tuple[Rule, ...] = (
    Rule(
        "fresh_account_velocity",
        "review",
        lambda c, p: (
            account_age_days(c.aggregates, c.now) <= p.velocity_max_age_days
            and orders_since(c.aggregates, c.now, DAY) >= p.velocity_orders_24h
        ),
        _velocity_text,
    ),
    Rule(
        "shared_identity_ring",
        "review",
        lambda c, p: c.shared.most >= p.ring_customers,
        _shared_text,
    ),
    Rule(
        "serial_refunds",
        "review",
        lambda c, p: (
            c.history.refunded_orders >= p.serial_refunded_orders
            and c.history.quick_refunds >= p.serial_quick_refunds
            and c.history.refunded >= p.serial_refunded_share * c.history.ordered
        ),
        lambda c: _refunds_text(c.history),
    ),
    Rule(
        "refunds_after_spending",
        "review",
        lambda c, p: (
            c.history.refunded_orders >= p.spent_refunds
            and c.history.spent_before_refund >= p.spent_share * c.history.cashback > 0
        ),
        lambda c: _spent_text(c.history),
    ),
)


# -- the model's reasons ------------------------------------------------------------------


@dataclass(frozen=True)
class ReasonGroup:
    """Features that describe one behaviour; `low` lists those where small values are the
    risky ones."""

    name: str
    features: tuple[str, ...]
    explain: Callable[[Context], str]
    low: tuple[str, ...] = ()


REASON_GROUPS: tuple[ReasonGroup, ...] = (
    ReasonGroup(
        "refunds",
        ("refunded_orders_90d_log1p", "refunded_share_90d", "quick_refunds_90d_log1p"),
        lambda c: _refunds_text(c.history),
    ),
    ReasonGroup(
        "refund_timing",
        ("refunds_after_spendable_90d_log1p",),
        lambda c: _after_spendable_text(c.history),
    ),
    ReasonGroup(
        "spent_then_refunded", ("spent_then_refunded_share_90d",), lambda c: _spent_text(c.history)
    ),
    ReasonGroup(
        "velocity",
        ("orders_24h_log1p", "orders_30d_log1p", "orders_per_active_day_log1p"),
        _velocity_text,
    ),
    ReasonGroup("shared_identity", ("shared_identity_customers_log1p",), _shared_text),
    ReasonGroup(
        "new_account",
        ("account_age_days_log1p",),
        _new_account_text,
        low=("account_age_days_log1p",),
    ),
    ReasonGroup("amount", ("amount_vs_median_log2",), _amount_text),
    ReasonGroup("cashback_rate", ("cashback_rate",), _rate_text),
)
RULE_GROUPS: Mapping[str, str] = {
    "fresh_account_velocity": "velocity",
    "shared_identity_ring": "shared_identity",
    "serial_refunds": "refunds",
    "refunds_after_spending": "spent_then_refunded",
}


def tail_share(quantiles: Sequence[float], value: float, low: bool = False) -> float:
    """Approximate share of training purchases at least as extreme as `value`, from the
    feature's stored percentiles (0th..100th)."""
    if not quantiles:
        return 1.0
    if low:
        return bisect.bisect_right(quantiles, value) / len(quantiles)
    return (len(quantiles) - bisect.bisect_left(quantiles, value)) / len(quantiles)


def model_reasons(
    context: Context,
    metadata: Mapping[str, Any],
    skip: frozenset[str] = frozenset(),
    fallback: bool = True,
) -> list[str]:
    """The model's most unusual behaviours for this purchase, rarest first; with
    `fallback`, the least common one when none is rare on its own."""
    quantiles: Mapping[str, Sequence[float]] = metadata.get("feature_quantiles", {})
    values = dict(zip(FEATURE_NAMES, context.row, strict=True))
    ranked = []
    for group in REASON_GROUPS:
        if group.name in skip:
            continue
        tail = min(
            tail_share(quantiles.get(name, ()), values[name], name in group.low)
            for name in group.features
        )
        ranked.append((tail, group.name, group))
    ranked.sort(key=lambda item: (item[0], item[1]))
    rare = [group.explain(context) for tail, _, group in ranked if tail < RARE]
    if rare or not ranked or not fallback:
        return rare
    # No single behaviour is rare: the combination is. Name the least common one.
    return [f"unusual combination; most unusual: {ranked[0][2].explain(context)}"]


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
    allowed = lists.matches(purchase, "allow")
    if allowed:
        return decision("allow", "allow", [], allowed)

    context = Context(purchase, aggregates, shared, now, refund_history(aggregates, now), row)
    fired = [rule for rule in RULES if policy.enabled and rule.check(context, policy)]
    would_be: Action = "allow"
    for rule in fired:
        would_be = rule.action if SEVERITY[rule.action] > SEVERITY[would_be] else would_be
    if scorer is not None and score is not None:
        limits = thresholds or Thresholds.from_metadata(scorer.metadata)
        model_action = limits.action(score)
        if SEVERITY[model_action] > SEVERITY[would_be]:
            would_be = model_action
    reasons: list[str] = []
    if would_be != "allow":
        reasons = [rule.explain(context) for rule in fired]
        if scorer is not None:
            covered = frozenset(RULE_GROUPS[rule.name] for rule in fired)
            reasons += model_reasons(context, scorer.metadata, skip=covered, fallback=not reasons)
    return decision(
        "allow" if shadow else would_be, would_be, reasons, [rule.name for rule in fired]
    )
