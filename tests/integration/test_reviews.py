"""The analysts' queue: held purchases wait, riskiest first, until approved or rejected."""

from __future__ import annotations

from typing import Any

import pytest

from cashback.domain.tenants import TenantSettings
from cashback_tools.audit import verify
from cashback_tools.local.stack import LocalStack

from .client import Api, now_iso, unique


class Desk:
    """One enforcing storefront, its storefront key and its analysts' key."""

    def __init__(self, stack: LocalStack) -> None:
        self.tenant = unique("desk")
        keys = stack.add_tenant(self.tenant, TenantSettings(currency="BRL"), now_iso())
        self.shop = Api(stack.url, keys["storefront"])
        self.analyst = Api(stack.url, keys["review"])

    def held(self, orders: int = 8) -> list[dict[str, Any]]:
        customer = unique("burst")
        replies = [
            self.shop.purchase(customer, 30000 + i, device_id="dev-1").json() for i in range(orders)
        ]
        held = [reply for reply in replies if reply["status"] == "held"]
        assert held, "the burst should have been held"
        return held

    def decide(self, order_id: str, body: Any) -> Any:
        return self.analyst.post(f"/v1/reviews/{order_id}/decision", body)


@pytest.fixture
def desk(stack: LocalStack) -> Desk:
    return Desk(stack)


def test_queue_lists_held_purchases_riskiest_first_with_reasons(desk: Desk) -> None:
    held = desk.held()
    page = desk.analyst.get("/v1/reviews", params={"status": "open"}).json()
    assert {item["order_id"] for item in page["items"]} == {r["order_id"] for r in held}
    scores = [item["score"] for item in page["items"]]
    assert scores == sorted(scores, reverse=True)
    assert all(item["reasons"] and item["model_version"] for item in page["items"])


def test_queue_pages_with_a_cursor(desk: Desk) -> None:
    held = desk.held()
    first = desk.analyst.get("/v1/reviews", params={"limit": 2}).json()
    second = desk.analyst.get(
        "/v1/reviews", params={"limit": 50, "cursor": first["next_cursor"]}
    ).json()
    seen = [i["order_id"] for i in first["items"] + second["items"]]
    assert sorted(seen) == sorted(r["order_id"] for r in held)


def test_case_shows_the_score_reasons_and_the_customers_history(desk: Desk) -> None:
    held = desk.held()[0]
    case = desk.analyst.get(f"/v1/reviews/{held['order_id']}").json()
    assert case["case_status"] == "open" and case["status"] == "held"
    assert case["customer"]["balance"]["held"] >= held["cashback"]
    assert case["customer"]["orders"] == 8
    assert case["customer"]["recent_entries"]


def test_approving_credits_the_held_cashback_and_closes_the_case(
    stack: LocalStack, desk: Desk
) -> None:
    held = desk.held()[0]
    customer = held["customer_id"]
    before = desk.shop.balance(customer)
    reply = desk.decide(held["order_id"], {"decision": "approve", "note": "known customer"})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "order_id": held["order_id"],
        "decision": "approve",
        "status": "pending",
        "cashback": held["cashback"],
        "customer_list": None,
    }
    after = desk.shop.balance(customer)
    assert after["held"] == before["held"] - held["cashback"]
    assert after["pending"] == before["pending"] + held["cashback"]
    queue = desk.analyst.get("/v1/reviews").json()["items"]
    assert held["order_id"] not in {item["order_id"] for item in queue}
    again = desk.decide(held["order_id"], {"decision": "reject"})
    assert (again.status_code, again.json()["code"]) == (409, "case_closed")
    case = desk.analyst.get(f"/v1/reviews/{held['order_id']}").json()
    assert case["status"] == "pending" and case["case_status"] == "closed"
    assert case["decision"]["note"] == "known customer"
    assert case["decision"]["by"].startswith("cbk_")
    assert stack.store is not None and verify(stack.store, desk.tenant, customer).ok


def test_rejecting_voids_the_held_cashback(stack: LocalStack, desk: Desk) -> None:
    held = desk.held()[0]
    customer = held["customer_id"]
    before = desk.shop.balance(customer)
    reply = desk.decide(held["order_id"], {"decision": "reject", "note": "ring"})
    assert reply.json()["status"] == "rejected"
    after = desk.shop.balance(customer)
    assert after["held"] == before["held"] - held["cashback"]
    assert after["pending"] == before["pending"]
    kinds = [e["kind"] for e in desk.shop.entries(customer, limit=1).json()["items"]]
    assert kinds == ["reject"]
    case = desk.analyst.get(f"/v1/reviews/{held['order_id']}").json()
    assert case["status"] == "rejected"  # no longer "held"
    assert stack.store is not None and verify(stack.store, desk.tenant, customer).ok


def test_a_refund_of_a_held_purchase_takes_it_out_of_the_queue(desk: Desk) -> None:
    held = desk.held()[0]
    amount = desk.analyst.get(f"/v1/reviews/{held['order_id']}").json()["amount"]
    refund = desk.shop.refund(held["order_id"], amount).json()
    assert (refund["from_held"], refund["from_pending"]) == (held["cashback"], 0)
    queue = desk.analyst.get("/v1/reviews").json()["items"]
    assert held["order_id"] not in {item["order_id"] for item in queue}
    closed = desk.decide(held["order_id"], {"decision": "approve"})
    assert (closed.status_code, closed.json()["code"]) == (409, "case_closed")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"decision": "maybe"}, 422, "validation_error"),
        ({"decision": "approve", "amount": 10}, 422, "validation_error"),
        ({"decision": "approve", "note": "x" * 1001}, 422, "validation_error"),
        ({}, 422, "validation_error"),
    ],
)
def test_bad_decisions_are_refused_and_change_nothing(
    desk: Desk, body: Any, status: int, code: str
) -> None:
    held = desk.held()[0]
    reply = desk.decide(held["order_id"], body)
    assert (reply.status_code, reply.json()["code"]) == (status, code)
    assert desk.analyst.get(f"/v1/reviews/{held['order_id']}").json()["case_status"] == "open"


def test_unknown_cases_cursors_and_filters_are_4xx(desk: Desk) -> None:
    missing = desk.analyst.get(f"/v1/reviews/{unique('nope')}")
    assert (missing.status_code, missing.json()["code"]) == (404, "case_not_found")
    decided = desk.decide(unique("nope"), {"decision": "approve"})
    assert (decided.status_code, decided.json()["code"]) == (404, "case_not_found")
    assert desk.analyst.get("/v1/reviews", params={"cursor": "garbage"}).status_code == 400
    assert desk.analyst.get("/v1/reviews", params={"status": "closed"}).status_code == 422
    assert desk.analyst.get("/v1/reviews", params={"limit": 0}).status_code == 422


def test_only_review_keys_work_the_queue(desk: Desk) -> None:
    assert desk.shop.get("/v1/reviews").status_code == 403
    held = desk.held()[0]
    assert (
        desk.shop.post(
            f"/v1/reviews/{held['order_id']}/decision", {"decision": "approve"}
        ).status_code
        == 403
    )


def test_a_suspicious_purchase_that_earns_nothing_opens_no_case(
    stack: LocalStack, desk: Desk
) -> None:
    held = desk.held()  # the customer's burst is being held
    customer = held[0]["customer_id"]
    reply = desk.shop.purchase(customer, 10, device_id="dev-1").json()  # 5% of 0.10: 0
    assert stack.store is not None
    order = stack.store.get_order(desk.tenant, reply["order_id"])
    assert order is not None and order.risk is not None
    assert order.risk["action"] == "review"  # screened as the burst was...
    assert reply["status"] == "no_cashback" and reply["cashback"] == 0
    assert order.case_status is None  # ...but there is nothing to hold, so no case
    queue = desk.analyst.get("/v1/reviews").json()["items"]
    assert reply["order_id"] not in {item["order_id"] for item in queue}


def test_a_decision_carries_a_close_reason_for_the_next_model(
    stack: LocalStack, desk: Desk
) -> None:
    held = desk.held()
    bad = desk.decide(held[0]["order_id"], {"decision": "reject", "reason": "hunch"})
    assert bad.status_code == 422 and bad.json()["details"][0]["field"] == "reason"
    body = {"decision": "reject", "reason": "refund_abuse", "note": "returns every order"}
    assert desk.decide(held[0]["order_id"], body).status_code == 200
    again = desk.decide(held[0]["order_id"], body)  # the same analyst's retry
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
    other = desk.decide(held[0]["order_id"], {**body, "reason": "velocity"})
    assert (other.status_code, other.json()["code"]) == (409, "case_closed")
    case = desk.analyst.get(f"/v1/reviews/{held[0]['order_id']}").json()
    assert case["decision"]["reason"] == "refund_abuse"
    assert case["decision"]["note"] == "returns every order"
    # Without a reason, as clients before it: still accepted, and none recorded.
    plain = desk.decide(held[1]["order_id"], {"decision": "approve"})
    assert plain.status_code == 200
    assert "reason" not in desk.analyst.get(f"/v1/reviews/{held[1]['order_id']}").json()["decision"]
