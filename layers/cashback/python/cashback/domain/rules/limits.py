"""What a rule set must fit before it is published, so no version can make purchases fail.

The model (model.py) says what a rule set *is*; these are the limits of what the platform
can *run*, checked once when a version is published (`PUT /v1/rules`, a 422 with the
problem's stable code and field) and not when a stored version is read back, so that a
version published before a limit existed still loads (and the engine copes with it: the
campaign window is clamped, the budget take never exceeds a transaction, the credit is
capped; see plan.py, accrual.py and engine.py).

- Dates: campaign bounds and effective_from lie in [2000-01-01, 2100-01-01). Beyond them,
  date arithmetic (a local wall-clock time of 9999-12-31 is after datetime.max in UTC)
  overflows, and no storefront means them.
- Budgeted campaigns running at once: each one a purchase draws on writes at least one
  budget shard in the purchase's one transaction, which carries at most 100 items, some
  of them taken by the purchase itself (order, lot, entry, account, device and payment
  aggregates). The caller says how many are left for budget shards.
- Credit: one order credits at most MAX_CREDIT ledger units (the bound of a request
  amount; the engine cuts above it). A program whose worst order could credit more than
  a JSON number holds exactly (2^53 - 1) has a nonsensical multiplier and is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from cashback.domain import currencies
from cashback.domain.money import MAX_AMOUNT
from cashback.domain.rules import growth
from cashback.domain.rules.fields import CHANNELS
from cashback.domain.rules.ruleset import Campaign, RuleSet, zone

EARLIEST = datetime(2000, 1, 1)
LATEST = datetime(2100, 1, 1)  # exclusive
MAX_CREDIT = MAX_AMOUNT  # ledger units one order may credit, as a request amount is bounded
MAX_SAFE_INTEGER = 2**53 - 1  # the largest integer every JSON reader holds exactly


@dataclass(frozen=True)
class Problem:
    field: str  # dotted path in the rule set, as validation errors name fields
    code: str  # stable, machine-readable
    message: str


def problems(rules: RuleSet, *, budget_items: int) -> list[Problem]:
    """Everything that keeps `rules` from being published; `budget_items` is how many
    budget shards a purchase's transaction can still carry."""
    found = list(date_problems(rules))
    if not found:  # the overlap needs dates that convert
        found += budget_problems(rules, budget_items)
    found += credit_problems(rules)
    return found


def date_problems(rules: RuleSet) -> Iterable[Problem]:
    bounds = f"between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}"
    # Compare in UTC without converting (converting is what overflows): a moment whose
    # offset pushes it past the range cannot be inside it anyway.
    effective = rules.effective_from
    if not (EARLIEST.replace(tzinfo=UTC) <= effective < LATEST.replace(tzinfo=UTC)):
        yield Problem(
            "effective_from", "date_out_of_range", f"effective_from must be {bounds} (UTC)"
        )
    for i, campaign in enumerate(rules.campaigns):
        for name in ("starts_at", "ends_at"):
            if not EARLIEST <= getattr(campaign, name) < LATEST:
                yield Problem(
                    f"campaigns.{i}.{name}",
                    "date_out_of_range",
                    f"campaign {campaign.id!r}: {name} must be {bounds} (local time)",
                )


def _channels(campaign: Campaign) -> frozenset[str]:
    return frozenset(campaign.channels or CHANNELS)


def most_budgeted_at_once(rules: RuleSet) -> tuple[int, datetime | None, str | None]:
    """The most budgeted campaigns one purchase can draw on (running at one instant in
    one channel), with when and where that happens first. Order minimums and targets are
    ignored: one large order with a line of every category can meet them all."""
    tz = zone(rules.time_zone)
    budgeted = [c for c in rules.campaigns if c.budget]
    best: tuple[int, datetime | None, str | None] = (0, None, None)
    for channel in CHANNELS:
        events: list[tuple[datetime, int]] = []
        for c in budgeted:
            if channel in _channels(c):
                events.append((c.starts_at.replace(tzinfo=tz).astimezone(UTC), 1))
                events.append((c.ends_at.replace(tzinfo=tz).astimezone(UTC), -1))
        running = 0
        for at, step in sorted(events):  # an end (-1) sorts before a start at the same instant
            running += step
            if running > best[0]:
                best = (running, at, channel)
    return best


def budget_problems(rules: RuleSet, budget_items: int) -> Iterable[Problem]:
    most, at, channel = most_budgeted_at_once(rules)
    if most > budget_items:
        yield Problem(
            "campaigns",
            "too_many_budgeted_campaigns",
            f"{most} campaigns with a budget run at once ({channel}, from "
            f"{at:%Y-%m-%dT%H:%M:%SZ}), but a purchase's transaction (at most 100 "
            f"items) can draw on at most {budget_items} budgets: every budget a "
            f"purchase draws on is written with it",
        )


def worst_order_credit(rules: RuleSet) -> Decimal:
    """An upper bound of what one order can credit: the largest order (MAX_AMOUNT) at the
    highest rate any line can get, plus the fixed bonuses, within the caps."""
    factor = Decimal(1)
    if rules.points is not None:  # ledger units per minor unit, as the engine computes it
        factor = rules.points.points_per_currency_unit.scaleb(
            -currencies.MINOR_UNITS[rules.currency]
        )
    campaigns = rules.campaigns
    base = max(
        [
            rules.base_rate,
            *rules.category_rates.values(),
            *(c.rate for c in campaigns if c.stacking == "replace"),
        ]
    )
    extras = sum(
        (
            max((tier.extra_rate for tier in rules.tiers.levels), default=Decimal(0))
            if rules.tiers
            else Decimal(0),
            max((rule.extra_rate for rule in rules.channels.values()), default=Decimal(0)),
            rules.green.extra_rate if rules.green else Decimal(0),
            rules.birthday.extra_rate if rules.birthday else Decimal(0),
            rules.first_purchase.extra_rate if rules.first_purchase else Decimal(0),
            *(c.rate for c in campaigns if c.stacking == "add"),
        ),
        Decimal(0),
    )
    exclusive = max((c.rate for c in campaigns if c.stacking == "exclusive"), default=Decimal(0))
    growth_rate, growth_fixed = growth.most_extra(rules)
    worst = MAX_AMOUNT * factor * max(base + extras + growth_rate, exclusive) + sum(
        bonus.fixed for bonus in (rules.birthday, rules.first_purchase) if bonus
    )
    worst += growth_fixed
    for cap in (rules.caps.per_order, rules.caps.per_customer_month):
        if cap is not None:
            worst = min(worst, Decimal(cap))
    return worst


def credit_problems(rules: RuleSet) -> Iterable[Problem]:
    worst = worst_order_credit(rules)
    if worst > MAX_SAFE_INTEGER:
        field = "points.points_per_currency_unit" if rules.points else "base_rate"
        yield Problem(
            field,
            "credit_out_of_range",
            f"one order could credit {worst:.0f} {rules.unit}, more than "
            f"{MAX_SAFE_INTEGER} (2^53 - 1, what JSON readers hold exactly); "
            f"lower the rates or the points multiplier, or set caps.per_order "
            f"(every order is cut at {MAX_CREDIT} anyway)",
        )
