"""A refund that names lines takes back what those lines earned (issue 8, finding 5).

Program: 1% base, 20% on tech. A phone (tech, 10,000) and a shirt (10,000) earn 2,100;
refunding the phone line took back 1,050 (the order's proportion), so the customer kept
10.5 times what the rules give the shirt. It takes back 2,000 now."""

from __future__ import annotations

from typing import Any

import pytest

from cashback_tools.local.stack import LocalStack

from .client import now_iso, purchase_body, unique
from .test_rules_api import Storefront, program


@pytest.fixture(scope="module")
def shop(stack: LocalStack) -> Storefront:
    store = Storefront(stack)
    store.publish(program(base_rate="0.01", category_rates={"tech": "0.20"}))
    return store


def _order(shop: Storefront) -> dict[str, Any]:
    body = purchase_body(unique("c"), 20000)
    body["lines"] = [
        {"sku": "phone", "category": "tech", "amount": 10000},
        {"sku": "shirt", "category": "apparel", "amount": 10000},
    ]
    reply = shop.api.post("/v1/purchases", body)
    assert reply.status_code == 201 and reply.json()["cashback"] == 2100, reply.text
    return reply.json()  # type: ignore[no-any-return]


def _refund(
    shop: Storefront,
    order: dict[str, Any],
    lines: list[tuple[str, int]] | None,
    amount: int | None = None,
) -> Any:
    body: dict[str, Any] = {
        "refund_id": unique("r"),
        "order_id": order["order_id"],
        "amount": amount if amount is not None else sum(part for _, part in lines or []),
        "occurred_at": now_iso(),
    }
    if lines is not None:
        body["lines"] = [{"sku": sku, "amount": part} for sku, part in lines]
    return shop.api.post("/v1/refunds", body)


def test_refunding_the_phone_line_takes_back_what_the_phone_earned(shop: Storefront) -> None:
    order = _order(shop)
    reply = _refund(shop, order, [("phone", 10000)])
    assert reply.status_code == 201, reply.text
    assert (reply.json()["clawed_back"], reply.json()["from_pending"]) == (2000, 2000)
    assert shop.api.balance(order["customer_id"])["pending"] == 100  # what the shirt earned
    shirt = _refund(shop, order, [("shirt", 10000)])
    assert shirt.json()["clawed_back"] == 100
    assert shop.api.balance(order["customer_id"])["pending"] == 0


def test_partial_refunds_of_a_line_take_back_its_earning_in_proportion(shop: Storefront) -> None:
    order = _order(shop)
    taken = [
        _refund(shop, order, [("phone", part)]).json()["clawed_back"] for part in (3333, 3333, 3334)
    ]
    assert taken == [667, 667, 666] and sum(taken) == 2000
    assert shop.api.balance(order["customer_id"])["pending"] == 100


def test_a_refund_naming_no_line_is_in_proportion_as_before(shop: Storefront) -> None:
    order = _order(shop)
    assert _refund(shop, order, None, amount=10000).json()["clawed_back"] == 1050
    # What is left is the order's other half: naming the phone now takes the rest of it.
    assert _refund(shop, order, [("phone", 10000)]).json()["clawed_back"] == 1050


@pytest.mark.parametrize(
    ("lines", "status", "code"),
    [
        ([("tablet", 100)], 422, "refund_line_unknown"),
        ([("phone", 10001)], 422, "refund_exceeds_line"),
        ([("phone", 6000), ("phone", 4001)], 422, "refund_exceeds_line"),  # one SKU twice
    ],
)
def test_an_unknown_sku_or_more_than_a_line_has_is_422_and_changes_nothing(
    shop: Storefront, lines: list[tuple[str, int]], status: int, code: str
) -> None:
    order = _order(shop)
    reply = _refund(shop, order, lines)
    assert (reply.status_code, reply.json()["code"]) == (status, code), reply.text
    assert reply.json()["details"][0]["field"].startswith("lines.")
    assert shop.api.balance(order["customer_id"])["pending"] == 2100
    assert (
        _refund(shop, order, [("phone", 10000), ("shirt", 10000)]).json()["clawed_back"] == 2100
    )  # nothing was refunded by the refused one


def test_more_than_a_line_has_left_across_several_refunds_is_422(shop: Storefront) -> None:
    order = _order(shop)
    assert _refund(shop, order, [("phone", 6000)]).json()["clawed_back"] == 1200
    again = _refund(shop, order, [("phone", 5000)])
    assert (again.status_code, again.json()["code"]) == (422, "refund_exceeds_line")
    assert "4000" in again.json()["message"]
    assert shop.api.balance(order["customer_id"])["pending"] == 900
    assert _refund(shop, order, [("phone", 4000)]).json()["clawed_back"] == 800


def test_a_retried_line_refund_replays_and_a_changed_one_conflicts(shop: Storefront) -> None:
    order = _order(shop)
    body = {
        "refund_id": unique("r"),
        "order_id": order["order_id"],
        "amount": 10000,
        "occurred_at": now_iso(),
        "lines": [{"sku": "phone", "amount": 10000}],
    }
    first = shop.api.post("/v1/refunds", body)
    again = shop.api.post("/v1/refunds", body)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again.headers.get("Idempotent-Replayed") == "true"
    changed = shop.api.post("/v1/refunds", {**body, "lines": [{"sku": "shirt", "amount": 10000}]})
    assert changed.status_code == 409
    assert shop.api.balance(order["customer_id"])["pending"] == 100
