"""The growth rules at a purchase and a refund (issue 12): what the engine reads off the
account, how the purchase or refund moves the customer's progress, and the
`milestone.reached` notice the purchase writes in its own transaction.

The account is read in the purchase's transaction (its sequence is the commit's
condition), so a retry sees the same progress: nothing here needs the request's
fingerprint. A blocked purchase counts for nothing and reaches nothing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from cashback.domain import ledger
from cashback.domain.clock import to_iso
from cashback.domain.ledger import Notice, progress
from cashback.domain.orders import NewPurchase, NewRefund, Order
from cashback.domain.reports import program as program_results
from cashback.domain.rules import deadlines, growth, ruleset
from cashback.domain.rules.evaluation import Evaluation
from cashback.domain.rules.inputs import Context
from cashback.domain.rules.ruleset import RuleSet

# What a purchase that reaches milestones adds to its transaction: one notice item.
NOTICE_ITEMS = 1


def local_month(request: NewPurchase, rules: RuleSet | None) -> str:
    """The purchase's month in the program's zone (UTC without a program)."""
    if rules is None:
        return to_iso(request.occurred_at)[:7]
    return deadlines.month_key(request.occurred_at, ruleset.zone(rules.time_zone))


def with_progress(
    context: Context, account: ledger.Account, request: NewPurchase, rules: RuleSet
) -> Context:
    """The engine's context with the customer's favourite category, lifetime spend and
    the milestones this purchase reaches, all as of before it."""
    seen = progress.of(account)
    window = rules.favourite_category.window_days if rules.favourite_category else 0
    after_day = to_iso(request.occurred_at - timedelta(days=window))[:10]
    return replace(
        context,
        favourite_category=growth.favourite(
            rules.favourite_category, seen, after_day=after_day, excluded=rules.excluded_categories
        ),
        lifetime_spend=account.lifetime_spend,
        milestones=growth.reached(
            rules.milestones,
            seen,
            amount=request.amount,
            month=local_month(request, rules),
        ),
    )


def categories(request: NewPurchase) -> dict[str, str]:
    """Each SKU's category (the first line of a SKU names it), kept on the order."""
    found: dict[str, str] = {}
    for line in request.lines:
        found.setdefault(line.sku, line.category)
    return found


def month_of(at: datetime, rules: RuleSet | None) -> str:
    """A moment's month in the program's zone (UTC without a program)."""
    if rules is None:
        return to_iso(at)[:7]
    return deadlines.month_key(at, ruleset.zone(rules.time_zone))


def snapshot(
    account: ledger.Account, request: NewPurchase, rules: RuleSet | None, action: str
) -> dict[str, Any] | None:
    """The customer as the purchase found them, for the program report (None for a blocked
    purchase: it counts as an order, never as a customer's progress)."""
    if action == "block":
        return None
    month = local_month(request, rules)
    first = account.first_purchase_at
    values = account.values
    return {
        **program_results.snapshot(
            purchases=account.purchase_count,
            first_at=first,
            spend=account.lifetime_spend,
            used=bool(values["spent"] or values["paid_out"]),
            month_purchases=account.purchase_months.get(month, 0),
            cohort=month_of(datetime.fromisoformat(first), rules) if first else month,
            experiments=account.experiments,
        ),
        "month": month,
    }


def count(
    account: ledger.Account,
    request: NewPurchase,
    milestones: tuple[str, ...],
    rules: RuleSet | None,
    action: ledger.RiskAction,
) -> ledger.Account:
    """The account with the purchase counted (not when blocked)."""
    if action == "block":
        return account
    spend: dict[str, int] = {}
    for line in request.lines:
        spend[line.category] = spend.get(line.category, 0) + line.amount
    return progress.count_purchase(
        account,
        occurred_at=request.occurred_at,
        amount=request.amount,
        month=local_month(request, rules),
        categories=spend,
        reached=milestones,
    )


def _bonus(evaluation: Evaluation | None) -> int:
    """What the milestones' bonuses added to the order, before cuts, rounded down."""
    if evaluation is None:
        return 0
    items = [item for line in evaluation.lines for item in line.items]
    items += evaluation.order_items
    value = sum((item.value for item in items if item.kind == "milestone"), Decimal(0))
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def notices(
    tenant: str,
    request: NewPurchase,
    milestones: tuple[str, ...],
    evaluation: Evaluation | None,
    action: ledger.RiskAction,
) -> tuple[Notice, ...]:
    """The purchase's `milestone.reached` notice (none when blocked or nothing reached)."""
    if action == "block" or not milestones:
        return ()
    notice = Notice(
        "milestone.reached",
        tenant,
        request.customer_id,
        request.order_id,
        _bonus(evaluation),
        to_iso(request.occurred_at),
        milestones,
    )
    return (notice,)


def after_refund(account: ledger.Account, order: Order, refund: NewRefund) -> ledger.Account:
    """The account once the refund nets the order's spend (an order the progress never
    counted, recorded before it or blocked, nets nothing)."""
    if order.categories is None or order.status == "blocked":
        return account
    named: dict[str, int] | None = None
    if refund.lines is not None and order.lines is not None:
        named = {}
        for line in refund.lines:
            named[line.sku] = named.get(line.sku, 0) + line.amount
    by_category = progress.refunded_by_category(
        refund.amount, named, order.lines or {}, order.categories
    )
    day = order.occurred_at[:10]
    return progress.net_refund(account, day=day, amount=refund.amount, categories=by_category)


def reached_at(account: ledger.Account) -> list[tuple[str, str]]:
    """The milestones the customer reached, earliest first."""
    return sorted(account.milestones.items(), key=lambda item: (item[1], item[0]))


def towards(account: ledger.Account, rules: RuleSet | None, now: datetime) -> list[growth.Towards]:
    """The program's milestones the customer can still reach, with their progress."""
    if rules is None or not rules.milestones:
        return []
    month = deadlines.month_key(now, ruleset.zone(rules.time_zone))
    return growth.next_milestones(rules.milestones, progress.of(account), month)
