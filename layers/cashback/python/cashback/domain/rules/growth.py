"""What the growth rules (growth_rules.py) make of a customer's progress: the favourite
category and the milestones a purchase reaches, the extra rates they give, and the way
towards the next milestones (the customer's balance shows it).

A milestone is reached by the purchase that crosses it: the count, lifetime spend or streak
is below its target before the purchase and at or past it after. So a customer already past
a milestone when it is published does not reach it; nor does one who reached it reach it
again (the account keeps the reached ones). Pure: progress and months come in as values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from cashback.domain import currencies
from cashback.domain.rules.evaluation import Applied
from cashback.domain.rules.growth_rules import (
    Cumulative,
    CumulativeStep,
    FavouriteCategory,
    Milestone,
    MilestoneKind,
)
from cashback.domain.rules.inputs import Context
from cashback.domain.rules.plan import Head
from cashback.domain.rules.ruleset import RuleSet

ZERO = Decimal(0)


@dataclass(frozen=True)
class Progress:
    """What the account keeps for the growth rules, as it was before the purchase."""

    purchase_count: int = 0
    lifetime_spend: int = 0  # minor units, net of refunds
    category_days: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # day -> cat
    months: Mapping[str, int] = field(default_factory=dict)  # local month -> purchases
    reached: Mapping[str, str] = field(default_factory=dict)  # milestone id -> reached_at


def favourite(
    rule: FavouriteCategory | None,
    progress: Progress,
    *,
    after_day: str,
    excluded: tuple[str, ...] = (),
) -> str | None:
    """The category the customer spent most in (net) on the days after `after_day` (the
    window's start, 'YYYY-MM-DD'); ties go to the first name. None without the rule, before
    min_purchases purchases, or with nothing spent."""
    if rule is None or progress.purchase_count < rule.min_purchases:
        return None
    totals: dict[str, int] = {}
    for day, spend in progress.category_days.items():
        if day > after_day:
            for category, amount in spend.items():
                totals[category] = totals.get(category, 0) + amount
    ranked = sorted(
        (-amount, category)
        for category, amount in totals.items()
        if amount > 0 and category not in excluded
    )
    return ranked[0][1] if ranked else None


def step(cumulative: Cumulative | None, lifetime_spend: int) -> CumulativeStep | None:
    """The highest step the lifetime spend reaches."""
    reached = None
    for each in cumulative.steps if cumulative else ():
        if lifetime_spend >= each.min_spend:
            reached = each
    return reached


def _shift(month: str, by: int) -> str:
    year, number = divmod(int(month[:4]) * 12 + int(month[5:7]) - 1 + by, 12)
    return f"{year:04d}-{number + 1:02d}"


def _run(months: Mapping[str, int], month: str, by: int) -> int:
    """How many consecutive months with purchases from `month` on, stepping by `by`."""
    count = 0
    while months.get(month):
        count += 1
        month = _shift(month, by)
    return count


def streak(months: Mapping[str, int], month: str) -> tuple[int, int]:
    """The streak through `month` before and after a purchase in it: (the longest run it
    touches without it, the run with it)."""
    if months.get(month):
        run = _run(months, month, -1) + _run(months, _shift(month, 1), 1)
        return run, run
    left, right = _run(months, _shift(month, -1), -1), _run(months, _shift(month, 1), 1)
    return max(left, right), left + 1 + right


def _before_after(
    milestone: Milestone, progress: Progress, amount: int, month: str
) -> tuple[int, int]:
    if milestone.kind == "nth_purchase":
        return progress.purchase_count, progress.purchase_count + 1
    if milestone.kind == "spend":
        return progress.lifetime_spend, progress.lifetime_spend + amount
    return streak(progress.months, month)


def reached(
    milestones: tuple[Milestone, ...], progress: Progress, *, amount: int, month: str
) -> tuple[str, ...]:
    """The ids of the milestones a purchase of `amount` in local `month` reaches."""
    found = []
    for milestone in milestones:
        if milestone.id in progress.reached:
            continue
        before, after = _before_after(milestone, progress, amount, month)
        if before < milestone.target <= after:
            found.append(milestone.id)
    return tuple(found)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def milestone_name(milestone: Milestone, currency: str) -> str:
    """What a customer reads: "Milestone: 5th purchase" unless the program names it."""
    if milestone.name:
        return f"Milestone: {milestone.name}"
    if milestone.kind == "nth_purchase":
        return f"Milestone: {_ordinal(milestone.target)} purchase"
    if milestone.kind == "streak_months":
        return f"Milestone: {milestone.target} months in a row"
    return f"Milestone: {_money(milestone.target, currency)} spent"


def _money(minor: int, currency: str) -> str:
    digits = currencies.MINOR_UNITS.get(currency, 2)
    return f"{currency} {Decimal(minor).scaleb(-digits):,.{digits}f}"


def extras(rules: RuleSet, context: Context) -> tuple[list[Head], list[Applied]]:
    """The growth rules' extra rates (the favourite category's applies to its lines only;
    see plan.py) and fixed bonuses, for the engine."""
    rates: list[Head] = []
    fixed: list[Applied] = []
    top = context.favourite_category
    if rules.favourite_category and top and rules.favourite_category.extra_rate:
        rates.append(("favourite_category", top, top, rules.favourite_category.extra_rate))
    reached_step = step(rules.cumulative, context.lifetime_spend)
    if reached_step is not None and reached_step.extra_rate:
        rule, name = str(reached_step.min_spend), _money(reached_step.min_spend, rules.currency)
        rates.append(("cumulative", rule, name, reached_step.extra_rate))
    for milestone in rules.milestones:
        if milestone.id not in context.milestones:
            continue
        name = milestone_name(milestone, rules.currency)
        if milestone.bonus.extra_rate:
            rates.append(("milestone", milestone.id, name, milestone.bonus.extra_rate))
        if milestone.bonus.fixed:
            fixed.append(
                Applied("milestone", milestone.id, name, ZERO, Decimal(milestone.bonus.fixed))
            )
    return rates, fixed


@dataclass(frozen=True)
class Towards:
    """A milestone not reached yet, and how far the customer is."""

    id: str
    kind: MilestoneKind
    progress: int  # purchases, minor units spent, or months in a row
    target: int


def next_milestones(
    milestones: tuple[Milestone, ...], progress: Progress, month: str
) -> list[Towards]:
    """The milestones the customer can still reach, with their progress; `month` is the
    local month now (a streak without a purchase this month yet still counts last month's)."""
    run = _run(progress.months, month, -1) or _run(progress.months, _shift(month, -1), -1)
    current = {
        "nth_purchase": progress.purchase_count,
        "spend": progress.lifetime_spend,
        "streak_months": run,
    }
    return [
        Towards(m.id, m.kind, current[m.kind], m.target)
        for m in milestones
        if m.id not in progress.reached and current[m.kind] < m.target
    ]


def most_extra(rules: RuleSet) -> tuple[Decimal, int]:
    """The most the growth rules can add to one order: to a line's rate, and in fixed
    bonuses (every milestone reached at once); for the publishing limits."""
    rate = rules.favourite_category.extra_rate if rules.favourite_category else ZERO
    rate += (
        max((each.extra_rate for each in rules.cumulative.steps), default=ZERO)
        if rules.cumulative
        else ZERO
    )
    rate += sum((m.bonus.extra_rate for m in rules.milestones), ZERO)
    return rate, sum(m.bonus.fixed for m in rules.milestones)
