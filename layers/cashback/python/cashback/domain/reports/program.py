"""What one purchase adds to the program's results: orders, revenue and cashback by month;
new customers, repeat purchases and lifetime revenue by the month customers first bought
(their cohort); orders of customers who had used their cashback against those who had not;
and each experiment variant's customers and revenue (with its sum of squares, for a
confidence interval).

The purchase's ORDER item carries `customer_before`, the customer as the purchase found
them (see `snapshot`), so a purchase's record alone says what it changed: no other read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

MONTH = "MONTH#"
EXPERIMENT = "EXPERIMENT#"
REPEAT_WINDOWS = (30, 90)


@dataclass(frozen=True)
class Purchase:
    """The parts of a recorded purchase the program's results read."""

    tenant: str
    customer_id: str
    amount: int
    cashback: int
    occurred_at: str
    month: str  # the storefront's local month of the purchase (YYYY-MM)
    before: dict[str, Any]  # the customer before it (snapshot)
    experiments: tuple[dict[str, Any], ...] = ()


def snapshot(
    purchases: int,
    first_at: str,
    spend: int,
    used: bool,
    month_purchases: int,
    cohort: str,
    experiments: dict[str, list[int]],
) -> dict[str, Any]:
    """The customer as a purchase found them: purchases counted before it, the first one's
    time and local month (its cohort; "" before any), lifetime spend, whether they had
    spent or cashed out cashback, purchases in this local month before it, and for each
    experiment they are in, their orders and revenue in it so far."""
    return {
        "purchases": purchases,
        "first_at": first_at,
        "cohort": cohort,
        "spend": spend,
        "used": used,
        "month_purchases": month_purchases,
        "experiments": experiments,
    }


def _within(first_at: str, at: str, days: int) -> bool:
    start = datetime.fromisoformat(first_at.replace("Z", "+00:00"))
    return datetime.fromisoformat(at.replace("Z", "+00:00")) - start <= timedelta(days=days)


def counters(purchase: Purchase) -> list[tuple[str, dict[str, int]]]:
    """The report items one purchase adds to, with what it adds."""
    before = purchase.before
    if not before:  # recorded before purchases kept the customer's snapshot
        return [
            (
                MONTH + purchase.month,
                {
                    "orders.n": 1,
                    "orders.amount": purchase.amount,
                    "orders.cashback": purchase.cashback,
                },
            )
        ]
    first = before.get("purchases", 0) == 0
    cohort = purchase.month if first else before.get("cohort") or purchase.month
    group = "users" if before.get("used") else "non_users"
    month = {
        "orders.n": 1,
        "orders.amount": purchase.amount,
        "orders.cashback": purchase.cashback,
        f"{group}.orders": 1,
        f"{group}.amount": purchase.amount,
    }
    if before.get("month_purchases", 0) == 0:
        month["customers.active"] = 1
        month[f"{group}.active"] = 1
    if first:
        month["customers.new"] = 1
    people = {"customers.revenue": purchase.amount, "customers.orders": 1}
    if first:
        people["customers.new"] = 1
    elif before.get("purchases") == 1 and before.get("first_at"):
        for days in REPEAT_WINDOWS:
            if _within(before["first_at"], purchase.occurred_at, days):
                people[f"customers.repeat{days}"] = 1
    items = [(MONTH + purchase.month, month), ("COHORT#" + cohort, people)]
    for assigned in purchase.experiments:
        items.append(_variant(purchase, assigned))
    return items


def _variant(purchase: Purchase, assigned: dict[str, Any]) -> tuple[str, dict[str, int]]:
    """A variant's customers (counted at their first purchase in the experiment), orders,
    revenue and its sum of squares per customer, repeaters and cashback."""
    orders, revenue = purchase.before.get("experiments", {}).get(assigned["id"], [0, 0])
    variant = assigned["variant"]
    added = {
        f"{variant}.orders": 1,
        f"{variant}.revenue": purchase.amount,
        f"{variant}.revenue_sq": (revenue + purchase.amount) ** 2 - revenue**2,
        f"{variant}.cashback": purchase.cashback,
    }
    if orders == 0:
        added[f"{variant}.customers"] = 1
        if assigned.get("holdout"):
            added[f"{variant}.holdout"] = 1
    elif orders == 1:
        added[f"{variant}.repeaters"] = 1
    return EXPERIMENT + assigned["id"], added
