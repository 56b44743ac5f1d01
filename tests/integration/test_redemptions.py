"""Spending at checkout through the local stack: redemptions earliest deadline first,
holds captured (all or less), cancelled and expired, reversals, failures that stay failed,
and many concurrent spenders never spending more than there is (DynamoDB Local, the real
authorizer and handler over HTTP)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from cashback.domain.clock import to_iso
from cashback.services import holds
from cashback_tools.local.stack import LocalStack

from . import table
from .client import Api, now_iso, unique
from .spending import SpendingShop

TENANT = "spendy"


@pytest.fixture(scope="module")
def shop(stack: LocalStack) -> SpendingShop:
    return SpendingShop(stack, TENANT)


def redeem(shop: SpendingShop, customer: str, amount: int, **fields: Any) -> requests.Response:
    return shop.redeem(customer, amount, **fields)


def test_a_captured_redemption_spends_the_earliest_deadlines_first(
    stack: LocalStack, shop: SpendingShop
) -> None:
    customer = unique("spender")
    shop.earn(customer, 10000, ago_days=3)  # 1000, expires first
    shop.earn(customer, 5000)  # 500, expires three days later
    reply = redeem(shop, customer, 1200)
    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert body["status"] == "captured" and body["captured"] == 1200
    assert [lot["amount"] for lot in body["lots"]] == [1000, 200]
    assert body["lots"][0]["expires_at"] < body["lots"][1]["expires_at"]
    assert body["balance"]["available"] == 300 and body["balance"]["reserved"] == 0
    assert shop.balance(customer)["available"] == 300
    again = shop.get(f"/v1/redemptions/{body['redemption_id']}")
    assert again.status_code == 200 and again.json()["lots"] == body["lots"]
    shop.audit(customer)


def test_not_enough_is_a_422_that_stays_failed_and_changes_nothing(
    stack: LocalStack, shop: SpendingShop
) -> None:
    customer = unique("short")
    shop.earn(customer, 5000)  # 500
    body = {
        "redemption_id": unique("red"),
        "customer_id": customer,
        "amount": 501,
        "order_id": "o-1",
        "occurred_at": now_iso(),
        "channel": "store",
    }
    first = shop.post("/v1/redemptions", body)
    assert first.status_code == 422, first.text
    assert first.json()["code"] == "insufficient_balance", first.text
    assert first.json()["details"]["available"] == 500
    shop.earn(customer, 1000)  # now there would be enough
    retry = shop.post("/v1/redemptions", body)
    assert retry.status_code == 422 and retry.json() == first.json()  # stays failed
    assert shop.post("/v1/redemptions", {**body, "amount": 400}).status_code == 409
    assert shop.balance(customer)["available"] == 600
    gone = shop.get(f"/v1/redemptions/{body['redemption_id']}")
    assert gone.status_code == 409 and gone.json()["code"] == "redemption_failed"
    shop.audit(customer)


def test_the_same_redemption_twice_spends_once(stack: LocalStack, shop: SpendingShop) -> None:
    customer = unique("retry")
    shop.earn(customer, 10000)
    body = {
        "redemption_id": unique("red"),
        "customer_id": customer,
        "amount": 300,
        "order_id": "o-2",
        "occurred_at": now_iso(),
        "channel": "app",
    }
    with ThreadPoolExecutor(max_workers=6) as pool:
        replies = list(pool.map(lambda _: shop.post("/v1/redemptions", body), range(12)))
    assert {r.status_code for r in replies} == {201}
    assert len({r.text for r in replies}) == 1
    assert shop.balance(customer)["available"] == 700
    shop.audit(customer)


def test_concurrent_redemptions_never_spend_more_than_there_is(
    stack: LocalStack, shop: SpendingShop
) -> None:
    customer = unique("rush")
    shop.earn(customer, 3000, 3000, 4000)  # 300 + 300 + 400 = 1000
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda _: redeem(shop, customer, 150), range(10)))
    made = [r for r in replies if r.status_code == 201]
    refused = [r for r in replies if r.status_code == 422]
    assert len(made) == 6 and len(refused) == 4, [(r.status_code, r.text) for r in replies]
    assert {r.json()["code"] for r in refused} == {"insufficient_balance"}
    balance = shop.balance(customer)
    assert balance["available"] == 100 and balance["reserved"] == 0
    shop.audit(customer)


def test_a_hold_reserves_then_captures_less_and_the_rest_is_spendable_at_once(
    stack: LocalStack, shop: SpendingShop
) -> None:
    customer = unique("holder")
    shop.earn(customer, 10000, ago_days=2)  # 1000
    shop.earn(customer, 5000)  # 500, expires last
    held = redeem(shop, customer, 1200, capture=False)
    assert held.status_code == 201, held.text
    hold = held.json()
    assert hold["status"] == "reserved" and hold["hold_expires_at"]
    assert shop.balance(customer)["available"] == 300
    assert shop.balance(customer)["reserved"] == 1200
    path = f"/v1/redemptions/{hold['redemption_id']}"
    assert shop.post(f"{path}/capture", {"amount": 1201}).json()["code"] == "capture_exceeds_hold"
    captured = shop.post(f"{path}/capture", {"amount": 1100})
    assert captured.status_code == 200, captured.text
    done = captured.json()
    assert done["status"] == "captured" and done["captured"] == 1100
    # The rest came back to the lot that expires last: what stays spent expires soonest.
    assert [lot["amount"] for lot in done["lots"]] == [1000, 100]
    assert done["balance"]["available"] == 400 and done["balance"]["reserved"] == 0
    again = shop.post(f"{path}/capture", {})
    assert again.status_code == 409 and again.json()["code"] == "hold_already_resolved"
    assert shop.post(f"{path}/cancel").status_code == 409
    shop.audit(customer)


def test_a_cancelled_hold_gives_everything_back(stack: LocalStack, shop: SpendingShop) -> None:
    customer = unique("cancel")
    shop.earn(customer, 10000)
    hold = redeem(shop, customer, 700, capture=False).json()
    path = f"/v1/redemptions/{hold['redemption_id']}"
    canceled = shop.post(f"{path}/cancel")
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled" and canceled.json()["lots"] == []
    assert shop.balance(customer)["available"] == 1000
    for action in ("cancel", "capture"):
        reply = shop.post(f"{path}/{action}")
        assert reply.status_code == 409 and reply.json()["code"] == "hold_already_resolved"
    whole = redeem(shop, customer, 400, capture=False).json()
    captured = shop.post(f"/v1/redemptions/{whole['redemption_id']}/capture")  # no body: all
    assert captured.status_code == 200 and captured.json()["captured"] == 400
    assert shop.balance(customer)["available"] == 600
    shop.audit(customer)


def test_an_expired_hold_is_never_captured_and_its_cashback_comes_back(
    stack: LocalStack, shop: SpendingShop
) -> None:
    customer = unique("lapsed")
    shop.earn(customer, 10000)
    hold = redeem(shop, customer, 600, capture=False).json()
    assert stack.store is not None
    later = datetime.now(UTC) + timedelta(minutes=16)  # the hold lives 15 minutes
    with pytest.raises(Exception) as refused:
        holds.resolve(stack.store, TENANT, hold["redemption_id"], later, capture=None)
    assert getattr(refused.value, "code", None) == "hold_expired"
    record = stack.store.get_redemption(TENANT, hold["redemption_id"])
    assert record is not None and record.status == "expired"
    assert shop.balance(customer)["available"] == 1000
    assert shop.balance(customer)["reserved"] == 0
    shop.audit(customer)


def test_the_sweep_releases_expired_holds_once(stack: LocalStack, shop: SpendingShop) -> None:
    customer = unique("swept")
    shop.earn(customer, 10000)
    first = redeem(shop, customer, 300, capture=False).json()
    second = redeem(shop, customer, 200, capture=False).json()
    assert stack.store is not None
    later = datetime.now(UTC) + timedelta(minutes=16)
    released = holds.sweep(stack.store, later)
    assert released >= 2
    assert holds.sweep(stack.store, later) == 0  # a second run finds nothing
    for hold in (first, second):
        record = stack.store.get_redemption(TENANT, hold["redemption_id"])
        assert record is not None and record.status == "expired"
    assert shop.balance(customer)["available"] == 1000
    shop.audit(customer)


def test_a_reversal_gives_back_in_proportion_with_a_grace_for_passed_deadlines(
    stack: LocalStack, shop: SpendingShop
) -> None:
    customer = unique("returns")
    shop.earn(customer, 6000, 4000)  # 600 + 400
    made = redeem(shop, customer, 1000).json()
    path = f"/v1/redemptions/{made['redemption_id']}/reversals"
    body = {"reversal_id": unique("rev"), "amount": 500, "occurred_at": now_iso()}
    reply = shop.post(path, body)
    assert reply.status_code == 201, reply.text
    back = reply.json()["reversal"]
    assert sorted(lot["amount"] for lot in back["lots"]) == [200, 300]
    assert reply.json()["reversed"] == 500
    assert shop.balance(customer)["available"] == 500
    replay = shop.post(path, body)
    assert replay.status_code == 201 and replay.headers.get("Idempotent-Replayed") == "true"
    too_much = shop.post(path, {**body, "reversal_id": unique("rev"), "amount": 501})
    assert too_much.status_code == 422
    assert too_much.json()["details"] == {"reversible": 500}
    assert shop.balance(customer)["available"] == 500
    shop.audit(customer)


def test_debt_is_settled_before_anything_is_spendable(
    stack: LocalStack, shop: SpendingShop
) -> None:
    customer = unique("owing")
    shop.earn(customer, 10000)  # 1000 available
    first = shop.purchase(customer, 5000).json()  # 500 more
    table.ripen(stack, TENANT, customer, datetime.now(UTC))
    assert redeem(shop, customer, 1500).status_code == 201  # spends both lots
    assert shop.refund(first["order_id"], 5000).status_code == 201  # 500 spent: debt
    assert shop.balance(customer)["debt"] == 500
    shop.earn(customer, 8000)  # 800: 500 repays the debt at once, 300 left
    assert shop.balance(customer)["available"] == 300
    short = redeem(shop, customer, 301)
    assert short.status_code == 422 and short.json()["details"]["available"] == 300
    assert redeem(shop, customer, 300).status_code == 201
    shop.audit(customer)


def test_bad_redemption_inputs_are_4xx_and_change_nothing(
    stack: LocalStack, shop: SpendingShop
) -> None:
    customer = unique("bad")
    shop.earn(customer, 10000)
    good = {
        "redemption_id": unique("red"),
        "customer_id": customer,
        "amount": 100,
        "order_id": "o-3",
        "occurred_at": now_iso(),
        "channel": "online",
    }
    for change, status in (
        ({"amount": 0}, 422),
        ({"amount": "100"}, 422),
        ({"amount": 1.5}, 422),
        ({"channel": "fax"}, 422),
        ({"capture": "yes"}, 422),
        ({"redemption_id": "a#b"}, 422),
        ({"occurred_at": to_iso(datetime.now(UTC) + timedelta(hours=1))}, 422),
        ({"occurred_at": now_iso(-timedelta(days=30))}, 422),
        ({"balance": 5}, 422),
    ):
        reply = shop.post("/v1/redemptions", {**good, **change})
        assert reply.status_code == status, (change, reply.text)
        assert reply.json()["code"]
    hold = redeem(shop, customer, 100, capture=False).json()
    path = f"/v1/redemptions/{hold['redemption_id']}"
    for body in ({"amount": 0}, {"amount": -5}, {"amount": "50"}, {"extra": 1}, [50]):
        reply = shop.post(f"{path}/capture", body)
        assert reply.status_code == 422, (body, reply.text)
    assert shop.get(path).json()["status"] == "reserved"  # none of them touched the hold
    assert shop.post(f"{path}/cancel").status_code == 200
    made = redeem(shop, customer, 100).json()
    reversals = f"/v1/redemptions/{made['redemption_id']}/reversals"
    good_reversal = {"reversal_id": unique("rev"), "amount": 50, "occurred_at": now_iso()}
    for change in ({"amount": 0}, {"reversal_id": "a#b"}, {"occurred_at": "yesterday"}):
        reply = shop.post(reversals, {**good_reversal, **change})
        assert reply.status_code == 422, (change, reply.text)
    missing = shop.post("/v1/redemptions/nope/reversals", good_reversal)
    assert missing.status_code == 404 and missing.json()["code"] == "redemption_not_found"
    assert shop.get(f"/v1/redemptions/{made['redemption_id']}").json()["reversed"] == 0
    assert shop.get("/v1/redemptions/nope").status_code == 404
    assert shop.post("/v1/redemptions/nope/capture", {}).status_code == 404
    assert shop.post("/v1/redemptions/nope/cancel").status_code == 404
    assert shop.balance(customer)["available"] == 900  # the one redemption of 100 made
    shop.audit(customer)


def test_another_storefront_cannot_see_or_touch_a_redemption(
    stack: LocalStack, shop: SpendingShop, acme: Api
) -> None:
    customer = unique("private")
    shop.earn(customer, 10000)
    hold = redeem(shop, customer, 100, capture=False).json()
    path = f"/v1/redemptions/{hold['redemption_id']}"
    assert acme.get(path).status_code == 404
    assert acme.post(f"{path}/cancel").status_code == 404
    assert shop.get(path).json()["status"] == "reserved"
