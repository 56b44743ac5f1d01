"""Refund-abuse screening through the real API: the shipped model, lists and rules decide
before any cashback reaches a balance; the storefront's reply says only the status."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pytest

from cashback.adapters.dynamodb.store import Store
from cashback.domain.tenants import TenantSettings
from cashback_tools.local.stack import LocalStack

from .client import Api, now_iso, purchase_body, unique


def _storefront(
    stack: LocalStack, lists: tuple[tuple[str, str], ...] = (), **settings: Any
) -> tuple[str, Api]:
    """A storefront with `lists` entries ((kind, value) pairs) put by its analysts."""
    tenant = unique("guarded")
    keys = stack.add_tenant(tenant, TenantSettings(currency="BRL", **settings), now_iso())
    analyst = Api(stack.url, keys["review"])
    for kind, value in lists:
        put = analyst.session.put(
            f"{stack.url}/v1/lists/{kind}/{value}", json={"reason": "test"}, timeout=30
        )
        assert put.status_code == 200, put.text
    return tenant, Api(stack.url, keys["storefront"])


def _order(store: Store, tenant: str, order_id: str) -> dict[str, Any]:
    order = store.get_order(tenant, order_id)
    assert order is not None
    return {k: v for k, v in asdict(order).items() if v is not None}


def _burst(api: Api, customer: str, orders: int = 8) -> list[dict[str, Any]]:
    """A fresh account buying again and again within a minute, on one device."""
    return [api.purchase(customer, 30000 + i, device_id="dev-burst").json() for i in range(orders)]


def test_an_ordinary_first_purchase_is_credited(stack: LocalStack) -> None:
    tenant, api = _storefront(stack)
    reply = api.purchase(unique("c"), 15990, device_id=unique("dev"))
    assert reply.json()["status"] == "pending"
    assert stack.store is not None
    record = _order(stack.store, tenant, reply.json()["order_id"])
    assert record["risk"]["action"] == "allow"
    assert record["risk"]["model_version"].startswith("refund-abuse-")
    assert 0 < float(record["risk"]["score"]) <= 1


def test_a_velocity_burst_is_held_for_review_with_reasons(stack: LocalStack) -> None:
    tenant, api = _storefront(stack)
    customer = unique("burst")
    replies = _burst(api, customer)
    held = [r for r in replies if r["status"] == "held"]
    assert held, [r["status"] for r in replies]
    # The storefront learns only the status: no score, no reasons, no dates.
    assert set(held[0]) == set(replies[0])
    assert held[0]["available_at"] is None and held[0]["credited"] == 0
    balance = api.balance(customer)
    assert balance["held"] == sum(r["cashback"] for r in held)
    assert balance["pending"] == sum(r["cashback"] for r in replies if r["status"] == "pending")
    assert stack.store is not None
    case = _order(stack.store, tenant, held[0]["order_id"])
    assert case["case_status"] == "open"
    assert case["risk"]["action"] == "review" and case["risk"]["reasons"]
    assert all(isinstance(reason, str) and reason for reason in case["risk"]["reasons"])
    assert len(case["risk"]["reasons"]) <= 3
    newest = api.entries(customer, limit=1).json()["items"][0]
    if replies[-1]["status"] == "held":
        assert newest["changes"] == {"held": replies[-1]["cashback"]}


def test_a_device_on_the_deny_list_is_blocked_and_credits_nothing(stack: LocalStack) -> None:
    tenant, api = _storefront(stack, lists=(("deny_device", "dev-stolen"),))
    customer = unique("c")
    reply = api.purchase(customer, 20000, device_id="dev-stolen").json()
    assert reply["status"] == "blocked" and reply["credited"] == 0
    balance = api.balance(customer)
    assert (balance["pending"], balance["held"]) == (0, 0)
    assert stack.store is not None
    record = _order(stack.store, tenant, reply["order_id"])
    assert record["risk"]["rules_fired"] == ["deny_list:device"]
    assert record["risk"]["reasons"] == ["device on the deny list"]


def test_an_allow_listed_customer_is_never_held(stack: LocalStack) -> None:
    customer = unique("vip")
    _, api = _storefront(stack, lists=(("allow_customer", customer),))
    assert {r["status"] for r in _burst(api, customer)} == {"pending"}


def test_shadow_mode_scores_and_records_but_never_holds(stack: LocalStack) -> None:
    tenant, api = _storefront(stack, risk_mode="shadow")
    customer = unique("burst")
    replies = _burst(api, customer)
    assert {r["status"] for r in replies} == {"pending"}
    assert stack.store is not None
    records = [_order(stack.store, tenant, r["order_id"])["risk"] for r in replies]
    assert all(r["shadow"] and r["action"] == "allow" for r in records)
    assert any(r["would_be"] != "allow" for r in records)


def test_refunding_a_held_purchase_takes_it_out_of_review_and_closes_the_case(
    stack: LocalStack,
) -> None:
    tenant, api = _storefront(stack)
    customer = unique("burst")
    held = [r for r in _burst(api, customer) if r["status"] == "held"][0]
    refund = api.refund(held["order_id"], _amount(held, stack, tenant)).json()
    assert (refund["from_held"], refund["from_pending"], refund["debt"]) == (held["cashback"], 0, 0)
    assert stack.store is not None
    assert _order(stack.store, tenant, held["order_id"])["case_status"] == "closed"


def _amount(reply: dict[str, Any], stack: LocalStack, tenant: str) -> int:
    assert stack.store is not None
    return int(_order(stack.store, tenant, reply["order_id"])["amount"])


@pytest.mark.parametrize("mode", ["off"])
def test_screening_off_records_no_decision(stack: LocalStack, mode: str) -> None:
    tenant, api = _storefront(stack, risk_mode=mode)
    reply = api.post("/v1/purchases", purchase_body(unique("c"), 10000)).json()
    assert stack.store is not None
    assert "risk" not in _order(stack.store, tenant, reply["order_id"])


def test_refunding_a_blocked_purchase_takes_nothing_back(stack: LocalStack) -> None:
    _, api = _storefront(stack, lists=(("deny_device", "dev-stolen"),))
    reply = api.purchase(unique("c"), 20000, device_id="dev-stolen").json()
    refund = api.refund(reply["order_id"], 20000).json()
    assert (refund["clawed_back"], refund["forgiven"], refund["debt"]) == (0, 0, 0)
