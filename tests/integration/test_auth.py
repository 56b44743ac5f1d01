"""API keys, scopes and tenancy, enforced by the real authorizer in front of every route."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from cashback.domain.clock import to_iso
from cashback.services import keys
from cashback_tools.local.stack import LocalStack

from .client import Api, unique

ROUTES = [
    ("POST", "/v1/purchases"),
    ("POST", "/v1/refunds"),
    ("GET", "/v1/customers/c1/balance"),
    ("GET", "/v1/customers/c1/entries"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_no_key_is_401(stack: LocalStack, method: str, path: str) -> None:
    reply = requests.request(method, stack.url + path, json={}, timeout=10)
    assert reply.status_code == 401
    assert reply.json()["code"] == "unauthorized"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer cbk_not-a-real-key",
        "Bearer",
        "Basic dXNlcjpwdw==",
        "cbk_no-scheme",
        "Bearer has spaces in it",
    ],
)
def test_unknown_or_malformed_key_is_401(stack: LocalStack, header: str) -> None:
    reply = requests.get(
        stack.url + "/v1/customers/c1/balance", headers={"Authorization": header}, timeout=10
    )
    assert reply.status_code == 401


def test_revoked_key_is_401(stack: LocalStack) -> None:
    assert stack.store is not None
    key = keys.create_key(stack.store, "acme", ["storefront"], to_iso(datetime.now(UTC)))
    api = Api(stack.url, key)
    assert api.get("/v1/customers/c1/balance").status_code == 200
    assert stack.store.revoke_api_key(keys.key_hash(key), to_iso(datetime.now(UTC)))
    assert api.get("/v1/customers/c1/balance").status_code == 401


@pytest.mark.parametrize("scope", ["admin", "review"])
def test_key_without_the_storefront_scope_cannot_report_purchases(
    stack: LocalStack, scope: str
) -> None:
    api = Api(stack.url, stack.keys["acme"][scope])
    reply = api.purchase(unique("cust"), 10000)
    assert reply.status_code == 403
    assert reply.json()["code"] == "forbidden"


def test_review_scope_may_read_a_customer_for_a_case(stack: LocalStack) -> None:
    api = Api(stack.url, stack.keys["acme"]["review"])
    assert api.get("/v1/customers/c1/balance").status_code == 200


def test_keys_are_stored_only_as_hashes(stack: LocalStack) -> None:
    assert stack.store is not None
    key = stack.keys["acme"]["storefront"]
    stored = stack.store.get_api_key(keys.key_hash(key))
    assert stored is not None and stored["tenant"] == "acme"
    assert key not in str(stored)


def test_another_tenant_cannot_see_a_customers_balance_or_history(acme: Api, globex: Api) -> None:
    customer = unique("shared-name")
    acme.purchase(customer, 100000)
    assert acme.balance(customer)["pending"] == 5000
    assert globex.balance(customer)["pending"] == 0
    assert globex.entries(customer).json()["items"] == []


def test_another_tenant_cannot_refund_or_overwrite_an_order(acme: Api, globex: Api) -> None:
    customer = unique("cust")
    order = acme.purchase(customer, 100000).json()
    reply = globex.refund(order["order_id"], 100000)
    assert (reply.status_code, reply.json()["code"]) == (404, "order_not_found")
    # The same order id at another storefront is that storefront's own order.
    theirs = globex.purchase(customer, 2000, order_id=order["order_id"])
    assert theirs.status_code == 201 and theirs.json()["cashback"] == 100
    assert acme.balance(customer)["pending"] == 5000


def test_tenant_in_the_body_is_refused_not_obeyed(acme: Api) -> None:
    reply = acme.purchase(unique("cust"), 1000, tenant="globex")
    assert (reply.status_code, reply.json()["code"]) == (422, "validation_error")
