"""A customer's history costs nothing to read past: lots that no longer hold cashback leave
the sparse `live` index in the same write that empties them, and the balance reads only the
index (DynamoDB Local, the real handlers over HTTP, the real service and adapter)."""

from __future__ import annotations

from typing import Any

from cashback.adapters.dynamodb.table import customer_pk
from cashback.services import balances
from cashback_tools.local.stack import LocalStack

from . import table
from .client import Api, now_iso, unique


def test_emptied_lots_leave_the_live_index_and_the_balance_reads_only_live_ones(
    stack: LocalStack, acme: Api
) -> None:
    customer = unique("history")
    orders, at = [], now_iso()  # one deadline for all: the next expiry sums the live lots
    for _ in range(12):
        reply = acme.purchase(customer, 10000, occurred_at=at)
        assert reply.status_code == 201, reply.text
        orders.append(reply.json()["order_id"])
    for order_id in orders[:10]:  # returned in full: their cashback is clawed back
        assert acme.refund(order_id, 10000).status_code == 201

    every_lot = table.lots(stack, "acme", customer)
    assert len(every_lot) == 12
    holding = {sk for sk, lot in every_lot.items() if lot.holds_cashback}
    assert len(holding) == 2  # the two orders kept
    assert table.live_lot_keys(stack, "acme", customer) == holding
    live = table.query(stack, customer_pk("acme", customer), IndexName="live")
    assert live["ScannedCount"] == 2  # sparse: the ten emptied lots are not even read

    scanned: list[int] = []
    client: Any = stack.store.client
    hook = "after-call.dynamodb.Query"

    def count(parsed: dict[str, Any], **_: Any) -> None:
        scanned.append(parsed.get("ScannedCount", 0))

    client.meta.events.register(hook, count)
    try:
        balance = balances.balance(stack.store, "acme", customer)
    finally:
        client.meta.events.unregister(hook, count)
    assert sum(scanned) == 2
    on_lots = sum(every_lot[sk].pending + every_lot[sk].available for sk in holding)
    assert balance.account["pending"] + balance.account["available"] == on_lots == 2 * 500
    assert balance.next_expiry is not None and balance.next_expiry.amount == on_lots
    assert acme.balance(customer)["next_expiry"]["amount"] == on_lots
