"""Jepsen-style bank test for the ledger: random purchases, refunds and retries against
DynamoDB Local over HTTP; after every step the ledger's promises must hold."""

from __future__ import annotations

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

from cashback.domain.ledger import cashback_for, clawback_for
from cashback.domain.tenants import DEFAULT_RATE
from cashback_tools.audit import verify
from cashback_tools.local.stack import LocalStack

from . import table
from .client import Api, now_iso, purchase_body, unique


class LedgerMachine(RuleBasedStateMachine):
    api: Api
    stack: LocalStack

    def __init__(self) -> None:
        super().__init__()
        self.customer = unique("prop")
        self.orders: dict[str, dict[str, Any]] = {}  # order_id -> model of the order
        self.sent: list[tuple[str, dict[str, Any], dict[str, Any]]] = []  # path, body, reply
        self.effects = 0  # requests that wrote to the ledger

    @rule(amount=st.integers(1, 10**7))
    def purchase(self, amount: int) -> None:
        body = purchase_body(self.customer, amount)
        reply = self.api.post("/v1/purchases", body)
        assert reply.status_code == 201, reply.text
        cashback = cashback_for(amount, DEFAULT_RATE)
        assert reply.json()["cashback"] == cashback
        self.orders[body["order_id"]] = {
            "amount": amount,
            "refunded": 0,
            "cashback": cashback,
            "clawed": 0,
        }
        self.sent.append(("/v1/purchases", body, reply.json()))
        self.effects += 1

    @precondition(lambda self: any(o["refunded"] < o["amount"] for o in self.orders.values()))
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        open_orders = sorted(k for k, o in self.orders.items() if o["refunded"] < o["amount"])
        order_id = data.draw(st.sampled_from(open_orders))
        order = self.orders[order_id]
        amount = data.draw(st.integers(1, order["amount"] - order["refunded"]))
        body = {
            "refund_id": unique("r"),
            "order_id": order_id,
            "amount": amount,
            "occurred_at": now_iso(),
        }
        reply = self.api.post("/v1/refunds", body)
        assert reply.status_code == 201, reply.text
        expected = clawback_for(order["cashback"], order["amount"], order["refunded"], amount)
        assert reply.json()["clawed_back"] == expected
        order["refunded"] += amount
        order["clawed"] += expected
        self.sent.append(("/v1/refunds", body, reply.json()))
        self.effects += 1

    @precondition(lambda self: any(o["refunded"] < o["amount"] for o in self.orders.values()))
    @rule(data=st.data())
    def refund_too_much(self, data: st.DataObject) -> None:
        order_id = data.draw(st.sampled_from(sorted(self.orders)))
        order = self.orders[order_id]
        reply = self.api.refund(order_id, order["amount"] - order["refunded"] + 1)
        assert (reply.status_code, reply.json()["code"]) == (422, "refund_exceeds_order")

    @precondition(lambda self: bool(self.sent))
    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        path, body, first = data.draw(st.sampled_from(self.sent))
        reply = self.api.post(path, body)
        assert reply.status_code == 201
        assert reply.json() == first

    @precondition(lambda self: bool(self.orders))
    @rule(data=st.data())
    def reuse_order_id_with_another_body(self, data: st.DataObject) -> None:
        order_id = data.draw(st.sampled_from(sorted(self.orders)))
        amount = self.orders[order_id]["amount"] + 1
        body = purchase_body(self.customer, amount, order_id=order_id)
        assert self.api.post("/v1/purchases", body).status_code == 409

    @invariant()
    def promises_hold(self) -> None:
        balance = self.api.balance(self.customer)
        expected_pending = sum(o["cashback"] - o["clawed"] for o in self.orders.values())
        assert balance["pending"] + balance["held"] == expected_pending
        assert balance["available"] >= 0 and balance["debt"] >= 0
        assert self.stack.store is not None
        # Chain intact, every balance equals its entries, earned is conserved.
        report = verify(self.stack.store, "acme", self.customer)
        assert report.ok, report.problems
        assert report.entries == self.effects  # retries and refusals wrote nothing
        # The sparse `live` index holds exactly the lots that still hold cashback.
        lots = table.lots(self.stack, "acme", self.customer)
        live = table.live_lot_keys(self.stack, "acme", self.customer)
        assert live == {sk for sk, lot in lots.items() if lot.holds_cashback}


def test_ledger_promises_hold_under_random_operations(stack: LocalStack, acme: Api) -> None:
    machine = type("Machine", (LedgerMachine,), {"api": acme, "stack": stack})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=20,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
