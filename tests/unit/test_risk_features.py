"""Risk features: bounded aggregates, pure updates, no peeking at the future."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashback.domain.risk.aggregates import (
    MAX_IDENTITY_CUSTOMERS,
    RECENT_ORDERS,
    CustomerAggregates,
    IdentityAggregates,
    PurchaseFacts,
    RedemptionFacts,
    RefundFacts,
    SharedCounts,
    note_identity,
    note_purchase,
    note_redemption,
    note_refund,
    shared_counts,
)
from cashback.domain.risk.features import FEATURE_NAMES, feature_dict, features, refund_history

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOBODY = SharedCounts()
WINDOW = timedelta(days=14)


def purchase(
    order_id: str,
    at: datetime,
    amount: int = 10_000,
    cashback: int = 500,
    customer: str = "c1",
    device: str | None = None,
) -> PurchaseFacts:
    return PurchaseFacts(
        order_id=order_id,
        customer_id=customer,
        amount=amount,
        cashback=cashback,
        occurred_at=at,
        spendable_at=at + WINDOW,
        device_id=device,
    )


def history(*orders: tuple[str, datetime, int]) -> CustomerAggregates:
    aggregates = CustomerAggregates("c1")
    for order_id, at, amount in orders:
        aggregates = note_purchase(aggregates, purchase(order_id, at, amount))
    return aggregates


def named(
    aggregates: CustomerAggregates,
    order: PurchaseFacts,
    now: datetime,
    shared: SharedCounts = NOBODY,
) -> dict[str, float]:
    return feature_dict(features(aggregates, order, now, shared))


def test_first_purchase_has_neutral_history_and_its_own_cashback_rate() -> None:
    values = named(CustomerAggregates("c1"), purchase("o1", T0, 10_000, 1_500), T0)
    assert list(values) == list(FEATURE_NAMES)
    assert values["cashback_rate"] == pytest.approx(0.15)
    assert all(v == 0.0 for k, v in values.items() if k != "cashback_rate")


def test_order_amount_is_compared_with_the_customers_own_median() -> None:
    aggregates = history(
        ("o1", T0, 10_000),
        ("o2", T0 + timedelta(days=1), 20_000),
        ("o3", T0 + timedelta(days=2), 30_000),
    )
    now = T0 + timedelta(days=3)
    values = named(aggregates, purchase("o4", now, 80_000), now)
    assert values["amount_vs_median_log2"] == pytest.approx(2.0)  # 4x the median of 20,000


def test_velocity_counts_only_previous_orders_inside_each_window() -> None:
    now = T0 + timedelta(days=40)
    aggregates = history(
        ("old", T0, 5_000),
        ("month", now - timedelta(days=20), 5_000),
        ("today1", now - timedelta(hours=3), 5_000),
        ("today2", now - timedelta(hours=1), 5_000),
    )
    values = named(aggregates, purchase("new", now), now)
    assert values["orders_24h_log1p"] == pytest.approx(math.log1p(2))
    assert values["orders_30d_log1p"] == pytest.approx(math.log1p(3))
    assert values["account_age_days_log1p"] == pytest.approx(math.log1p(40))
    assert values["orders_per_active_day_log1p"] == pytest.approx(math.log1p(3 / 30))


def test_a_burst_on_a_fresh_account_has_a_high_order_rate() -> None:
    aggregates = history(*((f"o{i}", T0 + timedelta(minutes=10 * i), 5_000) for i in range(6)))
    now = T0 + timedelta(hours=1, minutes=5)
    values = named(aggregates, purchase("o7", now), now)
    assert values["orders_per_active_day_log1p"] == pytest.approx(math.log1p(6))


def test_refund_history_counts_quick_and_late_refunds_and_spent_cashback() -> None:
    aggregates = history(
        ("o1", T0, 10_000), ("o2", T0, 10_000), ("o3", T0, 10_000), ("o4", T0, 10_000)
    )
    aggregates = note_refund(
        aggregates, RefundFacts("o1", 10_000, T0 + timedelta(days=1), clawed_back=500)
    )
    aggregates = note_refund(
        aggregates, RefundFacts("o2", 5_000, T0 + timedelta(days=15), clawed_back=250, debt=250)
    )
    now = T0 + timedelta(days=20)
    h = refund_history(aggregates, now)
    assert (h.orders, h.refunded_orders, h.quick_refunds, h.after_spendable) == (4, 2, 1, 1)
    values = named(aggregates, purchase("o5", now), now)
    assert values["refunded_share_90d"] == pytest.approx(15_000 / 40_000)
    assert values["spent_then_refunded_share_90d"] == pytest.approx(250 / 2_000)
    assert values["quick_refunds_90d_log1p"] == pytest.approx(math.log1p(1))
    assert values["refunds_after_spendable_90d_log1p"] == pytest.approx(math.log1p(1))


def test_features_never_see_events_after_now() -> None:
    aggregates = note_refund(
        history(("o1", T0, 10_000)), RefundFacts("o1", 10_000, T0 + timedelta(days=5))
    )
    earlier = T0 + timedelta(days=2)
    values = named(aggregates, purchase("o2", earlier), earlier)
    assert values["refunded_orders_90d_log1p"] == 0.0


def test_orders_older_than_90_days_leave_the_refund_window() -> None:
    aggregates = note_refund(
        history(("o1", T0, 10_000)), RefundFacts("o1", 10_000, T0 + timedelta(days=1))
    )
    later = T0 + timedelta(days=91)
    assert named(aggregates, purchase("o2", later), later)["refunded_share_90d"] == 0.0


def test_noting_the_same_order_twice_changes_nothing() -> None:
    once = history(("o1", T0, 10_000))
    assert note_purchase(once, purchase("o1", T0, 10_000)) == once


def test_recent_orders_stay_bounded_and_lifetime_totals_keep_counting() -> None:
    aggregates = history(*((f"o{i}", T0 + timedelta(hours=i), 1_000) for i in range(100)))
    assert len(aggregates.recent) == RECENT_ORDERS
    assert aggregates.recent[0].order_id == f"o{100 - RECENT_ORDERS}"
    assert (aggregates.orders, aggregates.ordered) == (100, 100_000)
    evicted = note_refund(aggregates, RefundFacts("o0", 1_000, T0 + timedelta(days=5)))
    assert (evicted.refunds, evicted.refunded) == (1, 1_000)
    assert evicted.recent == aggregates.recent


def test_redemptions_are_counted() -> None:
    aggregates = note_redemption(CustomerAggregates("c1"), RedemptionFacts(700, T0))
    assert (aggregates.redemptions, aggregates.redeemed) == (1, 700)
    assert aggregates.last_redeemed_at == int(T0.timestamp())


def test_shared_counts_exclude_the_customer_and_saturate() -> None:
    device = IdentityAggregates("device", "d1")
    for i in range(MAX_IDENTITY_CUSTOMERS + 10):
        device = note_identity(device, f"c{i}", T0)
    device = note_identity(device, "c0", T0)
    assert len(device.customers) == MAX_IDENTITY_CUSTOMERS + 1
    # Saturated: a customer among those kept and one who is not both see the cap.
    assert shared_counts("c0", device, None) == SharedCounts(MAX_IDENTITY_CUSTOMERS, 0)
    assert shared_counts("c40", device, None) == SharedCounts(MAX_IDENTITY_CUSTOMERS, 0)
    few = IdentityAggregates("device", "d2", customers=("a", "b", "c"))
    assert shared_counts("a", few, None) == SharedCounts(2, 0)
    payment = note_identity(IdentityAggregates("payment", "p1"), "late", T0)
    assert shared_counts("late", device, payment).most == MAX_IDENTITY_CUSTOMERS
    assert shared_counts("late", None, payment) == SharedCounts(0, 0)


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        note_purchase(CustomerAggregates("c1"), purchase("o1", datetime(2026, 3, 1)))


def _plain(value: object) -> bool:
    """Only ints, strings, lists and dicts of them: nothing the table would need as a float."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return isinstance(value, int | str) and not isinstance(value, bool)


events = st.lists(
    st.tuples(
        st.sampled_from(["purchase", "refund", "redemption"]),
        st.integers(0, 200 * 24),  # hours after T0
        st.integers(1, 10**9),  # minor units
        st.integers(0, 40),
    ),
    max_size=80,
)


@settings(max_examples=60, deadline=None)
@given(events)
def test_any_history_gives_finite_features_and_round_trips_through_items(
    history_events: list[tuple[str, int, int, int]],
) -> None:
    aggregates = CustomerAggregates("c1")
    identity = IdentityAggregates("device", "d1")
    for kind, hours, amount, order in sorted(history_events, key=lambda e: e[1]):
        at = T0 + timedelta(hours=hours)
        if kind == "purchase":
            aggregates = note_purchase(aggregates, purchase(f"o{order}", at, amount, amount // 10))
            identity = note_identity(identity, f"c{order % 5}", at)
        elif kind == "refund":
            aggregates = note_refund(
                aggregates, RefundFacts(f"o{order}", amount, at, amount // 10, amount // 20)
            )
        else:
            aggregates = note_redemption(aggregates, RedemptionFacts(amount, at))
    item = aggregates.to_item()
    assert _plain(item) and _plain(identity.to_item())
    assert CustomerAggregates.from_item(item) == aggregates
    assert IdentityAggregates.from_item(identity.to_item()) == identity
    now = T0 + timedelta(days=201)
    row = features(aggregates, purchase("next", now), now, shared_counts("c1", identity))
    assert len(row) == len(FEATURE_NAMES)
    assert all(math.isfinite(v) for v in row)
