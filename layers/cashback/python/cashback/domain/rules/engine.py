"""Evaluate a purchase under a rule set: pure, deterministic, no I/O.

How a line's rate is made (everything in the storefront's time zone):
- a line whose category is excluded earns nothing;
- if exclusive campaigns target it, the one first in stacking order (priority, then id)
  is its only rate: no base, tier, bonus or other campaign on that line;
- otherwise its base is the first *replace* campaign targeting it, else its category
  rate, else the base rate; then the tier, channel, green (eco lines), birthday and
  first-purchase extra rates and every *add* campaign targeting it are added.
Experiments (trials.py) come first: the program's holdout earns nothing, a campaign's
holdout does without the campaign, other variants add their extra rate.
Fixed bonuses (birthday, first purchase) are added once per order that has a line that
can earn. In points mode each value is converted to points as it is computed.

Then, in this order: a channel that does not earn, or an order below the program's
minimum, cuts everything; a campaign's remaining budget cuts that campaign's part; the
per-order cap, then the monthly cap cut the total, and no order credits more than
MAX_CREDIT (the bound of a request amount; rules.limits). Rounding: each rule's value is an
exact `Decimal` (line amount x rate), the values are added up, the cuts subtracted, and
the result is rounded DOWN to the ledger unit once. So the customer never gets more than
the rules give, and loses less than one unit to rounding per order.

The lot's dates follow the program's lifecycle, unless a campaign that credited the order
has its own: then the first such campaign in stacking order sets them.

Budget consumption: the integer cashback is split exactly (the parts add up to it) between
the non-campaign rules, taken first, and then the campaigns in stacking order, each part
at most its value rounded up. So a cap or the rounding comes out of the lowest-ranked
campaign money first, a campaign never consumes more than its remaining budget, and the
budgets are charged exactly the campaign money that was credited.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import ROUND_FLOOR, Decimal, localcontext
from decimal import Context as DecimalContext
from typing import cast

from cashback.domain.rules import deadlines, growth, trials
from cashback.domain.rules.evaluation import Applied, Cut, Evaluation, LineResult, Missed, RuleKind
from cashback.domain.rules.explain import customer_explanation
from cashback.domain.rules.inputs import (
    Birthday,
    Context,
    CurrencyMismatch,
    Line,
    Purchase,
    PurchaseLike,
)
from cashback.domain.rules.limits import MAX_CREDIT
from cashback.domain.rules.plan import CampaignRule, Compiled, Head, OrderPlanner, compiled
from cashback.domain.rules.ruleset import (
    ZERO,
    BirthdayBonus,
    Bonus,
    ChannelRule,
    RuleSet,
    Tier,
    Tiers,
)

__all__ = [
    "Birthday",
    "Context",
    "CurrencyMismatch",
    "Evaluation",
    "Line",
    "Purchase",
    "customer_explanation",
    "evaluate",
]

# Exact for any amount (12 digits) x rate (7) x points factor (14): far below 60 digits.
_EXACT = DecimalContext(prec=60)
_new = tuple.__new__  # builds a NamedTuple without its keyword-handling __new__


def _tier(tiers: Tiers | None, spend: int) -> Tier | None:
    reached = None
    for tier in tiers.levels if tiers else ():
        if spend >= tier.min_spend:
            reached = tier
    return reached


def _channel_rule(rules: RuleSet, channel: str) -> ChannelRule | None:
    return cast("dict[str, ChannelRule]", rules.channels).get(channel)


def _birthday_applies(bonus: BirthdayBonus, birthday: Birthday | None, day: date) -> bool:
    if birthday is None:
        return False
    return birthday.month == day.month if bonus.scope == "month" else birthday.is_on(day)


def evaluate(
    rule_set: RuleSet, purchase: PurchaseLike, context: Context, *, version: int
) -> Evaluation:
    """The cashback a purchase earns under one version of the rules, with its breakdown.

    `version` is the number under which `rule_set` was published (see versions.py)."""
    if purchase.currency != rule_set.currency:
        raise CurrencyMismatch(f"the program runs in {rule_set.currency}, not {purchase.currency}")
    if purchase.occurred_at.tzinfo is None:
        raise ValueError("occurred_at must carry a time zone")
    with localcontext(_EXACT):
        return _evaluate(compiled(rule_set), purchase, context, version)


def _extras(
    rules: RuleSet, purchase: PurchaseLike, context: Context, tier: Tier | None, local_day: date
) -> tuple[list[Head], list[Applied]]:
    """Extra rates for every line, and fixed amounts for the order."""
    rates: list[Head] = []
    fixed: list[Applied] = []
    if tier is not None and tier.extra_rate:
        rates.append(("tier", tier.name, tier.name, tier.extra_rate))
    channel_rule = _channel_rule(rules, purchase.channel)
    if channel_rule is not None and channel_rule.extra_rate:
        rates.append(("channel", purchase.channel, purchase.channel, channel_rule.extra_rate))
    for segment in sorted(set(purchase.segments)):
        segment_rule = rules.segments.get(segment)
        if segment_rule is not None and segment_rule.extra_rate:
            rates.append(("segment", segment, segment, segment_rule.extra_rate))
    bonuses: list[tuple[RuleKind, str, Bonus]] = []
    if rules.birthday and _birthday_applies(rules.birthday, context.birthday, local_day):
        bonuses.append(("birthday", "Birthday bonus", rules.birthday))
    if context.first_purchase and rules.first_purchase is not None:
        bonuses.append(("first_purchase", "First-purchase bonus", rules.first_purchase))
    for kind, name, bonus in bonuses:
        if bonus.extra_rate:
            rates.append((kind, kind, name, bonus.extra_rate))
        if bonus.fixed:
            fixed.append(Applied(kind, kind, name, ZERO, Decimal(bonus.fixed)))
    growth_rates, growth_fixed = growth.extras(rules, context)
    return rates + growth_rates, fixed + growth_fixed


def _active(compiled: Compiled, purchase: PurchaseLike) -> tuple[list[CampaignRule], list[Missed]]:
    active: list[CampaignRule] = []
    missed: list[Missed] = []
    at = purchase.occurred_at
    for c in compiled.campaigns:
        if not c.start <= at < c.end or (c.channels and purchase.channel not in c.channels):
            continue
        if purchase.amount < c.campaign.min_order_amount:
            missed.append(
                Missed(
                    c.campaign.id, c.campaign.name, c.campaign.min_order_amount - purchase.amount
                )
            )
            continue
        active.append(c)
    return active, missed


def _evaluate(
    compiled: Compiled, purchase: PurchaseLike, context: Context, version: int
) -> Evaluation:
    rules = compiled.rules
    local_day = deadlines.local_day(purchase.occurred_at, compiled.tz)
    tier = _tier(rules.tiers, context.trailing_spend)
    extras, order_items = _extras(rules, purchase, context, tier, local_day)
    active, missed = _active(compiled, purchase)
    trial = trials.run(compiled, context.customer, active, missed, extras)
    active, missed, extras = trial.active, trial.missed, trial.extras
    planner = compiled.planner(active, extras)
    lines, targeted, gross = _rate_lines(compiled, planner, purchase)
    rates = {c.campaign.id: c.head[3] for c in active}  # a variant may add to a campaign's
    parts = {campaign: scaled * rates[campaign] for campaign, scaled in targeted.items()}
    if all(line.excluded for line in lines):
        order_items = []
    gross += sum((item.value for item in order_items), ZERO)
    others = gross - sum(parts.values(), ZERO)  # what non-campaign rules give

    net, cuts = _cut(compiled, purchase, context, active, parts, gross)
    cashback = int(net.to_integral_value(rounding=ROUND_FLOOR))
    shares = _attribute(active, parts, others, cashback)
    consumption = {
        c.campaign.id: shares[c.campaign.id]
        for c in active
        if c.campaign.budget is not None and shares[c.campaign.id]
    }
    evaluation = _evaluation(
        compiled,
        purchase,
        version,
        cashback,
        gross,
        net,
        lines,
        order_items,
        cuts,
        missed,
        tier,
        active,
        parts,
        shares,
        consumption,
    )
    return trials.recorded(evaluation, trial)


def _rate_lines(
    compiled: Compiled, planner: OrderPlanner, purchase: PurchaseLike
) -> tuple[list[LineResult], dict[str, Decimal], Decimal]:
    """Each line's rate and value; the scaled amount each campaign rates (by campaign id);
    the lines' gross value."""
    factor, excluded = compiled.factor, compiled.excluded
    lines: list[LineResult] = []
    targeted: dict[str, Decimal] = {}  # campaign id -> scaled amount of the lines it rates
    gross = ZERO
    for index, line in enumerate(purchase.lines):
        if line.category in excluded:
            lines.append(
                _new(
                    LineResult, (index, line.sku, line.category, line.amount, True, ZERO, ZERO, ())
                )
            )
            continue
        plan = planner.plan(line.category, line.sku, line.eco)
        scaled = line.amount * factor
        items = tuple([_new(Applied, head + (scaled * head[3],)) for head in plan.heads])
        value = scaled * plan.rate  # exactly the sum of the items' values
        for campaign in plan.campaigns:
            targeted[campaign] = targeted.get(campaign, ZERO) + scaled
        gross += value
        lines.append(
            _new(
                LineResult,
                (index, line.sku, line.category, line.amount, False, plan.rate, value, items),
            )
        )
    return lines, targeted, gross


def _cut(
    compiled: Compiled,
    purchase: PurchaseLike,
    context: Context,
    active: list[CampaignRule],
    parts: dict[str, Decimal],
    gross: Decimal,
) -> tuple[Decimal, list[Cut]]:
    """Apply channel, threshold, budgets and caps; `parts` shrink with their budget cuts."""
    rules = compiled.rules
    cuts: list[Cut] = []
    net = gross
    channel_rule = _channel_rule(rules, purchase.channel)
    if net and channel_rule is not None and not channel_rule.earns:
        cuts.append(Cut("channel", purchase.channel, net, 0))
        parts.clear()
        return ZERO, cuts
    if net and purchase.amount < rules.min_order_amount:
        cuts.append(Cut("threshold", None, net, rules.min_order_amount))
        parts.clear()
        return ZERO, cuts
    for c in active:
        part = parts.get(c.campaign.id, ZERO)
        if c.campaign.budget is None:
            continue
        known = context.budget_remaining.get(c.campaign.id)  # None: unknown, so the total
        remaining = c.campaign.budget if known is None else min(max(known, 0), c.campaign.budget)
        if part <= remaining:
            continue
        cuts.append(Cut("budget", c.campaign.id, part - remaining, remaining))
        net -= part - remaining
        parts[c.campaign.id] = Decimal(remaining)
    limits = [("order_cap", rules.caps.per_order)]
    if rules.caps.per_customer_month is not None:
        room = max(rules.caps.per_customer_month - context.earned_this_month, 0)
        limits.append(("monthly_cap", room))
    limits.append(("credit_limit", MAX_CREDIT))  # what one order may credit, whatever the rules
    for kind, limit in limits:
        if limit is not None and net > limit:
            cuts.append(Cut(kind, None, net - limit, limit))  # type: ignore[arg-type]
            net = Decimal(limit)
    return net, cuts


def _attribute(
    active: list[CampaignRule], parts: dict[str, Decimal], others: Decimal, cashback: int
) -> dict[str, int]:
    """Each campaign's whole share of the cashback: other rules are paid first, then the
    campaigns in stacking order, each at most its value rounded up. The shares and the
    others' part add up to the cashback exactly, since the values add up to at least it."""
    left = cashback - min(math.ceil(others), cashback)
    shares: dict[str, int] = {}
    for c in active:
        share = min(math.ceil(parts.get(c.campaign.id, ZERO)), left)
        shares[c.campaign.id] = share
        left -= share
    return shares


def _evaluation(
    compiled: Compiled,
    purchase: PurchaseLike,
    version: int,
    cashback: int,
    gross: Decimal,
    net: Decimal,
    lines: list[LineResult],
    order_items: list[Applied],
    cuts: list[Cut],
    missed: list[Missed],
    tier: Tier | None,
    active: list[CampaignRule],
    parts: dict[str, Decimal],
    shares: dict[str, int],
    consumption: dict[str, int],
) -> Evaluation:
    rules = compiled.rules
    window, expiry = rules.lifecycle.return_window_days, rules.lifecycle.expiry
    for c in active:  # the first contributing campaign with its own lifecycle decides
        override = c.campaign.lifecycle
        if override is not None and shares.get(c.campaign.id):
            window = (
                window if override.return_window_days is None else (override.return_window_days)
            )
            expiry = override.expiry or expiry
            break
    at = purchase.occurred_at.replace(microsecond=0)
    return Evaluation(
        version=version,
        currency=rules.currency,
        unit=rules.unit,
        cashback=cashback,
        gross=gross,
        rounding=net - cashback,
        lines=tuple(lines),
        order_items=tuple(order_items),
        cuts=tuple(cuts),
        missed=tuple(missed),
        tier=tier.name if tier else None,
        campaigns=tuple(c.campaign.id for c in active if c.campaign.id in parts),
        budget_consumption=consumption,
        month=deadlines.month_key(at, compiled.tz),
        time_zone=rules.time_zone,
        available_at=deadlines.available_at(at, window, compiled.tz),
        expires_at=deadlines.expires_at(expiry, at, compiled.tz),
        expiry=expiry,
    )
