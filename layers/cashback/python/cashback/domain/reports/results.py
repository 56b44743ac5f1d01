"""The program's results from its totals: orders, revenue and customers by month; repeat
purchases and lifetime revenue by cohort; cashback users against non-users (biased by
self-selection, and labelled so); and each experiment's variants against its holdout,
with 95% confidence intervals and the ROI the storefront's gross margin implies."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

Z95 = Decimal("1.959963984540054")  # the normal quantile of a two-sided 95% interval
SELF_SELECTION = (
    "Customers who use their cashback are not a random group: they would differ from those "
    "who do not even without the program (self-selection). Compare an experiment's variants "
    "with its holdout to see what the program causes."
)


def _ratio(part: int | Decimal, whole: int | Decimal, places: str = "0.0001") -> str | None:
    if not whole:
        return None
    return str((Decimal(part) / Decimal(whole)).quantize(Decimal(places), ROUND_HALF_EVEN))


def _units(value: Decimal) -> int:
    return int(value.to_integral_value(ROUND_HALF_EVEN))


def months(
    rows: Iterable[tuple[str, Mapping[str, int]]], first: str, last: str
) -> list[dict[str, Any]]:
    """Each month from `first` to `last` (YYYY-MM): orders, revenue, average ticket, active
    and new customers, purchase frequency, cashback credited at purchase."""
    found = {month: counters for month, counters in rows}
    listed = []
    for month in _month_range(first, last):
        c = found.get(month, {})
        orders, revenue, active = (
            c.get("orders.n", 0),
            c.get("orders.amount", 0),
            c.get("customers.active", 0),
        )
        listed.append(
            {
                "month": month,
                "orders": orders,
                "revenue": revenue,
                "average_ticket": _units(Decimal(revenue) / orders) if orders else None,
                "customers": active,
                "new_customers": c.get("customers.new", 0),
                "purchase_frequency": _ratio(orders, active, "0.01"),
                "cashback": c.get("orders.cashback", 0),
            }
        )
    return listed


def _month_range(first: str, last: str) -> Iterable[str]:
    year, month = int(first[:4]), int(first[5:7])
    while f"{year:04d}-{month:02d}" <= last:
        yield f"{year:04d}-{month:02d}"
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def cohorts(rows: Iterable[tuple[str, Mapping[str, int]]]) -> list[dict[str, Any]]:
    """Customers by the month they first bought: repeat-purchase rates at 30 and 90 days
    (a second purchase within that many days of the first) and historical lifetime value
    (their revenue so far, per customer)."""
    listed = []
    for month, c in sorted(rows):
        customers = c.get("customers.new", 0)
        if not customers:
            continue
        revenue = c.get("customers.revenue", 0)
        listed.append(
            {
                "month": month,
                "customers": customers,
                "repeat_30d_rate": _ratio(c.get("customers.repeat30", 0), customers),
                "repeat_90d_rate": _ratio(c.get("customers.repeat90", 0), customers),
                "orders": c.get("customers.orders", 0),
                "revenue": revenue,
                "lifetime_value": _units(Decimal(revenue) / customers),
            }
        )
    return listed


def users_against_non_users(
    month_rows: list[dict[str, Any]], raw: Mapping[str, Mapping[str, int]]
) -> dict[str, Any]:
    """Orders of customers who had used cashback before against those who had not, over the
    months listed (a customer counts as active in the group they were in at their first
    purchase of the month)."""
    groups: dict[str, Any] = {"note": SELF_SELECTION}
    for group in ("users", "non_users"):
        orders = sum(raw.get(m["month"], {}).get(f"{group}.orders", 0) for m in month_rows)
        revenue = sum(raw.get(m["month"], {}).get(f"{group}.amount", 0) for m in month_rows)
        active = sum(raw.get(m["month"], {}).get(f"{group}.active", 0) for m in month_rows)
        groups[group] = {
            "orders": orders,
            "revenue": revenue,
            "active_customer_months": active,
            "average_ticket": _units(Decimal(revenue) / orders) if orders else None,
            "revenue_per_active_customer": _units(Decimal(revenue) / active) if active else None,
        }
    return groups


def _variant(name: str, c: Mapping[str, int]) -> dict[str, Any]:
    customers = c.get(f"{name}.customers", 0)
    revenue = c.get(f"{name}.revenue", 0)
    return {
        "name": name,
        "holdout": bool(c.get(f"{name}.holdout", 0)),
        "customers": customers,
        "orders": c.get(f"{name}.orders", 0),
        "revenue": revenue,
        "revenue_per_customer": _units(Decimal(revenue) / customers) if customers else None,
        "repeat_rate": _ratio(c.get(f"{name}.repeaters", 0), customers),
        "cashback": c.get(f"{name}.cashback", 0),
    }


def _mean_and_variance(c: Mapping[str, int], name: str) -> tuple[Decimal, Decimal, int]:
    n = c.get(f"{name}.customers", 0)
    total, squares = Decimal(c.get(f"{name}.revenue", 0)), Decimal(c.get(f"{name}.revenue_sq", 0))
    if n < 2:
        return (total / n if n else Decimal(0)), Decimal(0), n
    mean = total / n
    return mean, max(Decimal(0), (squares - n * mean * mean) / (n - 1)), n


def _lift(
    c: Mapping[str, int], variant: dict[str, Any], holdout: dict[str, Any], margin: Decimal | None
) -> dict[str, Any]:
    """Revenue per customer of a variant less the holdout's, with a Welch 95% interval,
    and the ROI of its cashback: (incremental gross margin - cashback) / cashback."""
    mean_v, var_v, n_v = _mean_and_variance(c, variant["name"])
    mean_h, var_h, n_h = _mean_and_variance(c, holdout["name"])
    lift = mean_v - mean_h
    error = (var_v / n_v + var_h / n_h).sqrt() if n_v and n_h else Decimal(0)
    low, high = lift - Z95 * error, lift + Z95 * error
    # What the variant's cashback costs beyond the holdout's, scaled to the variant's size
    # (a program's holdout earns nothing; a campaign's still earns the program).
    cost = Decimal(variant["cashback"]) - Decimal(holdout["cashback"]) * n_v / n_h
    compared: dict[str, Any] = {
        "variant": variant["name"],
        "against": holdout["name"],
        "revenue_per_customer_lift": _units(lift),
        "interval_95": [_units(low), _units(high)],
        "relative_lift": _ratio(lift, mean_h),
        "significant": bool(error) and (low > 0 or high < 0),
        "incremental_revenue": _units(lift * n_v),
        "cashback_cost": _units(cost),
        "roi": None,
        "roi_interval_95": None,
    }
    if margin is not None and cost > 0:

        def roi(per_customer: Decimal) -> str | None:
            return _ratio(margin * per_customer * n_v - cost, cost)

        compared["incremental_gross_margin"] = _units(margin * lift * n_v)
        compared["roi"] = roi(lift)
        compared["roi_interval_95"] = [roi(low), roi(high)]
    return compared


def experiments(
    rows: Iterable[tuple[str, Mapping[str, int]]], margin: Decimal | None
) -> list[dict[str, Any]]:
    """Each experiment's variants, and each variant against the holdout."""
    listed = []
    for experiment, c in sorted(rows):
        names = sorted({key.split(".", 1)[0] for key in c})
        variants = sorted((_variant(name, c) for name in names), key=lambda v: not v["holdout"])
        holdouts = [v for v in variants if v["holdout"]]
        compared = (
            [_lift(c, v, holdouts[0], margin) for v in variants if not v["holdout"]]
            if holdouts and holdouts[0]["customers"]
            else []
        )
        listed.append({"id": experiment, "variants": variants, "against_holdout": compared})
    return listed
