"""Issue 8, findings 3 and 4: every body is read one strict way at the HTTP edge, every
timestamp is RFC 3339 within sane years, and only cursors we issued are followed.

Each case was a 500 (or silently accepted) before; now it is an exact 4xx with a stable
code, and the ledger, the queue and the rules are unchanged."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from cashback.domain.tenants import TenantSettings
from cashback_tools.local.stack import LocalStack

from .client import Api, now_iso, purchase_body, unique

JSON = {"Content-Type": "application/json"}


def _nested(depth: int) -> bytes:
    return b'{"a": ' * depth + b"1" + b"}" * depth


class Shop:
    """A storefront of its own, so nothing another test does shows up in its lists."""

    def __init__(self, stack: LocalStack) -> None:
        self.tenant = unique("strict")
        keys = stack.add_tenant(
            self.tenant, TenantSettings(currency="BRL", risk_mode="shadow"), now_iso()
        )
        self.api = Api(stack.url, keys["storefront"])
        self.analyst = Api(stack.url, keys["review"])
        self.admin = Api(stack.url, keys["admin"])
        self.customer = unique("cust")
        order = self.api.purchase(self.customer, 10000)
        assert order.status_code == 201, order.text
        self.order_id = order.json()["order_id"]

    def send(self, route: str, data: bytes, headers: dict[str, str]) -> Any:
        method, path = route.split(" ", 1)
        api = (
            self.admin
            if path == "/v1/rules"
            else self.analyst
            if path.startswith("/v1/reviews")
            else self.api
        )
        return api.session.request(
            method,
            api.base_url + path.format(order=self.order_id),
            data=data,
            headers=headers,
            timeout=30,
        )

    def unchanged(self) -> None:
        """Still exactly the one purchase: nothing a refused request sent was recorded."""
        assert len(self.api.entries(self.customer).json()["items"]) == 1
        assert self.api.balance(self.customer)["pending"] == 500
        rules = self.admin.get("/v1/rules").json()
        assert rules["in_force"] is None and rules["versions"] == []


@pytest.fixture(scope="module")
def shop(stack: LocalStack) -> Shop:
    return Shop(stack)


# Every route with a body: each goes through the same edge.
BODY_ROUTES = [
    "POST /v1/purchases",
    "POST /v1/refunds",
    "PUT /v1/rules",
    "POST /v1/reviews/{order}/decision",
]

RAW_CASES: dict[str, tuple[Callable[[Shop], bytes], dict[str, str], int, str]] = {
    "JSON nested 2,000 deep": (lambda _: _nested(2000), JSON, 400, "json_too_deep"),
    "JSON nested 33 deep": (lambda _: _nested(33), JSON, 400, "json_too_deep"),
    "a body that is not UTF-8 (Latin-1)": (
        lambda _: '{"note": "ação"}'.encode("latin-1"),
        JSON,
        400,
        "invalid_encoding",
    ),
    "a body with a lone UTF-8 continuation byte": (
        lambda _: b'{"note": "\x80"}',
        JSON,
        400,
        "invalid_encoding",
    ),
    "text/plain": (lambda _: b"{}", {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
    "a form": (
        lambda _: b"decision=approve",
        {"Content-Type": "application/x-www-form-urlencoded"},
        415,
        "unsupported_media_type",
    ),
    "multipart": (
        lambda _: b"--x\r\n\r\n--x--",
        {"Content-Type": "multipart/form-data; boundary=x"},
        415,
        "unsupported_media_type",
    ),
    "no Content-Type": (lambda _: b"{}", {}, 415, "unsupported_media_type"),
    "JSON in another charset": (
        lambda _: b"{}",
        {"Content-Type": "application/json; charset=latin-1"},
        415,
        "unsupported_media_type",
    ),
    "NaN": (lambda _: b'{"amount": NaN}', JSON, 400, "invalid_json"),
    "a number with 5,000 digits": (
        lambda _: b'{"amount": ' + b"9" * 5000 + b"}",
        JSON,
        400,
        "invalid_json",
    ),
    "a lone surrogate": (lambda _: b'{"note": "\\ud800"}', JSON, 400, "invalid_json"),
}


@pytest.mark.parametrize("case", RAW_CASES, ids=list(RAW_CASES))
@pytest.mark.parametrize("route", BODY_ROUTES)
def test_unreadable_bodies_are_refused_on_every_route(shop: Shop, route: str, case: str) -> None:
    make, headers, status, code = RAW_CASES[case]
    reply = shop.send(route, make(shop), headers)
    assert (reply.status_code, reply.json()["code"]) == (status, code), reply.text
    assert reply.json()["message"]
    shop.unchanged()


def test_json_content_type_with_utf8_charset_is_json(shop: Shop) -> None:
    body = purchase_body(unique("cust"), 10000)
    reply = shop.api.post(
        "/v1/purchases",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "Application/JSON; charset=UTF-8"},
    )
    assert reply.status_code == 201, reply.text


def _duplicate(first: dict[str, Any], key: str, last_value: Any) -> bytes:
    """The object's text with `key` given again at the end: a proxy reads the first."""
    text = json.dumps(first)
    return (text[:-1] + f", {json.dumps(key)}: {json.dumps(last_value)}}}").encode()


def test_duplicate_keys_are_refused_whoever_reads_which(shop: Shop) -> None:
    body = purchase_body(shop.customer, 10000)
    reply = shop.api.post(
        "/v1/purchases", data=_duplicate(body, "customer_id", "victim"), headers=JSON
    )
    assert (reply.status_code, reply.json()["code"]) == (400, "duplicate_key"), reply.text
    assert "customer_id" in reply.json()["message"]
    assert shop.api.entries("victim").json()["items"] == []
    shop.unchanged()


def test_duplicate_keys_in_a_nested_object_are_refused(shop: Shop) -> None:
    body = purchase_body(shop.customer, 10000)
    line = json.dumps(body["lines"][0])
    text = json.dumps({**body, "lines": ["LINE"]}).replace(
        '"LINE"', line[:-1] + ', "category": "gift-cards"}'
    )
    reply = shop.api.post("/v1/purchases", data=text.encode(), headers=JSON)
    assert (reply.status_code, reply.json()["code"]) == (400, "duplicate_key"), reply.text
    shop.unchanged()


@pytest.mark.parametrize("route", BODY_ROUTES)
def test_duplicate_keys_are_refused_on_every_route(shop: Shop, route: str) -> None:
    reply = shop.send(route, b'{"a": 1, "a": 2}', JSON)
    assert (reply.status_code, reply.json()["code"]) == (400, "duplicate_key"), reply.text
    shop.unchanged()


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "1767225600",
        "2100-01-01T00:00:00Z",
    ],
)
def test_rules_effective_from_is_a_bounded_rfc3339_timestamp(shop: Shop, value: str) -> None:
    rules = {
        "currency": "BRL",
        "time_zone": "America/Sao_Paulo",
        "effective_from": value,
        "base_rate": "0.02",
    }
    reply = shop.admin.session.put(shop.admin.base_url + "/v1/rules", json=rules, timeout=30)
    assert (reply.status_code, reply.json()["code"]) == (422, "validation_error"), reply.text
    assert "effective_from" in reply.json()["message"]
    shop.unchanged()


def _b64(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _review_cursors(tenant: str, order_id: str) -> dict[str, str]:
    key = {
        "pk": f"ORDER#{tenant}#{order_id}",
        "sk": "ORDER",
        "queue_pk": f"REVIEW#{tenant}",
        "queue_sk": f"500000#2026-01-01T00:00:00Z#{order_id}",
    }
    return {
        "garbage": "garbage",
        "empty keys": _b64({"pk": "", "sk": "", "queue_pk": f"REVIEW#{tenant}", "queue_sk": ""}),
        "keys of another item": _b64({**key, "pk": f"ACCOUNT#{tenant}#someone"}),
        "a queue key naming another order": _b64({**key, "pk": f"ORDER#{tenant}#other-1"}),
        "numbers for keys": _b64({**key, "queue_sk": 5}),
        "a queue key out of format": _b64({**key, "queue_sk": "x"}),
        "a day that does not exist": _b64(
            {**key, "queue_sk": f"500000#2026-02-30T00:00:00Z#{order_id}"}
        ),
        "another tenant's queue": _b64({**key, "queue_pk": "REVIEW#acme"}),
        "a JSON list": _b64([1, 2]),
        "re-encoded with padding": _b64(key) + "=" * (-len(_b64(key)) % 4 or 4),
        "deeply nested": _b64("[" * 700 + "]" * 700),
    }


CURSOR_CASES = list(_review_cursors("t", "o"))


@pytest.mark.parametrize("case", CURSOR_CASES)
def test_review_cursor_we_never_issued_is_400(shop: Shop, case: str) -> None:
    cursor = _review_cursors(shop.tenant, shop.order_id)[case]
    reply = shop.analyst.get("/v1/reviews", params={"cursor": cursor[:1024]})
    assert (reply.status_code, reply.json()["code"]) == (400, "invalid_cursor"), reply.text


@pytest.mark.parametrize(
    "cursor",
    [
        "c2VxOjAy",  # seq:02, not how we write 2
        "c2VxOjI=",  # seq:2 with padding we never add
        _b64("seq:" + "9" * 13),
    ],
)
def test_entries_cursor_not_in_our_exact_form_is_400(shop: Shop, cursor: str) -> None:
    reply = shop.api.entries(shop.customer, cursor=cursor)
    assert (reply.status_code, reply.json()["code"]) == (400, "invalid_cursor"), reply.text


def test_issued_review_cursors_still_page(stack: LocalStack) -> None:
    desk_tenant = unique("cursor")
    keys = stack.add_tenant(desk_tenant, TenantSettings(currency="BRL"), now_iso())
    shop, analyst = Api(stack.url, keys["storefront"]), Api(stack.url, keys["review"])
    customer = unique("burst")
    replies = [shop.purchase(customer, 30000 + i, device_id="dev-1").json() for i in range(8)]
    held = sorted(r["order_id"] for r in replies if r["status"] == "held")
    assert len(held) >= 2
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = analyst.get("/v1/reviews", params=params)
        assert page.status_code == 200, page.text
        seen += [item["order_id"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == held
