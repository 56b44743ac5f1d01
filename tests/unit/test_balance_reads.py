"""The balance reads one page of the `live` index sized to what it shows: the lots of the
next DEADLINES_SHOWN deadlines and the first lot past them, however long the history."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cashback.domain import ledger
from cashback.domain.balances import DEADLINES_SHOWN, NextExpiry
from cashback.services import balances


def lot(order_id: str, expires_at: str, available: int) -> ledger.Lot:
    return ledger.Lot(
        tenant="t",
        customer_id="c",
        order_id=order_id,
        gross=available,
        netted=0,
        pending=0,
        available=available,
        spent=0,
        expired=0,
        clawed_back=0,
        debited=0,
        status="AVAILABLE",
        available_at="2026-01-01T00:00:00Z",
        expires_at=expires_at,
    )


class Store:
    """Live lots earliest deadline first; records the page asked for and the lots taken."""

    def __init__(self, lots: list[ledger.Lot]) -> None:
        self.lots, self.pages, self.taken = lots, list[int](), 0
        self.account = ledger.Account("t", "c", seq=1)

    def get_account(self, tenant: str, customer_id: str) -> ledger.Account:
        return self.account

    def live_lots(self, tenant: str, customer_id: str, page: int = 10) -> Iterator[ledger.Lot]:
        self.pages.append(page)
        for one in self.lots:
            self.taken += 1
            yield one

    def entries_page(self, *args: Any) -> Any:
        raise AssertionError("not read by a balance")


def test_one_page_of_the_shown_deadlines_and_the_next_lot() -> None:
    store = Store([lot(f"o{k}", f"2027-0{k + 1}-01T00:00:00Z", 100 + k) for k in range(8)])
    found = balances.balance(store, "t", "c")
    assert store.pages == [DEADLINES_SHOWN + 1]
    assert store.taken == DEADLINES_SHOWN + 1  # the first past the shown ones ends the read
    assert [d.amount for d in found.deadlines] == [100, 101, 102]


def test_lots_sharing_a_deadline_are_summed() -> None:
    at, later = "2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z"
    store = Store([lot("a", at, 5), lot("b", at, 7), lot("c", later, 1)])
    found = balances.balance(store, "t", "c")
    assert found.deadlines == (NextExpiry(at, 12), NextExpiry(later, 1))
