"""Purchases, refunds, balances and history through the real HTTP API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from cashback.domain.clock import to_iso
from cashback_tools.audit import verify
from cashback_tools.local.stack import LocalStack

from .client import Api, now_iso, purchase_body, unique


def test_purchase_credits_pending_cashback_at_the_flat_rate(acme: Api, customer: str) -> None:
    occurred = now_iso(timedelta(hours=-1))
    reply = acme.purchase(customer, 12990, occurred_at=occurred)
    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert body["status"] == "pending"
    assert (body["cashback"], body["credited"], body["debt_repaid"]) == (649, 649, 0)
    assert body["currency"] == "BRL"
    assert acme.balance(customer)["pending"] == 649
    assert acme.balance(customer)["available"] == 0


def test_purchase_dates_follow_the_return_window_and_deadline(acme: Api, customer: str) -> None:
    occurred = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    local = occurred.astimezone(timezone(timedelta(hours=-3))).isoformat()
    body = acme.purchase(customer, 10000, occurred_at=local).json()
    assert body["available_at"] == to_iso(occurred + timedelta(days=30))
    assert body["expires_at"] == to_iso(occurred + timedelta(days=180))


def test_tiny_purchase_earns_nothing_and_says_so(acme: Api, customer: str) -> None:
    body = acme.purchase(customer, 19).json()
    assert (body["status"], body["cashback"], body["available_at"]) == ("no_cashback", 0, None)
    assert acme.balance(customer)["pending"] == 0


def test_retrying_a_purchase_returns_the_first_reply_and_credits_once(
    acme: Api, customer: str
) -> None:
    body = purchase_body(customer, 20000)
    first = acme.post("/v1/purchases", body)
    second = acme.post("/v1/purchases", body)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert acme.balance(customer)["pending"] == 1000
    assert len(acme.entries(customer).json()["items"]) == 1


def test_retry_spelling_the_same_moment_in_another_zone_is_the_same_request(
    acme: Api, customer: str
) -> None:
    body = purchase_body(customer, 20000, occurred_at=now_iso(timedelta(hours=-3)))
    first = acme.post("/v1/purchases", body)
    moment = datetime.strptime(body["occurred_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    same = {**body, "occurred_at": moment.astimezone(timezone(timedelta(hours=-3))).isoformat()}
    second = acme.post("/v1/purchases", same)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers.get("Idempotent-Replayed") == "true"


def test_same_order_id_with_a_different_body_is_a_conflict(acme: Api, customer: str) -> None:
    body = purchase_body(customer, 20000)
    assert acme.post("/v1/purchases", body).status_code == 201
    changed = {
        **body,
        "amount": 30000,
        "lines": [{"sku": "sku-1", "category": "shoes", "amount": 30000}],
    }
    reply = acme.post("/v1/purchases", changed)
    assert reply.status_code == 409
    assert reply.json()["code"] == "idempotency_conflict"
    assert acme.balance(customer)["pending"] == 1000


def test_partial_refund_claws_back_in_proportion_rounding_for_the_program(
    acme: Api, customer: str
) -> None:
    order = acme.purchase(customer, 12990).json()
    reply = acme.refund(order["order_id"], 6495)
    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert (body["clawed_back"], body["from_pending"], body["debt"]) == (325, 325, 0)
    assert body["order_refunded"] == 6495
    assert acme.balance(customer)["pending"] == 324


def test_successive_refunds_claw_back_exactly_the_whole_cashback(acme: Api, customer: str) -> None:
    order = acme.purchase(customer, 10001).json()  # cashback 500
    clawed = [
        acme.refund(order["order_id"], part).json()["clawed_back"] for part in (3333, 3333, 3335)
    ]
    assert sum(clawed) == 500
    assert acme.balance(customer)["pending"] == 0


def test_refund_retry_returns_the_first_reply_and_claws_back_once(acme: Api, customer: str) -> None:
    order = acme.purchase(customer, 10000).json()
    body = {
        "refund_id": unique("r"),
        "order_id": order["order_id"],
        "amount": 5000,
        "occurred_at": now_iso(),
    }
    first, second = acme.post("/v1/refunds", body), acme.post("/v1/refunds", body)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert acme.balance(customer)["pending"] == 250


def test_refund_id_reused_with_a_different_body_is_a_conflict(acme: Api, customer: str) -> None:
    order = acme.purchase(customer, 10000).json()
    body = {
        "refund_id": unique("r"),
        "order_id": order["order_id"],
        "amount": 5000,
        "occurred_at": now_iso(),
    }
    assert acme.post("/v1/refunds", body).status_code == 201
    reply = acme.post("/v1/refunds", {**body, "amount": 4000})
    assert (reply.status_code, reply.json()["code"]) == (409, "idempotency_conflict")
    assert acme.balance(customer)["pending"] == 250


def test_refund_of_an_unknown_order_is_404(acme: Api) -> None:
    reply = acme.refund(unique("nope"), 100)
    assert (reply.status_code, reply.json()["code"]) == (404, "order_not_found")


def test_refunding_more_than_was_paid_is_422_and_changes_nothing(acme: Api, customer: str) -> None:
    order = acme.purchase(customer, 10000).json()
    assert acme.refund(order["order_id"], 6000).status_code == 201
    reply = acme.refund(order["order_id"], 4001)
    assert (reply.status_code, reply.json()["code"]) == (422, "refund_exceeds_order")
    assert acme.balance(customer)["pending"] == 200
    assert acme.refund(order["order_id"], 4000).status_code == 201
    assert acme.balance(customer)["pending"] == 0


def test_refund_dated_before_its_purchase_is_422(acme: Api, customer: str) -> None:
    order = acme.purchase(customer, 10000).json()
    reply = acme.refund(order["order_id"], 100, occurred_at=now_iso(timedelta(days=-1)))
    assert (reply.status_code, reply.json()["code"]) == (422, "refund_before_purchase")


def test_balance_of_an_unknown_customer_is_all_zero(acme: Api) -> None:
    balance = acme.balance(unique("nobody"))
    assert {
        k: balance[k] for k in ("pending", "available", "held", "reserved", "debt")
    } == dict.fromkeys(("pending", "available", "held", "reserved", "debt"), 0)
    assert balance["next_expiry"] is None and balance["next_deadlines"] == []


def test_balance_shows_the_next_three_deadlines_and_what_falls_due_at_each(
    acme: Api, customer: str
) -> None:
    """What expires when, at a glance: lots sharing a deadline are summed, the earliest
    three deadlines shown, earliest first; a fully refunded order's deadline is gone."""
    days = (-5, -4, -4, -3, -2, -1)  # two purchases on day -4: one deadline
    at = {d: now_iso(timedelta(days=d)) for d in days}  # the same instant for both
    orders = [
        acme.purchase(customer, 10000 * (i + 1), occurred_at=at[d]).json()
        for i, d in enumerate(days)
    ]
    assert acme.refund(orders[0]["order_id"], 10000).status_code == 201  # day -5 is gone
    balance = acme.balance(customer)
    assert balance["next_deadlines"] == [
        {"at": orders[1]["expires_at"], "amount": 1000 + 1500},
        {"at": orders[3]["expires_at"], "amount": 2000},
        {"at": orders[4]["expires_at"], "amount": 2500},
    ]
    assert orders[1]["expires_at"] == orders[2]["expires_at"]
    assert balance["next_expiry"] == balance["next_deadlines"][0]
    assert balance["pending"] == 1000 + 1500 + 2000 + 2500 + 3000


def test_balance_shows_the_next_deadline_and_what_falls_due(acme: Api, customer: str) -> None:
    first = acme.purchase(customer, 10000, occurred_at=now_iso(timedelta(days=-2))).json()
    acme.purchase(customer, 20000)
    balance = acme.balance(customer)
    assert balance["next_expiry"] == {"at": first["expires_at"], "amount": 500}
    assert balance["pending"] == 1500


def test_entries_are_newest_first_and_pages_never_repeat_or_skip(acme: Api, customer: str) -> None:
    orders = [acme.purchase(customer, 1000 * (i + 1)).json()["order_id"] for i in range(5)]
    first = acme.entries(customer, limit=2).json()
    assert [e["ref"] for e in first["items"]] == [orders[4], orders[3]]
    # Entries written while the client pages do not shift the pages it has not read yet.
    acme.purchase(customer, 7000)
    second = acme.entries(customer, limit=2, cursor=first["next_cursor"]).json()
    third = acme.entries(customer, limit=2, cursor=second["next_cursor"]).json()
    assert [e["ref"] for e in second["items"]] == [orders[2], orders[1]]
    assert [e["ref"] for e in third["items"]] == [orders[0]]
    assert third["next_cursor"] is None
    assert [e["seq"] for e in first["items"] + second["items"] + third["items"]] == [5, 4, 3, 2, 1]


def test_entries_carry_the_hash_chain(acme: Api, customer: str) -> None:
    order = acme.purchase(customer, 10000).json()
    acme.refund(order["order_id"], 10000)
    newest, oldest = acme.entries(customer).json()["items"]
    assert newest["prev_hash"] == oldest["hash"]
    assert newest["changes"] == {"pending": -500, "clawed_back": 500}
    assert oldest["changes"] == {"earned": 500, "pending": 500}


def test_ledger_verifies_after_the_whole_module(stack: LocalStack) -> None:
    assert stack.store is not None
    report = verify(stack.store, "acme")
    assert report.customers > 0 and report.ok, report.problems
