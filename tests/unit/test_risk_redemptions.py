"""The risk aggregates learn from real redemptions: a refund notes what the customer had
really spent of the order's cashback (under every refund policy, not only where it became
debt), and a redemption captured at checkout is noted with its amount and time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cashback.api import replies
from cashback.domain import ledger
from cashback.domain.orders import NewRefund, Order
from cashback.domain.redemptions import NewRedemption
from cashback.domain.risk.aggregates import (
    CustomerAggregates,
    PurchaseFacts,
    SharedCounts,
    note_purchase,
)
from cashback.domain.risk.features import FEATURE_NAMES, features
from cashback.domain.tenants import TenantSettings
from cashback.services import redemptions, refunds

T = datetime(2026, 11, 10, 18, 0, tzinfo=UTC)
SETTINGS = TenantSettings(currency="BRL")


def _aggregates() -> dict[str, Any]:
    facts = PurchaseFacts("o", "c", 10000, 1000, T, T)
    return note_purchase(CustomerAggregates("c"), facts).to_item()


def _spent_lot(spent: int) -> ledger.Lot:
    lot = ledger.accrue(
        ledger.Account("t", "c"),
        order_id="o",
        cashback=1000,
        occurred_at=T,
        available_at=T,
        expires_at=T + timedelta(days=30),
    ).lot
    return replace(lot, pending=0, available=1000 - spent, spent=spent, status="AVAILABLE")


class _Store:
    """The reads a refund makes of an order whose lot the customer spent from; keeps the
    change it commits."""

    def __init__(self, policy: str, spent: int) -> None:
        self.order = Order(
            tenant="t",
            order_id="o",
            customer_id="c",
            amount=10000,
            currency="BRL",
            cashback=1000,
            refunded=0,
            lot_sk="LOT#x#o",
            occurred_at="2026-11-10T18:00:00Z",
            request_hash="h",
            reply="{}",
            status_code=201,
            refund_policy=policy,
        )
        self.lot = _spent_lot(spent)
        values = {"available": 1000 - spent, "earned": 1000, "spent": spent}
        self.account = replace(
            ledger.Account("t", "c"),
            values={**ledger.Account("t", "c").values, **values},
            risk=_aggregates(),
        )
        self.change: Any = None

    def load_refund(self, tenant: str, refund_id: str, order_id: str) -> Any:
        return None, self.order

    def load_lot_and_account(self, order: Any) -> Any:
        return self.lot, self.account

    def live_lots(self, tenant: str, customer_id: str) -> Iterator[ledger.Lot]:
        return iter(())

    def redemptions_of_order(self, tenant: str, order_id: str) -> list[Any]:
        return []

    def commit_refund(self, change: Any) -> None:
        self.change = change


@pytest.mark.parametrize("policy", ["record_debt", "claw_back_unspent", "claw_back_within_balance"])
def test_a_refund_notes_what_was_really_spent_whatever_the_policy(policy: str) -> None:
    store = _Store(policy, spent=600)
    request = NewRefund("r", "o", 10000, T + timedelta(days=2))
    reply = refunds.record_refund(
        store,  # type: ignore[arg-type]
        "t",
        SETTINGS,
        request,
        T + timedelta(days=2),
        shape=replies.refund,
    )
    assert reply.body["clawed_back"] == 1000
    noted = CustomerAggregates.from_item(store.change.after.risk).recent[0]
    assert (noted.clawed_back, noted.spent_before_refund) == (1000, 600)
    # the model's feature sees the same share under every policy (it saw 0 when let go)
    later = PurchaseFacts("o2", "c", 10000, 1000, T + timedelta(days=3), T + timedelta(days=3))
    row = features(
        CustomerAggregates.from_item(store.change.after.risk),
        later,
        T + timedelta(days=3),
        SharedCounts(),
    )
    assert len(row) == len(FEATURE_NAMES)
    assert row[FEATURE_NAMES.index("spent_then_refunded_share_90d")] == pytest.approx(0.6)


class _Spender:
    """A customer with 1000 available on one lot; keeps the redemption it commits."""

    def __init__(self) -> None:
        self.lot = _spent_lot(0)
        values = {"available": 1000, "earned": 1000}
        self.account = replace(
            ledger.Account("t", "c"),
            values={**ledger.Account("t", "c").values, **values},
            risk=_aggregates(),
        )
        self.change: Any = None

    def load_redemption(self, tenant: str, redemption_id: str, customer_id: str) -> Any:
        return None, self.account

    def live_lots(self, tenant: str, customer_id: str) -> Iterator[ledger.Lot]:
        return iter([self.lot])

    def commit_redemption(self, change: Any) -> None:
        self.change = change


@pytest.mark.parametrize("capture", [True, False])
def test_a_captured_redemption_is_noted_and_a_hold_is_not(capture: bool) -> None:
    store = _Spender()
    at = T + timedelta(days=1)
    request = NewRedemption("red", "c", 400, "checkout", at, "online", capture=capture)
    reply = redemptions.redeem(
        store,  # type: ignore[arg-type]
        "t",
        SETTINGS,
        None,
        request,
        at,
        shape=replies.redemption,
    )
    assert reply.status_code == 201
    noted = CustomerAggregates.from_item(store.change.after.risk)
    if capture:
        assert (noted.redemptions, noted.redeemed) == (1, 400)
        assert noted.last_redeemed_at == int(at.timestamp())
    else:
        assert (noted.redemptions, noted.redeemed, noted.last_redeemed_at) == (0, 0, None)
    assert noted.recent == CustomerAggregates.from_item(_aggregates()).recent
