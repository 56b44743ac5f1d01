"""A customer's progress on their account, as the growth rules read it (issue 12): how a
purchase counts and a refund nets it, trimmed so the account item stays small.

A counted purchase adds one purchase, its amount to the lifetime spend and to each of its
categories on its day (UTC, like the tiers' spend), and its local month; it records the
milestones it reached. A refund takes its amount off the lifetime spend and off the
categories it gives back on the purchase's day; it never un-reaches a milestone, nor
takes a purchase or a month away. Spend per category is kept for the longest window a
rule may read (MAX_FAVOURITE_WINDOW_DAYS), and at most MAX_CATEGORY_ENTRIES day and
category pairs (the oldest days go first); months for the longest streak.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from cashback.domain.clock import to_iso
from cashback.domain.ledger.accounts import Account
from cashback.domain.rules import growth
from cashback.domain.rules.growth_rules import MAX_FAVOURITE_WINDOW_DAYS, MAX_STREAK_MONTHS
from cashback.domain.rules.lines import allocate

MAX_CATEGORY_ENTRIES = 1000


def of(account: Account) -> growth.Progress:
    """What the growth rules read of the account."""
    return growth.Progress(
        purchase_count=account.purchase_count,
        lifetime_spend=account.lifetime_spend,
        category_days=account.category_days,
        months=account.purchase_months,
        reached=account.milestones,
    )


def _trimmed_days(days: dict[str, dict[str, int]], keep_from: str) -> dict[str, dict[str, int]]:
    kept = {day: spend for day, spend in days.items() if day >= keep_from}
    entries = sum(len(spend) for spend in kept.values())
    for day in sorted(kept)[:-1]:  # the newest day always stays
        if entries <= MAX_CATEGORY_ENTRIES:
            break
        entries -= len(kept.pop(day))
    return kept


def count_in_experiments(account: Account, experiments: tuple[str, ...], amount: int) -> Account:
    """The account once a purchase of `amount` counts in each experiment it ran under."""
    if not experiments:
        return account
    counted = {name: list(values) for name, values in account.experiments.items()}
    for name in experiments:
        orders, revenue = counted.get(name, [0, 0])
        counted[name] = [orders + 1, revenue + amount]
    return replace(account, experiments=counted)


def count_purchase(
    account: Account,
    *,
    occurred_at: datetime,
    amount: int,
    month: str,
    categories: Mapping[str, int],
    reached: tuple[str, ...] = (),
) -> Account:
    """The account once a purchase of `amount` (by category, `categories`) in local
    `month` counts, with the milestones it `reached` recorded at its time."""
    at = to_iso(occurred_at)
    day = at[:10]
    days = {d: dict(spend) for d, spend in account.category_days.items()}
    today = days.setdefault(day, {})
    for category, spend in categories.items():
        today[category] = today.get(category, 0) + spend
    keep_from = to_iso(occurred_at - timedelta(days=MAX_FAVOURITE_WINDOW_DAYS + 1))[:10]
    months = {**account.purchase_months, month: account.purchase_months.get(month, 0) + 1}
    oldest = sorted(months)[-(MAX_STREAK_MONTHS + 1) :][0]
    first = min(account.first_purchase_at, at) if account.first_purchase_at else at
    return replace(
        account,
        purchase_count=account.purchase_count + 1,
        lifetime_spend=account.lifetime_spend + amount,
        first_purchase_at=first,
        category_days=_trimmed_days(days, keep_from),
        purchase_months={m: n for m, n in months.items() if m >= oldest},
        milestones={**account.milestones, **dict.fromkeys(reached, at)},
    )


def net_refund(
    account: Account, *, day: str, amount: int, categories: Mapping[str, int]
) -> Account:
    """The account once `amount` of a purchase made on `day` came back (by category,
    `categories`); nothing goes below zero."""
    days = dict(account.category_days)
    if day in days:
        spend = {c: max(0, v - categories.get(c, 0)) for c, v in days[day].items()}
        days[day] = {c: v for c, v in spend.items() if v}
        if not days[day]:
            del days[day]
    return replace(
        account,
        lifetime_spend=max(0, account.lifetime_spend - amount),
        category_days=days,
    )


def refunded_by_category(
    amount: int,
    named: Mapping[str, int] | None,
    lines: Mapping[str, list[int]],
    categories: Mapping[str, str],
) -> dict[str, int]:
    """What a refund of `amount` gives back per category: the lines it names (SKU ->
    amount), or else in proportion to what each SKU's line has left (`lines`: the order's
    [amount, cashback, refunded] per SKU before the refund)."""
    if named is not None:
        by_sku = dict(named)
    else:
        skus = sorted(sku for sku in lines if sku in categories)
        left = [max(0, lines[sku][0] - lines[sku][2]) for sku in skus]
        by_sku = dict(zip(skus, allocate(amount, left), strict=True)) if sum(left) else {}
    found: dict[str, int] = {}
    for sku, value in by_sku.items():
        category = categories.get(sku)
        if category is not None:
            found[category] = found.get(category, 0) + value
    return found
