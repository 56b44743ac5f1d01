"""Instant cashback (a return window of zero): the purchase's transaction ripens its own lot
(a second entry on the chain, the `cashback.available` notice), an approval past the
window does the same; held and blocked purchases stay unspendable; balances and the chain
hold (conservation, verification) over random histories (hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from cashback.domain import ledger
from cashback.domain.ledger import Account, Entry, RiskAction, verify_chain

T0 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
AT = "2026-03-10T15:00:00Z"


def _buy(
    account: Account,
    order_id: str = "o1",
    cashback: int = 500,
    *,
    window: timedelta = timedelta(0),
    risk: RiskAction = "allow",
    at: datetime = T0,
) -> ledger.Accrual:
    return ledger.accrue(
        account,
        order_id=order_id,
        cashback=cashback,
        occurred_at=at,
        return_window=window,
        expiry=timedelta(days=180),
        reminder=timedelta(days=7),
        risk=risk,
    )


def _indebted(debt: int) -> Account:
    base = Account("shop", "ana")
    values = {**base.values, "debt": debt, "earned": debt, "spent": debt}
    return replace(base, seq=0, values=values)


def test_a_window_of_zero_makes_the_cashback_available_in_the_purchase() -> None:
    bought = _buy(Account("shop", "ana"))
    assert [e.kind for e in bought.entries] == ["purchase", "ripen"]
    purchase, ripen = bought.entries
    assert purchase.deltas == {"earned": 500, "pending": 500}
    assert ripen.deltas == {"pending": -500, "available": 500}
    assert ripen.occurred_at == AT and ripen.prev_hash == purchase.hash
    assert verify_chain(bought.account, list(bought.entries)) == []
    assert (bought.account["pending"], bought.account["available"]) == (0, 500)
    assert bought.account["earned"] == 500 and bought.account.conserved()
    lot = bought.lot
    assert lot is not None
    assert (lot.status, lot.pending, lot.available, lot.version) == ("AVAILABLE", 0, 500, 1)
    assert lot.available_at == AT and lot.holds_cashback
    assert lot.due_at == lot.remind_at == "2026-08-30T15:00:00Z"  # next: the reminder
    assert [(n.kind, n.amount, n.at, n.order_id) for n in bought.notices] == [
        ("cashback.available", 500, AT, "o1")
    ]


def test_the_lifecycle_job_finds_nothing_left_to_ripen() -> None:
    bought = _buy(Account("shop", "ana"))
    assert bought.lot is not None
    step = ledger.advance(bought.account, bought.lot, T0 + timedelta(hours=1))
    assert not step.changed and step.entries == () and step.notices == ()


def test_it_is_spendable_at_once() -> None:
    bought = _buy(Account("shop", "ana"))
    assert bought.lot is not None
    assert ledger.spendable(bought.account) == 500
    moved = ledger.draw(
        bought.account,
        [bought.lot],
        300,
        into="spent",
        kind="redeem",
        ref="r1",
        order_id="o2",
        occurred_at=AT,
        max_lots=96,
    )
    assert moved.account["available"] == 200 and moved.account["spent"] == 300
    assert moved.account.conserved()
    assert verify_chain(moved.account, [*bought.entries, moved.entry]) == []


def test_a_window_left_open_stays_pending_with_one_entry() -> None:
    bought = _buy(Account("shop", "ana"), window=timedelta(days=7))
    assert [e.kind for e in bought.entries] == ["purchase"] and bought.notices == ()
    assert bought.lot is not None and bought.lot.status == "PENDING"


def test_debt_is_repaid_first_and_only_the_rest_becomes_available() -> None:
    bought = _buy(_indebted(200))
    assert bought.lot is not None
    assert (bought.lot.netted, bought.lot.available, bought.lot.status) == (200, 300, "AVAILABLE")
    assert (bought.account["debt"], bought.account["available"]) == (0, 300)
    assert bought.notices[0].amount == 300 and bought.account.conserved()
    repaid = _buy(_indebted(900))
    assert repaid.lot is not None and repaid.lot.status == "CONSUMED"
    assert [e.kind for e in repaid.entries] == ["purchase"] and repaid.notices == ()


def test_held_and_blocked_purchases_are_not_spendable() -> None:
    held = _buy(Account("shop", "ana"), risk="review")
    assert held.lot is not None and held.lot.status == "HELD"
    assert [e.kind for e in held.entries] == ["purchase"] and held.notices == ()
    assert (held.account["held"], held.account["available"]) == (500, 0)
    assert ledger.spendable(held.account) == 0
    blocked = _buy(Account("shop", "ana"), risk="block")
    assert blocked.lot is None and blocked.notices == ()
    assert blocked.account["available"] == blocked.account["earned"] == 0


def test_an_approval_past_the_window_makes_it_available_in_the_decision() -> None:
    held = _buy(Account("shop", "ana"), risk="review")
    assert held.lot is not None
    decided_at = T0 + timedelta(hours=5)
    approved = ledger.approve(held.account, held.lot, order_id="o1", decided_at=decided_at)
    assert [e.kind for e in approved.entries] == ["approve", "ripen"]
    assert approved.entries[1].occurred_at == "2026-03-10T20:00:00Z"  # when it was decided
    assert (approved.lot.status, approved.lot.available) == ("AVAILABLE", 500)
    assert approved.lot.version == held.lot.version + 1  # one write of the lot
    assert [(n.kind, n.at) for n in approved.notices] == [
        ("cashback.available", "2026-03-10T20:00:00Z")
    ]
    assert ledger.spendable(approved.account) == 500 and approved.account.conserved()
    assert verify_chain(approved.account, [*held.entries, *approved.entries]) == []


def test_an_approval_inside_the_window_leaves_it_pending() -> None:
    held = _buy(Account("shop", "ana"), risk="review", window=timedelta(days=7))
    assert held.lot is not None
    approved = ledger.approve(
        held.account, held.lot, order_id="o1", decided_at=T0 + timedelta(days=1)
    )
    assert [e.kind for e in approved.entries] == ["approve"] and approved.notices == ()
    assert approved.lot.status == "PENDING" and ledger.spendable(approved.account) == 0


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.integers(0, 5000),  # cashback
            st.sampled_from([0, 0, 3]),  # return window, days
            st.sampled_from(["allow", "allow", "review", "block"]),
            st.booleans(),  # approve a held one at once
        ),
        min_size=1,
        max_size=12,
    ),
    debt=st.integers(0, 3000),
)
def test_any_history_of_purchases_conserves_and_its_chain_verifies(
    steps: list[tuple[int, int, RiskAction, bool]], debt: int
) -> None:
    account, chain = _indebted(debt), list[Entry]()
    available = 0
    for i, (cashback, window, risk, approve) in enumerate(steps):
        at = T0 + timedelta(hours=i)
        bought = _buy(account, f"o{i}", cashback, window=timedelta(days=window), risk=risk, at=at)
        account, chain = bought.account, [*chain, *bought.entries]
        lot = bought.lot
        if lot is not None and lot.status == "HELD" and approve:
            decided = ledger.approve(account, lot, order_id=f"o{i}", decided_at=at)
            account, chain, lot = decided.account, [*chain, *decided.entries], decided.lot
        if lot is not None:
            assert (lot.status == "AVAILABLE") == (window == 0 and lot.available > 0)
            available += lot.available
        assert account.conserved()
        assert account["available"] == available
    # The history starts from a debt already on the account (sequence 0): verify the sums
    # of the purchases' own entries against the account, less that opening debt.
    opening = _indebted(debt)
    moved = {k: account.values[k] - opening.values[k] for k in account.values}
    summed = {k: sum(e.deltas.get(k, 0) for e in chain) for k in account.values}
    assert moved == summed
    assert [e.seq for e in chain] == list(range(1, len(chain) + 1))
    assert all(b.prev_hash == a.hash for a, b in zip(chain, chain[1:], strict=False))
