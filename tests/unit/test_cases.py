"""Cases as the domain sees them: their state, claims (expiry, take-over), the team's
stats; and the cursors of the three case indexes (only ones the API returned work)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cashback.adapters.dynamodb.cases import case_keys, cursor_of, key_of
from cashback.domain.cases import check_claim, claim, queue_stats, state_of
from cashback.domain.clock import to_iso
from cashback.domain.errors import BadRequest, Conflict
from cashback.domain.orders import Order

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _order(**fields: Any) -> Order:
    base = Order(
        tenant="acme",
        order_id="ord-1",
        customer_id="cust-1",
        amount=25990,
        currency="BRL",
        cashback=1299,
        refunded=0,
        lot_sk=None,
        occurred_at="2026-11-30T11:00:00Z",
        request_hash="h",
        reply="{}",
        status_code=201,
        status="held",
        risk={"score": "0.812345"},
        case_status="open",
    )
    return replace(base, **fields)


def test_a_case_is_open_decided_or_closed_by_a_refund() -> None:
    assert state_of(_order()) == "open"
    assert state_of(_order(case_status="closed", decision={"decision": "approve"})) == "approved"
    assert state_of(_order(case_status="closed", decision={"decision": "reject"})) == "rejected"
    assert state_of(_order(case_status="closed")) == "refunded"
    assert state_of(_order(case_status=None)) is None


def test_a_claim_lasts_thirty_minutes_and_is_the_claimants() -> None:
    made = claim(_order(), "alice", NOW, take_over=False, reason="")
    assert (made.by, made.until, made.taken_from) == ("alice", "2026-11-30T12:30:00Z", None)
    held = _order(claim=made.to_item())
    with pytest.raises(Conflict) as refused:
        claim(held, "bob", NOW + timedelta(minutes=29), take_over=False, reason="")
    assert refused.value.code == "case_claimed"
    assert refused.value.details == {"by": "alice", "until": "2026-11-30T12:30:00Z"}
    with pytest.raises(Conflict):
        check_claim(held, "bob", NOW)
    check_claim(held, "alice", NOW)  # the claimant decides
    # Claiming again extends; once it has lapsed anyone may claim or decide.
    assert (
        claim(held, "alice", NOW + timedelta(minutes=10), False, "").until == "2026-11-30T12:40:00Z"
    )
    later = NOW + timedelta(minutes=30)
    check_claim(held, "bob", later)
    assert claim(held, "bob", later, False, "").taken_from is None


def test_a_take_over_names_whom_it_was_taken_from_and_why() -> None:
    held = _order(claim=claim(_order(), "alice", NOW, False, "").to_item())
    taken = claim(held, "bob", NOW, take_over=True, reason="alice is out")
    assert (taken.by, taken.taken_from, taken.reason) == ("bob", "alice", "alice is out")
    with pytest.raises(Conflict) as closed:
        claim(_order(case_status="closed"), "bob", NOW, take_over=True, reason="x")
    assert closed.value.code == "case_closed"


def test_stats_count_the_queue_and_each_analysts_decisions() -> None:
    opened = [
        {
            "occurred_at": "2026-11-30T10:00:00Z",
            "claim": {"by": "a", "until": to_iso(NOW + timedelta(minutes=1)), "at": "x"},
        },
        {
            "occurred_at": "2026-11-30T09:00:00Z",
            "claim": {"by": "b", "until": to_iso(NOW), "at": "x"},
        },
        {"occurred_at": "2026-11-30T11:00:00Z"},
    ]
    decided = [
        {"by": "a", "decision": "approve"},
        {"by": "b", "decision": "reject"},
        {"by": "a", "decision": "approve"},
    ]
    stats = queue_stats(opened, decided, NOW, 30)
    assert (stats.open, stats.claimed, stats.oldest_open_at) == (3, 1, "2026-11-30T09:00:00Z")
    assert stats.oldest_age_seconds == 3 * 3600
    assert (stats.decided, stats.approved, stats.rejected) == (3, 2, 1)
    assert str(stats.approval_rate) == "0.6667"
    assert [(t.analyst, t.approved, t.rejected) for t in stats.by_analyst] == [
        ("a", 2, 0),
        ("b", 0, 1),
    ]
    empty = queue_stats([], [], NOW, 30)
    assert (empty.approval_rate, empty.oldest_open_at, empty.oldest_age_seconds) == (
        None,
        None,
        None,
    )


def _index_key(order: Order, sort: str) -> dict[str, Any]:
    attribute = {"risk": "queue_sk", "age": "age_sk", "amount": "amount_sk"}[sort]
    keys = case_keys(order)
    plain = {
        "pk": f"ORDER#acme#{order.order_id}",
        "sk": "ORDER",
        "queue_pk": keys["queue_pk"],
        attribute: keys[attribute],
    }
    return {name: {"S": value} for name, value in plain.items()}


@given(
    score=st.floats(min_value=0, max_value=1),
    amount=st.integers(min_value=1, max_value=10**12),
    sort=st.sampled_from(["risk", "age", "amount"]),
)
def test_a_cursor_names_its_position_in_its_sort_and_state_only(
    score: float, amount: int, sort: str
) -> None:
    order = _order(risk={"score": f"{score:.6f}"}, amount=amount)
    key = _index_key(order, sort)
    cursor = cursor_of(key)
    assert cursor is not None
    assert key_of(cursor, "acme", "open", sort) == key  # type: ignore[arg-type]
    for tenant, state, other in (("globex", "open", sort), ("acme", "approved", sort)):
        with pytest.raises(BadRequest):
            key_of(cursor, tenant, state, other)  # type: ignore[arg-type]
    for other in {"risk", "age", "amount"} - {sort}:
        with pytest.raises(BadRequest):
            key_of(cursor, "acme", "open", other)  # type: ignore[arg-type]


def test_the_three_orders_are_riskiest_oldest_and_largest_first() -> None:
    low, high = _order(risk={"score": "0.2"}), _order(order_id="ord-2", risk={"score": "0.9"})
    assert case_keys(high)["queue_sk"] < case_keys(low)["queue_sk"]
    old, new = _order(occurred_at="2026-11-29T10:00:00Z"), _order(order_id="ord-2")
    assert case_keys(old)["age_sk"] < case_keys(new)["age_sk"]
    small, large = _order(amount=100), _order(order_id="ord-2", amount=100_000)
    assert case_keys(large)["amount_sk"] < case_keys(small)["amount_sk"]
    assert case_keys(_order(case_status=None)) == {}
