"""The program's results: what each purchase adds (by month, cohort, group and variant),
and the report read from the totals, to the minor unit."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cashback.domain.reports import results
from cashback.domain.reports.program import Purchase, counters, snapshot


def _purchase(amount: int, before: dict[str, Any], **fields: Any) -> Purchase:
    values: dict[str, Any] = {
        "tenant": "shop",
        "customer_id": "c1",
        "amount": amount,
        "cashback": amount // 20,
        "occurred_at": "2026-03-10T12:00:00Z",
        "month": "2026-03",
        "before": before,
    }
    return Purchase(**{**values, **fields})


FIRST = snapshot(0, "", 0, False, 0, "", {})


def test_a_first_purchase_opens_its_month_cohort_and_counts_an_active_customer() -> None:
    month, cohort = counters(_purchase(10000, FIRST))
    assert month == (
        "MONTH#2026-03",
        {
            "orders.n": 1,
            "orders.amount": 10000,
            "orders.cashback": 500,
            "non_users.orders": 1,
            "non_users.amount": 10000,
            "customers.active": 1,
            "non_users.active": 1,
            "customers.new": 1,
        },
    )
    assert cohort == (
        "COHORT#2026-03",
        {"customers.revenue": 10000, "customers.orders": 1, "customers.new": 1},
    )


def test_a_second_purchase_within_30_days_repeats_for_the_first_purchases_cohort() -> None:
    before = snapshot(1, "2026-02-20T12:00:00Z", 10000, True, 0, "2026-02", {})
    month, cohort = counters(_purchase(5000, before))
    assert month[1]["users.orders"] == 1 and month[1]["customers.active"] == 1
    assert "customers.new" not in month[1]
    assert cohort == (
        "COHORT#2026-02",
        {
            "customers.revenue": 5000,
            "customers.orders": 1,
            "customers.repeat30": 1,
            "customers.repeat90": 1,
        },
    )
    later = _purchase(5000, before, occurred_at="2026-04-30T12:00:00Z", month="2026-04")
    assert counters(later)[1][1] == {
        "customers.revenue": 5000,
        "customers.orders": 1,
        "customers.repeat90": 1,
    }


def test_a_variant_counts_a_customer_once_and_the_squares_of_their_revenue() -> None:
    assigned = ({"id": "launch", "variant": "control", "holdout": True},)
    first = counters(_purchase(3000, FIRST, experiments=assigned))[-1]
    assert first == (
        "EXPERIMENT#launch",
        {
            "control.orders": 1,
            "control.revenue": 3000,
            "control.revenue_sq": 9_000_000,
            "control.cashback": 150,
            "control.customers": 1,
            "control.holdout": 1,
        },
    )
    before = snapshot(1, "2026-03-01T00:00:00Z", 3000, False, 1, "2026-03", {"launch": [1, 3000]})
    second = counters(_purchase(2000, before, experiments=assigned))[-1][1]
    # (3000 + 2000)^2 - 3000^2: the customer's revenue squared moves from 3000 to 5000.
    assert second["control.revenue_sq"] == 16_000_000 and second["control.repeaters"] == 1


@given(
    spends=st.lists(
        st.lists(st.integers(1, 10**7), min_size=1, max_size=5), min_size=2, max_size=30
    )
)
def test_the_variance_from_folded_squares_is_the_customers_variance(
    spends: list[list[int]],
) -> None:
    """Folding purchase by purchase gives each variant's sum and sum of squares of revenue
    per customer exactly, so the interval is the one computed from the customers."""
    totals: Counter[str] = Counter()
    for spend in spends:
        orders = revenue = 0
        for amount in spend:
            before = snapshot(
                orders,
                "2026-03-01T00:00:00Z",
                revenue,
                False,
                0,
                "2026-03",
                {"x": [orders, revenue]},
            )
            purchase = _purchase(amount, before, experiments=({"id": "x", "variant": "a"},))
            totals.update(counters(purchase)[-1][1])
            orders, revenue = orders + 1, revenue + amount
    assert totals["a.customers"] == len(spends)
    assert totals["a.revenue"] == sum(map(sum, spends))
    assert totals["a.revenue_sq"] == sum(sum(spend) ** 2 for spend in spends)


def test_a_variant_against_its_holdout_has_an_interval_and_an_roi() -> None:
    # Holdout: 4 customers spending 100, 200, 300, 400; variant: 4 spending 300..600.
    counted: dict[str, int] = {
        "control.customers": 4,
        "control.holdout": 1,
        "control.orders": 4,
        "control.revenue": 1000,
        "control.revenue_sq": 100**2 + 200**2 + 300**2 + 400**2,
        "control.cashback": 0,
        "cashback.customers": 4,
        "cashback.orders": 6,
        "cashback.revenue": 1800,
        "cashback.revenue_sq": 300**2 + 400**2 + 500**2 + 600**2,
        "cashback.repeaters": 2,
        "cashback.cashback": 90,
    }
    (report,) = results.experiments([("launch", counted)], Decimal("0.30"))
    control, treated = report["variants"]
    assert (control["name"], control["holdout"], control["revenue_per_customer"]) == (
        "control",
        True,
        250,
    )
    assert (treated["revenue_per_customer"], treated["repeat_rate"]) == (450, "0.5000")
    (lift,) = report["against_holdout"]
    # Lift 200 per customer; each group's variance is 16666.67, so the standard error is
    # sqrt(2 * 16666.67 / 4) = 91.29 and the interval 200 +- 1.96 * 91.29.
    assert lift["revenue_per_customer_lift"] == 200
    assert lift["interval_95"] == [21, 379]
    assert lift["significant"] is True and lift["relative_lift"] == "0.8000"
    assert (lift["incremental_revenue"], lift["cashback_cost"]) == (800, 90)
    # (0.30 * 800 - 90) / 90
    assert lift["incremental_gross_margin"] == 240 and lift["roi"] == "1.6667"
    low, high = (float(roi) for roi in lift["roi_interval_95"])
    assert abs(low - (0.30 * 21.08 * 4 - 90) / 90) < 1e-3
    assert abs(high - (0.30 * 378.92 * 4 - 90) / 90) < 1e-3


def test_months_list_every_month_of_the_range_and_cohorts_only_those_with_customers() -> None:
    rows = [
        (
            "2026-02",
            {"orders.n": 4, "orders.amount": 1001, "customers.active": 2, "customers.new": 2},
        )
    ]
    listed = results.months(rows, "2026-01", "2026-03")
    assert [m["month"] for m in listed] == ["2026-01", "2026-02", "2026-03"]
    assert listed[1]["average_ticket"] == 250 and listed[1]["purchase_frequency"] == "2.00"
    assert listed[0]["average_ticket"] is None
    cohort = results.cohorts(
        [("2026-02", {"customers.new": 4, "customers.repeat30": 1, "customers.revenue": 1000})]
    )
    assert cohort == [
        {
            "month": "2026-02",
            "customers": 4,
            "repeat_30d_rate": "0.2500",
            "repeat_90d_rate": "0.0000",
            "orders": 0,
            "revenue": 1000,
            "lifetime_value": 250,
        }
    ]
