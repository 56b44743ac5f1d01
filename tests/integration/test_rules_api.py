"""Cashback programs end to end: an admin publishes versions, purchases earn by them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cashback_tools.local.stack import LocalStack

from .client import Api, now_iso, purchase_body, unique

YESTERDAY = now_iso(timedelta(days=-1))


def _naive(delta: timedelta) -> str:
    """A campaign bound in the storefront's local time (America/Sao_Paulo, UTC-3)."""
    local = datetime.now(UTC) - timedelta(hours=3) + delta
    return local.replace(microsecond=0, tzinfo=None).isoformat()


def program(**changes: Any) -> dict[str, Any]:
    rules: dict[str, Any] = {
        "name": "Loja Teste",
        "currency": "BRL",
        "time_zone": "America/Sao_Paulo",
        "effective_from": YESTERDAY,
        "base_rate": "0.02",
        "category_rates": {"shoes": "0.05"},
    }
    rules.update(changes)
    return rules


class Storefront:
    def __init__(self, stack: LocalStack) -> None:
        self.tenant = unique("shop")
        keys = stack.add_tenant(self.tenant, stack.settings, now_iso())
        self.api = Api(stack.url, keys["storefront"])
        self.admin = Api(stack.url, keys["admin"])

    def publish(self, rules: dict[str, Any]) -> dict[str, Any]:
        reply = self.admin.session.put(self.admin.base_url + "/v1/rules", json=rules, timeout=30)
        assert reply.status_code == 201, reply.text
        return reply.json()  # type: ignore[no-any-return]

    def buy(self, customer: str, lines: list[tuple[str, int]], **fields: Any) -> dict[str, Any]:
        body = purchase_body(customer, sum(amount for _, amount in lines), **fields)
        body["lines"] = [
            {"sku": f"sku-{i}", "category": category, "amount": amount}
            for i, (category, amount) in enumerate(lines)
        ]
        reply = self.api.post("/v1/purchases", body)
        assert reply.status_code == 201, reply.text
        return reply.json()  # type: ignore[no-any-return]


@pytest.fixture
def shop(stack: LocalStack) -> Storefront:
    return Storefront(stack)


def test_published_program_applies_per_line_with_its_breakdown(shop: Storefront) -> None:
    published = shop.publish(program())
    assert published["version"] == 1
    reply = shop.buy(unique("c"), [("shoes", 10000), ("books", 5000)])
    assert reply["cashback"] == 500 + 100  # 5% on shoes, base 2% on books
    assert reply["rules_version"] == 1
    assert reply["breakdown"]["version"] == 1 and reply["explanation"]
    entries = shop.api.entries(reply["customer_id"]).json()["items"]
    assert entries[0]["breakdown"]["cashback"] == 600


def test_rules_can_be_read_back_by_version_and_in_force(shop: Storefront) -> None:
    shop.publish(program())
    shop.publish(program(base_rate="0.03"))
    current = shop.admin.get("/v1/rules").json()
    assert current["in_force"]["version"] == 2
    assert [v["version"] for v in current["versions"]] == [1, 2]
    assert all(v["published_by"].startswith("cbk_") for v in current["versions"])
    first = shop.admin.get("/v1/rules/1").json()
    assert first["rules"]["base_rate"] == "0.02"
    missing = shop.admin.get("/v1/rules/9")
    assert (missing.status_code, missing.json()["code"]) == (404, "rules_version_not_found")


def test_a_version_published_ahead_waits_for_its_start(shop: Storefront) -> None:
    shop.publish(program())
    shop.publish(program(base_rate="0.10", effective_from=now_iso(timedelta(days=10))))
    assert shop.buy(unique("c"), [("books", 10000)])["cashback"] == 200  # still version 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"base_rate": 0.05}, "base_rate"),  # a float: rates are strings, never binary floats
        ({"currency": "USD"}, "currency"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        (
            {
                "tiers": {
                    "levels": [
                        {"name": "A", "min_spend": 500, "extra_rate": "0.01"},
                        {"name": "B", "min_spend": 100, "extra_rate": "0.02"},
                    ]
                }
            },
            "tiers",
        ),
        ({"lifecycle": {"expiry": {"kind": "inactivity", "days": 0}}}, "lifecycle.expiry"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_a_program_that_does_not_validate_is_422_naming_the_field_and_not_published(
    shop: Storefront, changes: dict[str, Any], field: str
) -> None:
    reply = shop.admin.session.put(
        shop.admin.base_url + "/v1/rules", json=program(**changes), timeout=30
    )
    assert reply.status_code == 422, reply.text
    assert field in reply.text
    assert shop.admin.get("/v1/rules").json()["versions"] == []


def test_only_admin_keys_publish(shop: Storefront) -> None:
    reply = shop.api.session.put(shop.api.base_url + "/v1/rules", json=program(), timeout=30)
    assert reply.status_code == 403


def test_tier_rises_with_spend_and_falls_with_refunds(shop: Storefront) -> None:
    shop.publish(
        program(
            tiers={
                "window_days": 365,
                "levels": [
                    {"name": "Bronze", "min_spend": 0, "extra_rate": "0"},
                    {"name": "Gold", "min_spend": 100000, "extra_rate": "0.03"},
                ],
            }
        )
    )
    ana = unique("ana")
    first = shop.buy(ana, [("books", 100000)])
    assert (first["cashback"], first["breakdown"]["tier"]) == (2000, "Bronze")
    gold = shop.buy(ana, [("books", 10000)])
    assert (gold["cashback"], gold["breakdown"]["tier"]) == (500, "Gold")  # 2% + 3%
    shop.api.refund(first["order_id"], 50000)
    assert shop.buy(ana, [("books", 10000)])["breakdown"]["tier"] == "Bronze"


def test_monthly_cap_and_first_purchase_and_birthday_bonuses(shop: Storefront) -> None:
    shop.publish(
        program(
            caps={"per_customer_month": 700},
            first_purchase={"fixed": 100},
            birthday={"extra_rate": "0.01", "scope": "month"},
        )
    )
    bia = unique("bia")
    month_day = (datetime.now(UTC) - timedelta(hours=3)).strftime("%m-%d")
    first = shop.buy(bia, [("books", 10000)], birthday=month_day)
    assert first["cashback"] == 200 + 100 + 100  # base + first purchase + birthday month
    second = shop.buy(bia, [("books", 10000)])
    assert second["cashback"] == 200  # no first-purchase bonus twice, no birthday sent
    third = shop.buy(bia, [("books", 10000)])
    assert third["cashback"] == 100  # the monthly cap of 700 cuts it
    assert [cut["kind"] for cut in third["breakdown"]["cuts"]] == ["monthly_cap"]


def test_segment_rates_apply_to_the_segments_a_purchase_carries(shop: Storefront) -> None:
    shop.publish(program(segments={"vip": {"extra_rate": "0.03"}, "b2b": {"extra_rate": "0.01"}}))
    vip = shop.buy(unique("vip"), [("books", 10000)], segments=["vip"])
    assert vip["cashback"] == 200 + 300  # base 2% + the vip segment's 3%
    applied = [(rule["kind"], rule["rule"]) for rule in vip["breakdown"]["rules"]]
    assert applied == [("base", "base"), ("segment", "vip")]
    assert any("for vip customers" in text for text in vip["explanation"])
    both = shop.buy(unique("b2b"), [("books", 10000)], segments=["b2b", "vip", "unknown"])
    assert both["cashback"] == 200 + 300 + 100
    plain = shop.buy(unique("plain"), [("books", 10000)])
    assert plain["cashback"] == 200
    # A retry with the segments in another order is another request: segments are content.
    body = purchase_body(unique("c"), 10000, segments=["vip"])
    assert shop.api.post("/v1/purchases", body).status_code == 201
    retried = shop.api.post("/v1/purchases", {**body, "segments": []})
    assert (retried.status_code, retried.json()["code"]) == (409, "idempotency_conflict")


@pytest.mark.parametrize("segments", [["vip#1"], ["x"] * 11, "vip", [7]])
def test_bad_segments_are_422(shop: Storefront, segments: Any) -> None:
    reply = shop.api.post("/v1/purchases", purchase_body(unique("c"), 10000, segments=segments))
    assert (reply.status_code, reply.json()["code"]) == (422, "validation_error")


def test_campaign_budget_is_never_overspent_by_concurrent_purchases(shop: Storefront) -> None:
    shop.publish(
        program(
            campaigns=[
                {
                    "id": "flash",
                    "name": "Flash",
                    "starts_at": _naive(timedelta(days=-1)),
                    "ends_at": _naive(timedelta(days=1)),
                    "rate": "0.10",
                    "stacking": "add",
                    "budget": 3000,
                }
            ]
        )
    )
    bodies = []
    for _ in range(16):
        body = purchase_body(unique("c"), 10000)
        body["lines"] = [{"sku": "s", "category": "books", "amount": 10000}]
        bodies.append(body)
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda b: shop.api.post("/v1/purchases", b), bodies))
    assert {r.status_code for r in replies} == {201}
    from_campaign = sum(
        r.json()["breakdown"]["budget_consumption"].get("flash", 0) for r in replies
    )
    assert from_campaign == 3000  # 16 purchases wanted 1000 each; the budget held 3000
    assert all(r.json()["cashback"] >= 200 for r in replies)  # the base rate still pays


def test_same_purchase_same_version_same_cashback(shop: Storefront) -> None:
    shop.publish(program())
    body = purchase_body(unique("c"), 12345)
    body["lines"] = [{"sku": "s", "category": "shoes", "amount": 12345}]
    first = shop.api.post("/v1/purchases", body).json()
    again = shop.api.post("/v1/purchases", body).json()
    assert first == again and first["cashback"] == 617


def test_points_program_that_never_expires_credits_integer_points(shop: Storefront) -> None:
    shop.publish(
        program(
            points={"points_per_currency_unit": "10", "minor_units_per_point": "1"},
            lifecycle={"return_window_days": 7, "expiry": {"kind": "never"}},
        )
    )
    reply = shop.buy(unique("c"), [("shoes", 12990)])
    # 5% of R$ 129.90 is R$ 6.495 of value; 10 points per real: 64 points, rounded down
    assert (reply["unit"], reply["cashback"], reply["expires_at"]) == ("points", 64, None)
    balance = shop.api.balance(reply["customer_id"])
    assert balance["pending"] == 64 and balance["next_expiry"] is None


@pytest.mark.parametrize("policy", ["claw_back_unspent", "claw_back_within_balance"])
def test_refund_policies_without_debt_record_no_debt(shop: Storefront, policy: str) -> None:
    shop.publish(program(refund_policy=policy))
    reply = shop.buy(unique("c"), [("shoes", 10000)])
    refund = shop.api.refund(reply["order_id"], 10000).json()
    assert (refund["clawed_back"], refund["debt"]) == (500, 0)


def test_a_new_version_resizes_a_campaign_budget_by_the_difference(
    stack: LocalStack, shop: Storefront
) -> None:
    flash = {
        "id": "flash",
        "name": "Flash",
        "starts_at": _naive(timedelta(days=-1)),
        "ends_at": _naive(timedelta(days=1)),
        "rate": "0.10",
        "stacking": "add",
    }

    def from_campaign(reply: dict[str, Any]) -> int:
        return int(reply["breakdown"]["budget_consumption"].get("flash", 0))

    shop.publish(program(campaigns=[{**flash, "budget": 1000}]))
    assert from_campaign(shop.buy(unique("c"), [("books", 10000)])) == 1000
    assert from_campaign(shop.buy(unique("c"), [("books", 10000)])) == 0  # spent
    shop.publish(program(campaigns=[{**flash, "budget": 2500}]))  # raised by 1500
    assert from_campaign(shop.buy(unique("c"), [("books", 10000)])) == 1000
    assert from_campaign(shop.buy(unique("c"), [("books", 10000)])) == 500
    assert stack.store is not None
    shards = stack.store.budget_shards(shop.tenant, "flash")
    assert sum(s["allowance"] for s in shards) == 2500
    assert sum(s["remaining"] for s in shards) == 0
    shop.publish(program(campaigns=[{**flash, "budget": 100}]))  # cut below what was spent
    assert sum(s["remaining"] for s in stack.store.budget_shards(shop.tenant, "flash")) == 0
