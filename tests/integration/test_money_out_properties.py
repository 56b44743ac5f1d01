"""The bank test with money going out: random purchases, refunds, redemptions (captured or
held; holds captured in part, cancelled or left to expire), reversals and payouts (with
every sandbox provider behaviour) against DynamoDB Local over HTTP; after every step the
ledger's promises hold, and what is reserved is exactly the open holds and payouts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from cashback.services import holds
from cashback_tools.audit import verify
from cashback_tools.local.sandbox_provider import deliver_callbacks
from cashback_tools.local.stack import LocalStack

from . import table
from .client import Api, now_iso, unique
from .spending import SpendingShop, run_payout_job

TENANT = "money-out"
BEHAVIOURS = ("paid", "fail", "return", "twice", "silent")


class MoneyOutMachine(RuleBasedStateMachine):
    api: Api
    stack: LocalStack

    def __init__(self) -> None:
        super().__init__()
        self.customer = unique("out")
        self.orders: dict[str, int] = {}  # order_id -> amount left to refund
        self.holds: dict[str, int] = {}  # open holds: redemption_id -> amount
        self.captured: dict[str, int] = {}  # redemption_id -> spent and not reversed
        self.payouts: dict[str, int] = {}  # payouts not yet settled: payout_id -> amount
        self.paid_orders: dict[str, str] = {}  # redemption_id -> the order it paid for
        self.later = datetime.now(UTC)  # the moment the jobs run at, only ever forward

    def _redeem(self, amount: int, capture: bool) -> Any:
        body = {
            "redemption_id": unique("red"),
            "customer_id": self.customer,
            "amount": amount,
            "order_id": unique("checkout"),
            "occurred_at": now_iso(),
            "channel": "online",
            "capture": capture,
        }
        return self.api.post("/v1/redemptions", body)

    def _available(self) -> int:
        balance = self.api.balance(self.customer)
        return int(balance["available"]) - int(balance["debt"])

    @rule(amount=st.integers(10_000, 200_000))
    def purchase(self, amount: int) -> None:
        reply = self.api.purchase(self.customer, amount)
        assert reply.status_code == 201, reply.text
        self.orders[reply.json()["order_id"]] = amount
        table.ripen(self.stack, TENANT, self.customer, datetime.now(UTC))

    @precondition(lambda self: any(self.orders.values()))
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        order_id = data.draw(st.sampled_from(sorted(k for k, v in self.orders.items() if v)))
        amount = data.draw(st.integers(1, self.orders[order_id]))
        assert self.api.refund(order_id, amount).status_code == 201
        self.orders[order_id] -= amount

    @rule(share=st.integers(1, 120), capture=st.booleans())
    def redeem(self, share: int, capture: bool) -> None:
        have = self._available()
        amount = max(1, have * share // 100)
        reply = self._redeem(amount, capture)
        if amount > have:
            assert reply.status_code == 422 and reply.json()["code"] == "insufficient_balance"
            return
        assert reply.status_code == 201, reply.text
        rid = reply.json()["redemption_id"]
        (self.captured if capture else self.holds)[rid] = amount
        self.paid_orders[rid] = reply.json()["order_id"]

    @precondition(lambda self: bool(self.holds))
    @rule(data=st.data(), how=st.sampled_from(["capture", "part", "cancel", "expire"]))
    def resolve_hold(self, data: st.DataObject, how: str) -> None:
        rid = data.draw(st.sampled_from(sorted(self.holds)))
        amount = self.holds.pop(rid)
        path = f"/v1/redemptions/{rid}"
        if how == "expire":  # as the sweep releases it, 16 minutes on
            assert self.stack.store is not None
            record = self.stack.store.get_redemption(TENANT, rid)
            assert record is not None
            assert holds.release(
                self.stack.store, record, datetime.now(UTC) + timedelta(minutes=16)
            )
            return
        if how == "cancel":
            assert self.api.post(f"{path}/cancel").status_code == 200
            return
        take = amount if how == "capture" else data.draw(st.integers(1, amount))
        reply = self.api.post(f"{path}/capture", {"amount": take})
        assert reply.status_code == 200, reply.text
        self.captured[rid] = take

    @precondition(lambda self: any(self.captured.values()))
    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        rid = data.draw(st.sampled_from(sorted(k for k, v in self.captured.items() if v)))
        amount = data.draw(st.integers(1, self.captured[rid]))
        body = {"reversal_id": unique("rev"), "amount": amount, "occurred_at": now_iso()}
        reply = self.api.post(f"/v1/redemptions/{rid}/reversals", body)
        assert reply.status_code == 201, reply.text
        self.captured[rid] -= amount

    @precondition(lambda self: any(v and k in self.paid_orders for k, v in self.captured.items()))
    @rule(data=st.data(), amount=st.integers(10_000, 100_000))
    def refund_an_order_paid_with_cashback(self, data: st.DataObject, amount: int) -> None:
        """The order a redemption paid for is reported as a purchase and comes back (in
        part): the cashback it was paid with comes back in proportion."""
        rid = data.draw(
            st.sampled_from(
                sorted(k for k, v in self.captured.items() if v and k in self.paid_orders)
            )
        )
        order_id = self.paid_orders.pop(rid)
        reply = self.api.purchase(self.customer, amount, order_id=order_id)
        assert reply.status_code == 201, reply.text
        table.ripen(self.stack, TENANT, self.customer, datetime.now(UTC))
        refunded = data.draw(st.integers(1, amount))
        back = self.api.refund(order_id, refunded)
        assert back.status_code == 201, back.text
        expected = self.captured[rid] * refunded // amount
        assert back.json()["cashback_returned"] == expected
        self.captured[rid] -= expected  # (its later refunds are not modelled: none made)

    @rule(behaviour=st.sampled_from(BEHAVIOURS), share=st.integers(1, 100))
    def payout(self, behaviour: str, share: int) -> None:
        have, debt = self._available(), self.api.balance(self.customer)["debt"]
        amount = max(2000, have * share // 100)
        body = {
            "payout_id": unique("pay"),
            "customer_id": self.customer,
            "amount": amount,
            "method": "pix",
            "destination": {"key_type": "email", "key": f"{behaviour}@example.com"},
        }
        reply = self.api.post("/v1/payouts", body)
        if debt:
            assert reply.json()["code"] == "customer_has_debt"
        elif amount > have:
            assert reply.json()["code"] == "insufficient_balance", reply.text
        else:
            assert reply.status_code == 202, reply.text
            self.payouts[body["payout_id"]] = amount

    @precondition(lambda self: bool(self.payouts))
    @rule(cancel=st.booleans())
    def settle_payouts(self, cancel: bool) -> None:
        if cancel:
            for payout_id in list(self.payouts):
                reply = self.api.post(f"/v1/payouts/{payout_id}/cancel")
                assert reply.status_code in (200, 409), reply.text
        for step in (timedelta(0), timedelta(minutes=6), timedelta(days=3)):
            at = max(self.later, datetime.now(UTC)) + step
            run_payout_job(self.stack, at)
            for status, reply in deliver_callbacks(self.stack, at):
                assert status in (200, 404), reply
        self.later = max(self.later, datetime.now(UTC)) + timedelta(days=3)
        self.payouts.clear()

    @invariant()
    def promises_hold(self) -> None:
        assert self.stack.store is not None
        account = self.stack.store.get_account(TENANT, self.customer)
        report = verify(self.stack.store, TENANT, self.customer)
        assert report.ok, report.problems
        assert account["available"] >= 0 and account["reserved"] >= 0
        lots = table.lots(self.stack, TENANT, self.customer)
        assert sum(lot.available for lot in lots.values()) == account["available"]
        assert sum(lot.pending for lot in lots.values()) == account["pending"]
        open_payouts = sum(self.payouts.values())
        assert account["reserved"] == sum(self.holds.values()) + open_payouts
        live = table.live_lot_keys(self.stack, TENANT, self.customer)
        assert live == {sk for sk, lot in lots.items() if lot.holds_cashback}


def test_money_out_keeps_the_ledger_exact_under_random_operations(stack: LocalStack) -> None:
    api = SpendingShop(stack, TENANT)
    machine = type("Machine", (MoneyOutMachine,), {"api": api, "stack": stack})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=8,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
