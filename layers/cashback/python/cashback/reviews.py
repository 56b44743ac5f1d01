"""The risk analysts' side: the queue of held purchases, each case, and decisions.

A held purchase's cashback waits in `held` until an analyst approves it (it is earned and
ripens like any other) or rejects it (voided). The decision, who made it and why stay on
the order: they are the labels the next model learns from."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
from datetime import datetime
from typing import Any

from cashback import balances, ledger
from cashback.api.models import ID_PATTERN, DecisionReply, ReviewCase, ReviewItem, ReviewPage
from cashback.clock import from_iso, to_iso
from cashback.errors import BadRequest, Conflict, NotFound
from cashback.risk.features import CustomerAggregates
from cashback.store import AccountMoved, Order, Store


def _item(order: Order) -> dict[str, Any]:
    risk = order.risk or {}
    score = risk.get("score")
    return {"order_id": order.order_id, "customer_id": order.customer_id,
            "amount": order.amount, "cashback": order.cashback,
            "occurred_at": order.occurred_at, "score": float(score) if score else None,
            "model_version": risk.get("model_version", ""), "reasons": risk.get("reasons", []),
            "rules_fired": risk.get("rules_fired", [])}


def _cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    plain = {name: value["S"] for name, value in key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


_QUEUE_SK = re.compile(r"[0-9]{6}#([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)#("
                       + ID_PATTERN.strip("^$") + ")")


def _key(cursor: str, tenant: str) -> dict[str, Any]:
    """The queue position a cursor names. Only a cursor this API could have returned to
    this tenant is one: the exact encoding, the four keys of an order's queue entry, each
    in its format and agreeing with the others. Anything else is 400, never a query."""
    plain: Any = None
    with contextlib.suppress(binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        plain = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    found = _QUEUE_SK.fullmatch(plain.get("queue_sk", "")) if isinstance(plain, dict) \
        and all(isinstance(value, str) for value in plain.values()) else None
    valid = found is not None and plain == {
        "pk": f"ORDER#{tenant}#{found.group(2)}", "sk": "ORDER",
        "queue_pk": f"REVIEW#{tenant}", "queue_sk": found.group(0)}
    if valid:
        try:
            from_iso(found.group(1))  # type: ignore[union-attr]
        except ValueError:
            valid = False
    key = {name: {"S": value} for name, value in plain.items()} if valid else None
    if key is None or _cursor(key) != cursor:
        raise BadRequest("cursor is not one this API returned", code="invalid_cursor")
    return key


def queue(store: Store, tenant: str, limit: int, cursor: str | None) -> ReviewPage:
    orders, last = store.review_queue(tenant, limit, _key(cursor, tenant) if cursor else None)
    return ReviewPage(items=[ReviewItem(**_item(order)) for order in orders],
                      next_cursor=_cursor(last))


def case(store: Store, tenant: str, currency: str, order_id: str) -> ReviewCase:
    order = store.get_order(tenant, order_id)
    if order is None or order.risk is None:
        raise NotFound(f"no screened purchase {order_id}", code="case_not_found")
    account = store.get_account(tenant, order.customer_id)
    history = CustomerAggregates.from_item(account.risk) if account.risk else None
    customer = {
        "balance": balances.balance(store, tenant, currency, order.customer_id)
        .model_dump(mode="json"),
        "recent_entries": balances.entries(store, tenant, currency, order.customer_id, 10, None)
        .model_dump(mode="json")["items"],
        "orders": history.orders if history else 0,
        "ordered": history.ordered if history else 0,
        "refunds": history.refunds if history else 0,
        "refunded": history.refunded if history else 0,
    }
    return ReviewCase(**_item(order), status=order.status, case_status=order.case_status,
                      decision=order.decision, refunded=order.refunded, customer=customer)


def decide(store: Store, tenant: str, order_id: str, verdict: str, note: str, analyst: str,
           now: datetime) -> DecisionReply:
    for _ in range(5):
        order = store.get_order(tenant, order_id)
        if order is None or order.risk is None:
            raise NotFound(f"no screened purchase {order_id}", code="case_not_found")
        if order.case_status != "open":
            made = (order.decision or {}).get("decision", "closed by a refund")
            raise Conflict(f"this case is closed ({made})", code="case_closed")
        lot, account = store.load_lot_and_account(order)
        if lot is None:
            raise Conflict("this case has no held cashback left", code="case_closed")
        step = (ledger.approve if verdict == "approve" else ledger.reject)(
            account, lot, order_id=order_id, decided_at=now)
        record = {"decision": verdict, "note": note, "by": analyst, "at": to_iso(now)}
        try:
            store.commit_decision(order, record, lot, step.lot, step.entry, account,
                                  step.account, to_iso(now))
        except AccountMoved:
            continue  # a purchase, refund or another analyst got there first: look again
        status = "rejected" if verdict == "reject" else \
            "pending" if step.lot.pending else "no_cashback"
        return DecisionReply(order_id=order_id, decision=verdict,  # type: ignore[arg-type]
                             status=status, cashback=lot.pending)  # type: ignore[arg-type]
    raise Conflict("this case kept changing; look again", code="case_changed")
