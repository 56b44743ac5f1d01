"""Spending on the ledger: draws take the earliest deadlines first and settle debt before
anything is spendable; what comes back returns to the lots it came from; nothing is ever
created or lost (conservation after every step)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cashback.domain import ledger
from cashback.domain.ledger import Account, Draw, Lot

AT = "2026-06-01T12:00:00Z"


def lot(order: str, available: int, expires: str = "2026-12-01T00:00:00Z") -> Lot:
    return Lot(
        "t",
        "c",
        order,
        gross=available,
        netted=0,
        pending=0,
        available=available,
        spent=0,
        expired=0,
        clawed_back=0,
        debited=0,
        status="AVAILABLE",
        available_at="2026-05-01T00:00:00Z",
        expires_at=expires,
    )


def account(available: int, debt: int = 0) -> Account:
    values = dict.fromkeys(ledger.FIELDS, 0)
    values.update(earned=available + debt, available=available, debt=debt, clawed_back=debt)
    # Debt was charged for cashback already spent: it sits in `spent` too.
    values["spent"], values["clawed_back"] = debt, 0
    return Account("t", "c", seq=1, values=values)


def draw(acct: Account, lots: list[Lot], amount: int, **options: object) -> ledger.Movement:
    defaults: dict[str, object] = dict(
        into="spent", kind="redeem", ref="r1", order_id="o", occurred_at=AT, max_lots=96
    )
    return ledger.draw(acct, lots, amount, **{**defaults, **options})  # type: ignore[arg-type]


def test_a_draw_takes_the_earliest_deadlines_first_and_skips_pending_lots() -> None:
    lots = [
        lot("a", 300, "2026-07-01T00:00:00Z"),
        replace(lot("p", 0, "2026-07-15T00:00:00Z"), pending=900, status="PENDING"),
        lot("b", 500, "2026-08-01T00:00:00Z"),
        lot("c", 700, "2026-09-01T00:00:00Z"),
    ]
    moved = draw(account(1500), lots, 600)
    assert moved.draws == (Draw(lots[0].expires_at, "a", 300), Draw(lots[2].expires_at, "b", 300))
    assert [(after.order_id, after.available, after.spent) for _, after in moved.lots] == [
        ("a", 0, 300),
        ("b", 200, 300),
    ]
    assert moved.lots[0][1].status == "CONSUMED" and moved.lots[1][1].status == "AVAILABLE"
    assert moved.account["available"] == 900 and moved.account["spent"] == 600
    assert moved.entry.deltas == {"available": -600, "spent": 600}
    assert moved.account.conserved()


def test_a_hold_reserves_instead_of_spending() -> None:
    moved = draw(account(1000), [lot("a", 1000)], 400, into="reserved", kind="hold")
    assert moved.account["reserved"] == 400 and moved.account["spent"] == 0
    assert moved.account["available"] == 600 and moved.account.conserved()


def test_debt_is_settled_first_from_the_earliest_lots() -> None:
    moved = draw(account(1000, debt=250), [lot("a", 300), lot("b", 700)], 500)
    assert moved.settled == 250
    assert moved.draws == (
        Draw(lot("a", 0).expires_at, "a", 50),
        Draw(lot("b", 0).expires_at, "b", 450),
    )
    assert moved.lots[0][1].clawed_back == 250 and moved.lots[0][1].spent == 50
    assert moved.account["debt"] == 0 and moved.account["available"] == 250
    assert moved.account.conserved()


def test_not_enough_says_whether_the_lots_ran_out_or_were_too_many() -> None:
    with pytest.raises(ledger.NotEnough) as ran_out:
        draw(account(1000), [lot("a", 300)], 500)
    assert not ran_out.value.limited and ran_out.value.spendable == 300
    many = [lot(f"l{i}", 10) for i in range(5)]
    with pytest.raises(ledger.NotEnough) as too_many:
        draw(account(50), many, 50, max_lots=3)
    assert too_many.value.limited and too_many.value.spendable == 30


def test_spendable_is_available_less_debt() -> None:
    assert ledger.spendable(account(1000, debt=300)) == 700
    assert ledger.spendable(account(100, debt=300)) == 0


def test_giving_back_returns_to_the_lots_and_repays_debt_first() -> None:
    spent = draw(account(1000), [lot("a", 400), lot("b", 600)], 1000)
    lots = [after for _, after in spent.lots]
    owing = replace(
        spent.account,
        values={**spent.account.values, "debt": 300, "spent": 1000, "clawed_back": 0},
    )
    back = ledger.give_back(
        owing,
        [(lots[1], 500)],
        out_of="spent",
        kind="reversal",
        ref="v",
        order_id="o",
        occurred_at=AT,
    )
    after = back.lots[0][1]
    assert back.settled == 300 and after.clawed_back == 300
    assert after.available == 200 and after.spent == 100 and after.status == "AVAILABLE"
    assert back.account["debt"] == 0 and back.account["available"] == 200
    assert back.account["spent"] == 500


def test_cashback_back_after_its_deadline_keeps_it_unless_a_grace_is_given() -> None:
    old = lot("a", 500, "2026-05-20T00:00:00Z")
    spent = draw(account(500), [old], 500)
    drawn = spent.lots[0][1]
    plain = ledger.give_back(
        spent.account,
        [(drawn, 200)],
        out_of="spent",
        kind="reversal",
        ref="v",
        order_id="o",
        occurred_at=AT,
    )
    assert plain.lots[0][1].ends_at == "2026-05-20T00:00:00Z"  # the lifecycle expires it
    grace = ledger.give_back(
        spent.account,
        [(drawn, 200)],
        out_of="spent",
        kind="reversal",
        ref="v",
        order_id="o",
        occurred_at=AT,
        at_least_until="2026-06-08T12:00:00Z",
    )
    assert grace.lots[0][1].ends_at == "2026-06-08T12:00:00Z"
    assert grace.lots[0][1].expires_at == old.expires_at  # its key does not move


def test_a_partial_capture_keeps_the_rest_in_one_entry() -> None:
    held = draw(
        account(1000),
        [lot("a", 600), lot("b", 400, "2027-01-01T00:00:00Z")],
        1000,
        into="reserved",
        kind="hold",
    )
    lots = {after.key: after for _, after in held.lots}
    back = ledger.latest_first(held.draws, 300)
    assert back == [Draw("2027-01-01T00:00:00Z", "b", 300)]
    captured = ledger.give_back(
        held.account,
        ledger.to_lots(lots, back),
        out_of="reserved",
        kind="capture",
        ref="r1",
        order_id="o",
        occurred_at=AT,
        finalize=("spent", 700),
    )
    assert captured.entry.deltas == {"reserved": -1000, "spent": 700, "available": 300}
    assert captured.account["reserved"] == 0 and captured.account.conserved()
    assert ledger.less(held.draws, back) == (
        Draw(lot("a", 0).expires_at, "a", 600),
        Draw("2027-01-01T00:00:00Z", "b", 100),
    )


draws = st.lists(
    st.builds(
        Draw,
        st.sampled_from(["2026-07-01T00:00:00Z", "2026-08-01T00:00:00Z", "2026-09-01T00:00:00Z"]),
        st.text("abcdef", min_size=1, max_size=4),
        st.integers(1, 10**9),
    ),
    min_size=1,
    max_size=20,
    unique_by=lambda d: d.key,
)


@given(draws, st.data())
def test_shares_of_what_was_drawn_add_up_exactly_and_never_exceed_a_lot(
    drawn: list[Draw], data: st.DataObject
) -> None:
    total = sum(d.amount for d in drawn)
    amount = data.draw(st.integers(0, total))
    by_lot = {d.key: d.amount for d in drawn}
    for share in (ledger.in_proportion(drawn, amount), ledger.latest_first(drawn, amount)):
        assert sum(d.amount for d in share) == amount
        assert all(0 < d.amount <= by_lot[d.key] for d in share)
        left = ledger.less(drawn, share)
        assert sum(d.amount for d in left) == total - amount
    proportional = ledger.in_proportion(drawn, amount)
    for d in proportional:  # each within one unit of its exact share
        exact = by_lot[d.key] * amount / total
        assert abs(d.amount - exact) < 1


@given(
    st.lists(st.integers(1, 5000), min_size=1, max_size=12),
    st.integers(0, 3000),
    st.lists(st.tuples(st.integers(1, 4000), st.booleans(), st.integers(0, 100)), max_size=8),
)
def test_any_sequence_of_spends_holds_and_give_backs_conserves_every_unit(
    amounts: list[int], debt: int, steps: list[tuple[int, bool, int]]
) -> None:
    lots = {
        f"l{i}": lot(f"l{i}", a, f"2026-{7 + i % 5:02d}-01T00:00:00Z")
        for i, a in enumerate(amounts)
    }
    acct = account(sum(amounts), debt=min(debt, sum(amounts)))
    for amount, hold, percent_back in steps:
        ordered = sorted(lots.values(), key=lambda each: (each.expires_at, each.order_id))
        if amount > ledger.spendable(acct):
            continue
        moved = draw(acct, ordered, amount, into="reserved" if hold else "spent")
        for _, after in moved.lots:
            lots[after.order_id] = after
        acct = moved.account
        back = ledger.in_proportion(moved.draws, amount * percent_back // 100)
        returned = ledger.give_back(
            acct,
            [(lots[d.order_id], d.amount) for d in back],
            out_of="reserved" if hold else "spent",
            kind="cancel",
            ref="x",
            order_id="o",
            occurred_at=AT,
            finalize=("spent", amount - sum(d.amount for d in back)) if hold else None,
        )
        for _, after in returned.lots:
            lots[after.order_id] = after
        acct = returned.account
        assert acct.conserved()
        assert acct["available"] >= 0 and acct["reserved"] == 0
        on_lots = sum(each.available for each in lots.values())
        assert on_lots == acct["available"]
        assert all(each.available >= 0 and each.spent >= 0 for each in lots.values())


def test_what_a_refund_let_go_of_goes_back_where_the_refund_would_have_taken_it() -> None:
    spent = draw(account(500), [lot("a", 500)], 500)
    drawn = replace(spent.lots[0][1], forgiven=300)  # its order refunded: 300 let go
    back = ledger.give_back(
        spent.account,
        [(drawn, 500)],
        out_of="spent",
        kind="reversal",
        ref="v",
        order_id="o",
        occurred_at=AT,
    )
    after = back.lots[0][1]
    assert after.forgiven == 0 and after.clawed_back == 300 and after.available == 200
    assert back.entry.deltas == {"spent": -500, "available": 200, "clawed_back": 300}
    assert back.account.conserved()
