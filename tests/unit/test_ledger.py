"""The ledger's domain: cashback arithmetic, lots, debt and the hash chain."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cashback.domain import ledger
from cashback.domain.ledger import (
    Account,
    accrue,
    cashback_for,
    claw_back,
    clawback_for,
    verify_chain,
)

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
WINDOW, EXPIRY = timedelta(days=30), timedelta(days=180)


def _accrue(account: Account, order_id: str, cashback: int) -> ledger.Accrual:
    return accrue(
        account,
        order_id=order_id,
        cashback=cashback,
        occurred_at=T0,
        return_window=WINDOW,
        expiry=EXPIRY,
    )


def test_cashback_rounds_down_to_the_minor_unit() -> None:
    assert cashback_for(12990, Decimal("0.05")) == 649  # 649.5 -> 649
    assert cashback_for(19, Decimal("0.05")) == 0
    assert cashback_for(100_000_000_000, Decimal("0.05")) == 5_000_000_000


def test_half_refund_keeps_at_most_half_the_cashback() -> None:
    assert clawback_for(649, 12990, 0, 6495) == 325  # customer keeps 324, not 324.5


def test_full_refund_after_partial_refunds_claws_back_everything() -> None:
    parts = [
        clawback_for(649, 12990, 0, 1000),
        clawback_for(649, 12990, 1000, 990),
        clawback_for(649, 12990, 1990, 11000),
    ]
    assert sum(parts) == 649


@given(cashback=st.integers(0, 10**9), data=st.data())
def test_partial_refund_clawbacks_add_up_and_never_leave_more_than_the_share(
    cashback: int, data: st.DataObject
) -> None:
    amount = data.draw(st.integers(1, 10**11))
    refunded, clawed = 0, 0
    while refunded < amount:
        refund = data.draw(st.integers(1, amount - refunded))
        part = clawback_for(cashback, amount, refunded, refund)
        assert part >= 0
        refunded, clawed = refunded + refund, clawed + part
        kept = cashback - clawed
        # What the customer keeps never exceeds the cashback on what they kept of the order.
        assert kept * amount <= cashback * (amount - refunded)
    assert clawed == cashback


def test_purchase_credits_a_pending_lot_with_its_dates() -> None:
    result = _accrue(Account("acme", "c1"), "o1", 500)
    assert result.lot is not None
    assert (result.lot.pending, result.lot.status) == (500, "PENDING")
    assert result.lot.available_at == "2026-12-01T12:00:00Z"
    assert result.lot.expires_at == "2027-04-30T12:00:00Z"
    assert result.lot.due_at == result.lot.available_at
    assert (result.account["pending"], result.account["earned"]) == (500, 500)
    assert [e.seq for e in result.entries] == [1]
    assert result.entries[0].prev_hash == ledger.GENESIS


def test_new_cashback_repays_debt_first() -> None:
    indebted = replace(Account("acme", "c1"), values={**Account("acme", "c1").values, "debt": 300})
    result = _accrue(indebted, "o2", 500)
    assert result.lot is not None
    assert (result.lot.netted, result.lot.pending) == (300, 200)
    assert (result.account["debt"], result.account["pending"]) == (0, 200)
    assert result.account["clawed_back"] == 300
    assert result.account.conserved()


def test_refund_claws_back_pending_first_then_available() -> None:
    first = _accrue(Account("acme", "c1"), "o1", 500)
    assert first.lot is not None
    ripe = replace(first.lot, pending=0, available=500, status="AVAILABLE")
    account = replace(
        first.account, values={**first.account.values, "pending": 0, "available": 500}
    )
    result = claw_back(account, ripe, refund_id="r1", order_id="o1", amount=200, occurred_at=T0)
    assert (result.taken_pending, result.taken_available, result.debt) == (0, 200, 0)
    assert result.account["available"] == 300
    assert result.lot is not None and result.lot.available == 300


def test_refund_after_spend_creates_debt() -> None:
    first = _accrue(Account("acme", "c1"), "o1", 500)
    assert first.lot is not None
    spent_lot = replace(first.lot, pending=0, available=100, spent=400, status="AVAILABLE")
    account = replace(
        first.account, values={**first.account.values, "pending": 0, "available": 100, "spent": 400}
    )
    result = claw_back(
        account, spent_lot, refund_id="r1", order_id="o1", amount=500, occurred_at=T0
    )
    assert (result.taken_available, result.debt) == (100, 400)
    assert (result.account["available"], result.account["debt"]) == (0, 400)
    assert result.lot is not None and result.lot.status == "CLAWED_BACK"
    assert result.account.conserved()


def test_refund_does_not_charge_for_cashback_that_expired() -> None:
    first = _accrue(Account("acme", "c1"), "o1", 500)
    assert first.lot is not None
    expired_lot = replace(first.lot, pending=0, expired=500, status="EXPIRED")
    account = replace(first.account, values={**first.account.values, "pending": 0, "expired": 500})
    result = claw_back(
        account, expired_lot, refund_id="r1", order_id="o1", amount=500, occurred_at=T0
    )
    assert result.debt == 0 and result.account["debt"] == 0


def test_entries_form_a_hash_chain_that_verifies() -> None:
    first = _accrue(Account("acme", "c1"), "o1", 500)
    second = claw_back(
        first.account, first.lot, refund_id="r1", order_id="o1", amount=100, occurred_at=T0
    )
    assert second.entry.prev_hash == first.entries[-1].hash
    assert verify_chain(second.account, [*first.entries, second.entry]) == []


def _history() -> tuple[Account, list[ledger.Entry]]:
    first = _accrue(Account("acme", "c1"), "o1", 500)
    second = _accrue(first.account, "o2", 300)
    third = claw_back(
        second.account, second.lot, refund_id="r2", order_id="o2", amount=300, occurred_at=T0
    )
    return third.account, [*first.entries, *second.entries, third.entry]


def test_verify_detects_an_edited_entry() -> None:
    account, entries = _history()
    entries[1] = replace(entries[1], deltas={**entries[1].deltas, "pending": 3000})
    assert any("edited" in p for p in verify_chain(account, entries))


def test_verify_detects_a_removed_entry() -> None:
    account, entries = _history()
    problems = verify_chain(account, [entries[0], entries[2]])
    assert any("missing" in p for p in problems)


def test_verify_detects_a_balance_that_does_not_match_its_entries() -> None:
    account, entries = _history()
    tampered = replace(account, values={**account.values, "pending": account["pending"] + 1})
    assert any("pending" in p for p in verify_chain(tampered, entries))


def test_an_entry_may_not_drive_a_balance_negative() -> None:
    first = _accrue(Account("acme", "c1"), "o1", 500)
    with pytest.raises(ValueError):
        ledger.append(
            first.account, "refund", "r1", "o1", "2026-11-01T12:00:00Z", {"pending": -501}
        )


def test_within_balance_policy_takes_what_was_used_from_other_cashback_then_lets_go() -> None:
    first = _accrue(Account("acme", "c1"), "o1", 500)
    second = _accrue(first.account, "o2", 150)
    assert first.lot is not None and second.lot is not None
    spent_lot = replace(first.lot, pending=0, available=100, spent=400, status="AVAILABLE")
    other = replace(second.lot, pending=0, available=150, status="AVAILABLE")
    account = replace(
        second.account,
        values={**second.account.values, "pending": 0, "available": 250, "spent": 400},
    )
    result = claw_back(
        account,
        spent_lot,
        refund_id="r1",
        order_id="o1",
        amount=500,
        occurred_at=T0,
        policy="claw_back_within_balance",
        balance_lots=(other,),
    )
    # 100 still on the lot; of the 400 used, 150 comes from the other lot, 250 is let go.
    assert (result.taken_available, result.from_balance, result.debt) == (100, 150, 0)
    assert result.account["available"] == 0 and result.account["debt"] == 0
    assert [(b.order_id, a.available, a.status) for b, a in result.other_lots] == [
        ("o2", 0, "CLAWED_BACK")
    ]
    assert result.account.conserved()


def test_unspent_policy_lets_the_used_part_go() -> None:
    first = _accrue(Account("acme", "c1"), "o1", 500)
    assert first.lot is not None
    spent_lot = replace(first.lot, pending=0, available=100, spent=400, status="AVAILABLE")
    account = replace(
        first.account, values={**first.account.values, "pending": 0, "available": 100, "spent": 400}
    )
    result = claw_back(
        account,
        spent_lot,
        refund_id="r1",
        order_id="o1",
        amount=500,
        occurred_at=T0,
        policy="claw_back_unspent",
    )
    assert (result.taken_available, result.debt, result.from_balance) == (100, 0, 0)
