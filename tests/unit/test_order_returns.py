"""What refunds of an order paid with cashback give back of each redemption: the refunded
share, rounded down on the cumulative total, so successive partial refunds add up to what
was spent at a full refund; the storefront's own reversals leave the rest to refunds."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cashback.domain.clock import to_iso
from cashback.domain.ids import ID_PATTERN
from cashback.domain.ledger.order_returns import (
    Paid,
    Return,
    landed_by_redemption,
    plan,
    returned_share,
    reversal_id,
)

AT = "2026-06-01T12:00:00Z"


def test_the_share_is_the_difference_of_cumulative_floors() -> None:
    assert returned_share(600, 8000, 0, 4000) == 300
    assert returned_share(100, 3, 0, 1) == 33
    assert returned_share(100, 3, 1, 2) == 33
    assert returned_share(100, 3, 2, 3) == 34  # the last refund takes the rounding
    assert returned_share(0, 3, 0, 3) == 0


@pytest.mark.parametrize(("before", "after"), [(-1, 1), (2, 1), (0, 9)])
def test_refunded_totals_outside_the_order_are_refused(before: int, after: int) -> None:
    with pytest.raises(ValueError):
        returned_share(100, 8, before, after)


def _pieces(order_amount: int, cuts: list[int]) -> list[int]:
    points = sorted({0, order_amount, *cuts})
    return [b - a for a, b in zip(points, points[1:], strict=False)]


def _splits(order_amount: int) -> st.SearchStrategy[list[int]]:
    """Successive refunds of an order that add up to all of it."""
    return st.lists(st.integers(1, order_amount), max_size=8).map(
        lambda cuts: _pieces(order_amount, cuts)
    )


@given(
    spent=st.integers(0, 10**7),
    data=st.data(),
    order_amount=st.integers(1, 10**8),
)
def test_successive_partial_refunds_give_back_exactly_what_was_spent(
    spent: int, data: st.DataObject, order_amount: int
) -> None:
    refunds = data.draw(_splits(order_amount))
    refunded, total = 0, 0
    for refund in refunds:
        share = returned_share(spent, order_amount, refunded, refunded + refund)
        assert 0 <= share <= spent
        total += share
        refunded += refund
        assert total == spent * refunded // order_amount
    assert total == spent


@given(
    captured=st.integers(1, 10**6),
    storefront=st.integers(0, 10**6),
    order_amount=st.integers(1, 10**6),
    data=st.data(),
)
def test_with_the_storefronts_reversals_refunds_never_give_back_more_than_was_spent(
    captured: int, storefront: int, order_amount: int, data: st.DataObject
) -> None:
    storefront = min(storefront, captured)
    refunds = data.draw(_splits(order_amount))
    # the storefront reverses part before the refunds, and maybe more half way
    later = data.draw(st.integers(0, captured - storefront))
    reversed_, by_refunds, refunded = storefront, 0, 0
    for i, refund in enumerate(refunds):
        if i == len(refunds) // 2:
            reversed_ += min(later, captured - reversed_)
        paid = Paid("red", captured, reversed_, by_refunds)
        returns = plan([paid], order_amount, refunded, refund, refund_id=f"r{i}", occurred_at=AT)
        back = sum(r.amount for r in returns)
        assert back <= captured - reversed_
        reversed_ += back
        by_refunds += back
        refunded += refund
    assert reversed_ == captured  # a full refund leaves nothing spent on the order


def test_a_plan_covers_each_redemption_and_skips_nothing_to_give() -> None:
    paid = [Paid("b", 300, 0), Paid("a", 100, 100), Paid("c", 500, 200, by_refunds=100)]
    returns = plan(paid, 1000, 0, 500, refund_id="r1", occurred_at=AT)
    # a: all reversed by the storefront; c: 400 spent (500 less its own 100), 300 left
    assert returns == (Return("r1", "b", 150, AT), Return("r1", "c", 200, AT))
    assert Return.from_list(returns[0].to_list()) == returns[0]


def test_what_landed_is_counted_per_redemption() -> None:
    one, two, three = Return("r1", "a", 5, AT), Return("r2", "a", 7, AT), Return("r1", "b", 3, AT)
    landed = {one: True, two: False, three: True}
    assert landed_by_redemption([one, two, three], landed) == {"a": 5, "b": 3}


def test_a_refunds_reversal_id_never_meets_a_storefronts() -> None:
    import re

    derived = reversal_id("r-1", "red-1")
    assert derived == reversal_id("r-1", "red-1") != reversal_id("r-1", "red-2")
    assert not re.match(ID_PATTERN, derived) and "#" not in derived


class _Paid:
    """An order paid with 500 of cashback, half of it promised back by a refund weeks ago
    (`landed`: its reversal ran); the storefront reversed nothing itself."""

    def __init__(self, landed: bool) -> None:
        self.landed = landed
        self.reversed = 250 if landed else 0
        self.ran: list[tuple[str, int, str]] = []

    def load_reversal(self, tenant: str, reversal_id: str) -> object | None:
        return object() if self.landed else None

    def redemptions_of_order(self, tenant: str, order_id: str) -> list[object]:
        from cashback.domain.redemptions import Redemption

        made = Redemption("t", "red", "c", "o", "online", 500, "captured", AT, "h", "{}", 201)
        return [replace(made, captured=500, reversed=self.reversed)]

    def reverse(self, store: object, tenant: str, settings: object, redemption_id: str,
                request: Any, now: datetime, **_: object) -> None:  # fmt: skip
        self.ran.append((request.reversal_id, request.amount, to_iso(request.occurred_at)))
        self.reversed += request.amount
        self.landed = True


@pytest.mark.parametrize("landed", [True, False])
def test_an_old_refunds_return_runs_once_and_counts_once(
    landed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The order's next refund, weeks later: a return that landed is found by its id and
    not run again; one a crash left out runs now (its refund is past the back-dating
    window, so it comes back as of now). Either way the second half gives the rest."""
    from cashback.domain.orders import NewRefund, Order
    from cashback.domain.tenants import TenantSettings
    from cashback.services import order_returns, redemptions

    now = datetime(2026, 6, 20, 12, tzinfo=UTC)
    order = Order("t", "o", "c", 8000, "BRL", 400, 4000, None, AT, "h", "{}", 201)
    order = replace(order, redeemed_returns=[["r1", "red", 250, AT]])
    store = _Paid(landed)
    monkeypatch.setattr(redemptions, "reverse", store.reverse)
    returns = order_returns.plan_for(
        store,  # type: ignore[arg-type]
        "t",
        TenantSettings(currency="BRL"),
        order,
        NewRefund("r2", "o", 4000, now),
        now,
        order_returns.bare,
    )
    assert [(r.redemption_id, r.amount) for r in returns] == [("red", 250)]
    assert store.ran == ([] if landed else [("refund|r1|red", 250, to_iso(now))])
