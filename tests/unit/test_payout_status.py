"""The payout status machine (issue 10): every pair of statuses, the codes of the refusals,
the return window, the money each transition moves, and a property over any sequence of
events: money is conserved and comes back to `available` at most once per payout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import product

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cashback.domain.errors import Conflict
from cashback.domain.ledger.accounts import FIELDS
from cashback.domain.payouts.status import (
    MOVEMENTS,
    STATUSES,
    PayoutStatus,
    Transition,
    transition,
)

PAID_AT = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
AMOUNT = 2500

# Every move the machine makes (current, target); every other pair is a replay or refused.
MOVES = {
    (None, "requested"),
    ("requested", "submitted"),
    ("requested", "canceled"),
    ("submitted", "paid"),
    ("submitted", "failed"),
    ("paid", "returned"),
}
# Replays: the status itself, or one the payout passed on its way there.
REPLAYS = {
    ("requested", "requested"),
    ("submitted", "submitted"),
    ("submitted", "requested"),
    ("paid", "paid"),
    ("paid", "submitted"),
    ("paid", "requested"),
    ("failed", "failed"),
    ("failed", "submitted"),
    ("failed", "requested"),
    ("canceled", "canceled"),
    ("canceled", "requested"),
    ("returned", "returned"),
    ("returned", "paid"),
    ("returned", "submitted"),
    ("returned", "requested"),
}
CURRENTS: list[PayoutStatus | None] = [None, *STATUSES]
PAIRS = list(product(CURRENTS, STATUSES))


def move(current: PayoutStatus | None, target: PayoutStatus) -> Transition:
    return transition(current, target, paid_at=PAID_AT, now=PAID_AT + timedelta(days=1))


@pytest.mark.parametrize(("current", "target"), sorted(MOVES, key=str))
def test_each_transition_of_the_machine_moves(
    current: PayoutStatus | None, target: PayoutStatus
) -> None:
    moved = move(current, target)
    assert moved == Transition(current, target, moved=True)
    assert moved.event_type == f"payout.{target}"


@pytest.mark.parametrize(("current", "target"), sorted(REPLAYS))
def test_a_status_already_reached_or_passed_is_a_harmless_replay(
    current: PayoutStatus, target: PayoutStatus
) -> None:
    replay = move(current, target)
    assert replay == Transition(current, current, moved=False)
    assert replay.deltas(AMOUNT) == {}
    assert replay.movement is None
    assert replay.event_type is None
    assert not replay.gives_back


@pytest.mark.parametrize(
    ("current", "target"),
    [pair for pair in PAIRS if pair not in MOVES | REPLAYS and pair[1] != "canceled"],
)
def test_every_other_transition_is_refused_as_invalid(
    current: PayoutStatus | None, target: PayoutStatus
) -> None:
    with pytest.raises(Conflict) as refused:
        move(current, target)
    assert refused.value.code == "payout_transition_invalid"
    assert refused.value.details["status"] == current
    assert refused.value.details["target"] == target


def test_the_invalid_refusal_names_where_the_payout_may_go() -> None:
    with pytest.raises(Conflict) as refused:
        move("failed", "paid")
    assert refused.value.message == "a payout cannot go from failed to paid"
    assert refused.value.details == {"status": "failed", "target": "paid", "allowed": []}
    with pytest.raises(Conflict) as refused:
        move("requested", "paid")
    assert refused.value.details["allowed"] == ["canceled", "submitted"]


@pytest.mark.parametrize("current", [None, "submitted", "paid", "failed", "returned"])
def test_only_a_requested_payout_can_be_canceled(current: PayoutStatus | None) -> None:
    with pytest.raises(Conflict) as refused:
        move(current, "canceled")
    expected = "payout_transition_invalid" if current is None else "payout_not_cancelable"
    assert refused.value.code == expected


def test_a_submitted_payout_is_not_cancelable_and_says_why() -> None:
    with pytest.raises(Conflict) as refused:
        move("submitted", "canceled")
    assert refused.value.code == "payout_not_cancelable"
    assert refused.value.details == {"status": "submitted"}


@pytest.mark.parametrize(
    ("days", "after_paid", "accepted"),
    [
        (30, timedelta(0), True),
        (30, timedelta(days=30), True),
        (30, timedelta(days=30, seconds=1), False),
        (7, timedelta(days=6, hours=23), True),
        (7, timedelta(days=8), False),
        (0, timedelta(0), True),
        (0, timedelta(seconds=1), False),
    ],
)
def test_a_paid_payout_returns_only_within_the_return_window(
    days: int, after_paid: timedelta, accepted: bool
) -> None:
    def returned() -> Transition:
        return transition(
            "paid", "returned", paid_at=PAID_AT, now=PAID_AT + after_paid, return_window_days=days
        )

    if accepted:
        assert returned().deltas(AMOUNT) == {"paid_out": -AMOUNT, "available": AMOUNT}
        return
    with pytest.raises(Conflict) as refused:
        returned()
    assert refused.value.code == "return_window_over"
    assert refused.value.details == {"paid_at": "2026-11-02T15:00:00Z", "return_window_days": days}


def test_the_default_return_window_is_thirty_days() -> None:
    at_30 = PAID_AT + timedelta(days=30)
    assert transition("paid", "returned", paid_at=PAID_AT, now=at_30).moved
    with pytest.raises(Conflict, match="up to 30 days"):
        transition("paid", "returned", paid_at=PAID_AT, now=at_30 + timedelta(seconds=1))


def test_a_late_return_replay_after_the_window_is_still_harmless() -> None:
    late = PAID_AT + timedelta(days=90)
    replay = transition("returned", "returned", paid_at=PAID_AT, now=late)
    assert not replay.moved


def test_a_return_needs_the_time_it_was_paid() -> None:
    with pytest.raises(ValueError, match="paid_at"):
        transition("paid", "returned", now=PAID_AT)


@pytest.mark.parametrize(
    ("current", "target", "deltas"),
    [
        (None, "requested", {"available": -2500, "reserved": 2500}),
        ("requested", "submitted", {}),
        ("submitted", "paid", {"reserved": -2500, "paid_out": 2500}),
        ("submitted", "failed", {"reserved": -2500, "available": 2500}),
        ("requested", "canceled", {"reserved": -2500, "available": 2500}),
        ("paid", "returned", {"paid_out": -2500, "available": 2500}),
    ],
)
def test_each_transition_moves_the_amount_between_the_account_fields(
    current: PayoutStatus | None, target: PayoutStatus, deltas: dict[str, int]
) -> None:
    moved = move(current, target)
    assert moved.deltas(2500) == deltas
    assert set(deltas) <= set(FIELDS)
    assert moved.gives_back == (deltas.get("available", 0) > 0)


def test_every_movement_is_between_two_fields_of_the_account() -> None:
    for movement in filter(None, MOVEMENTS.values()):
        assert {movement.source, movement.target} <= set(FIELDS)


# Any sequence of events on one payout: statuses asked for (by the customer, the job or the
# provider), each at some hours after the payout was paid (returns look at the window).
events = st.lists(
    st.tuples(st.sampled_from(STATUSES), st.integers(min_value=0, max_value=24 * 40)),
    max_size=12,
)
FINAL_FIELD: dict[PayoutStatus, str] = {
    "requested": "reserved",
    "submitted": "reserved",
    "paid": "paid_out",
    "failed": "available",
    "canceled": "available",
    "returned": "available",
}


@given(amount=st.integers(min_value=1, max_value=10**11), events=events)
def test_over_any_events_money_is_conserved_and_comes_back_at_most_once(
    amount: int, events: list[tuple[PayoutStatus, int]]
) -> None:
    account = {"available": amount, "reserved": 0, "paid_out": 0}
    status = transition(None, "requested")
    for field, delta in status.deltas(amount).items():
        account[field] += delta
    current: PayoutStatus = status.after
    given_back = 0
    for target, hours in events:
        try:
            step = transition(
                current, target, paid_at=PAID_AT, now=PAID_AT + timedelta(hours=hours)
            )
        except Conflict:
            continue
        for field, delta in step.deltas(amount).items():
            account[field] += delta
        given_back += step.gives_back
        current = step.after
        assert sum(account.values()) == amount
        assert min(account.values()) >= 0
    assert given_back <= 1
    assert account == {**dict.fromkeys(account, 0), FINAL_FIELD[current]: amount}
