"""The growth rules end to end (issue 12): milestones with their event and the balance,
cumulative steps, the favourite-category bonus; purchases and refunds over HTTP, the
lifecycle job through Lambda's Invoke API, events on the local bus."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from cashback.domain.clock import to_iso
from cashback_tools.local.stack import LocalStack

from .client import Api, invoke, unique
from .test_rules_api import Storefront, program


@pytest.fixture
def shop(stack: LocalStack) -> Storefront:
    return Storefront(stack)


def _run_lifecycle(stack: LocalStack) -> dict[str, Any]:
    event = {"time": to_iso(datetime.now(UTC)), "source": "aws.scheduler"}
    return invoke(stack.url, "ExpiryFunction", event)  # type: ignore[no-any-return]


def _milestone_events(stack: LocalStack, customer: str) -> list[dict[str, Any]]:
    return [
        e["detail"]
        for e in stack.events
        if e["detail-type"] == "milestone.reached" and e["detail"]["customer_id"] == customer
    ]


MILESTONES = [
    {"id": "third", "kind": "nth_purchase", "n": 3, "bonus": {"fixed": 500}},
    {"id": "big-spender", "kind": "spend", "amount": 50000, "bonus": {"extra_rate": "0.01"}},
    {"id": "regular", "kind": "streak_months", "months": 3},
]


def test_the_third_purchase_reaches_its_milestone_once_and_the_job_publishes_it(
    stack: LocalStack, shop: Storefront
) -> None:
    shop.publish(program(milestones=MILESTONES))
    ana = unique("ana")
    assert shop.buy(ana, [("books", 10000)])["cashback"] == 200
    assert shop.buy(ana, [("books", 10000)])["cashback"] == 200
    third = shop.buy(ana, [("books", 10000)])
    assert third["cashback"] == 200 + 500  # base 2% + the third purchase's fixed bonus
    assert [(r["kind"], r["rule"]) for r in third["breakdown"]["order_rules"]] == [
        ("milestone", "third")
    ]
    assert "Milestone: 3rd purchase: BRL 5.00." in third["explanation"]
    assert shop.buy(ana, [("books", 10000)])["cashback"] == 200  # reached once

    balance = shop.api.balance(ana)
    assert [m["id"] for m in balance["milestones"]] == ["third"]
    assert balance["next_milestones"] == [
        {"id": "big-spender", "kind": "spend", "progress": 40000, "target": 50000},
        {"id": "regular", "kind": "streak_months", "progress": 1, "target": 3},
    ]
    assert _milestone_events(stack, ana) == []  # the job publishes it, not the purchase
    report = _run_lifecycle(stack)
    assert report["failures"] == 0 and report["notices_published"] >= 1
    (event,) = _milestone_events(stack, ana)
    assert (event["order_id"], event["milestones"], event["amount"]) == (
        third["order_id"],
        ["third"],
        500,
    )
    assert event["id"].startswith("milestone.reached:") and event["currency"] == "BRL"
    _run_lifecycle(stack)
    assert len(_milestone_events(stack, ana)) == 1  # published once

    # A refund of the milestone's purchase does not un-reach it; it nets the spend.
    assert shop.api.refund(third["order_id"], 10000).status_code == 201
    after = shop.api.balance(ana)
    assert [m["id"] for m in after["milestones"]] == ["third"]
    assert after["next_milestones"][0]["progress"] == 30000


def test_crossing_a_spend_milestone_earns_its_rate_and_a_retry_gets_the_same_reply(
    shop: Storefront,
) -> None:
    shop.publish(program(milestones=MILESTONES[1:]))
    bia = unique("bia")
    shop.buy(bia, [("books", 40000)])
    body = {
        "order_id": unique("o"),
        "customer_id": bia,
        "amount": 20000,
        "currency": "BRL",
        "occurred_at": to_iso(datetime.now(UTC)),
        "channel": "online",
        "lines": [{"sku": "s", "category": "books", "amount": 20000}],
    }
    crossing = shop.api.post("/v1/purchases", body)
    assert crossing.status_code == 201
    assert crossing.json()["cashback"] == 400 + 200  # 2% + the milestone's 1%
    retried = shop.api.post("/v1/purchases", body)
    assert (retried.status_code, retried.json()) == (201, crossing.json())
    assert shop.buy(bia, [("books", 20000)])["cashback"] == 400


def test_a_cumulative_step_crossed_raises_the_rate_of_the_next_purchase(shop: Storefront) -> None:
    shop.publish(
        program(
            cumulative={
                "steps": [
                    {"min_spend": 0, "extra_rate": "0"},
                    {"min_spend": 50000, "extra_rate": "0.01"},
                    {"min_spend": 200000, "extra_rate": "0.02"},
                ]
            }
        )
    )
    caio = unique("caio")
    first = shop.buy(caio, [("books", 50000)])
    assert first["cashback"] == 1000  # the spend before it is 0: no extra yet
    second = shop.buy(caio, [("books", 10000)])
    assert second["cashback"] == 200 + 100
    assert ("cumulative", "50000") in [(r["kind"], r["rule"]) for r in second["breakdown"]["rules"]]
    assert (
        "Bonus of 1% for BRL 500.00 or more spent so far on 1 item: BRL 1.00."
        in (second["explanation"])
    )
    # A refund takes the lifetime spend back under the step.
    assert shop.api.refund(first["order_id"], 30000).status_code == 201
    assert shop.buy(caio, [("books", 10000)])["cashback"] == 200


def test_the_favourite_category_earns_its_bonus_and_follows_refunds(shop: Storefront) -> None:
    shop.publish(program(favourite_category={"extra_rate": "0.03", "window_days": 90}))
    dani = unique("dani")
    first = shop.buy(dani, [("shoes", 20000), ("books", 5000)])
    assert first["cashback"] == 1000 + 100  # no history: no favourite yet
    second = shop.buy(dani, [("books", 10000), ("shoes", 10000)])
    assert second["cashback"] == 200 + 500 + 300  # shoes: 5% + the favourite's 3%
    assert any("Favourite category (shoes) bonus of 3%" in s for s in second["explanation"])
    # Refunding the first order's shoes leaves books ahead (15000 against 10000).
    refund = {
        "refund_id": unique("r"),
        "order_id": first["order_id"],
        "amount": 20000,
        "occurred_at": to_iso(datetime.now(UTC)),
        "lines": [{"sku": "sku-0", "amount": 20000}],
    }
    assert shop.api.post("/v1/refunds", refund).status_code == 201
    third = shop.buy(dani, [("books", 10000), ("shoes", 10000)])
    assert third["cashback"] == 200 + 300 + 500  # books: 2% + 3%


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"milestones": [MILESTONES[0], {**MILESTONES[1], "id": "third"}]}, "milestones.1.id"),
        ({"milestones": [{"id": "m", "kind": "streak_months", "months": 1}]}, "months"),
        ({"milestones": [{"id": "m", "kind": "nth_purchase", "amount": 3}]}, "n"),
        (
            {
                "cumulative": {
                    "steps": [
                        {"min_spend": 100, "extra_rate": "0.01"},
                        {"min_spend": 100, "extra_rate": "0.02"},
                    ]
                }
            },
            "cumulative.steps.1.min_spend",
        ),
        ({"favourite_category": {"extra_rate": "0.03", "window_days": 366}}, "window_days"),
    ],
)
def test_bad_growth_rules_are_422_naming_the_field_and_not_published(
    shop: Storefront, changes: dict[str, Any], field: str
) -> None:
    reply = shop.admin.session.put(
        shop.admin.base_url + "/v1/rules", json=program(**changes), timeout=30
    )
    assert (reply.status_code, reply.json()["code"]) == (422, "validation_error")
    assert field in reply.text
    assert shop.admin.get("/v1/rules").json()["versions"] == []


def _mid_month(months_back: int) -> str:
    """Noon on the 15th, `months_back` months before this one (the same month in UTC and
    in São Paulo)."""
    today = datetime.now(UTC)
    year, month = divmod(today.year * 12 + today.month - 1 - months_back, 12)
    return to_iso(datetime(year, month + 1, 15, 12, tzinfo=UTC))


def test_purchases_in_three_consecutive_months_reach_the_streak(stack: LocalStack) -> None:
    tenant = unique("streak")
    settings = stack.settings.model_copy(update={"backdate_days": 120})
    keys = stack.add_tenant(tenant, settings, to_iso(datetime.now(UTC)))
    api, admin = Api(stack.url, keys["storefront"]), Api(stack.url, keys["admin"])
    rules = program(milestones=[{**MILESTONES[2], "bonus": {"fixed": 300}}])
    assert admin.session.put(admin.base_url + "/v1/rules", json=rules, timeout=30).ok
    eva = unique("eva")
    # Two months back and last month, replayed (before the program: counted all the same).
    for back in (2, 1):
        assert api.purchase(eva, 10000, occurred_at=_mid_month(back)).status_code == 201
    assert api.balance(eva)["next_milestones"] == [
        {"id": "regular", "kind": "streak_months", "progress": 2, "target": 3}
    ]
    third = api.purchase(eva, 10000, lines=[{"sku": "s", "category": "books", "amount": 10000}])
    assert third.json()["cashback"] == 200 + 300
    assert "Milestone: 3 months in a row: BRL 3.00." in third.json()["explanation"]
    balance = api.balance(eva)
    assert [m["id"] for m in balance["milestones"]] == ["regular"]
    assert balance["next_milestones"] == []


def test_racing_purchases_reach_a_milestone_exactly_once(shop: Storefront) -> None:
    shop.publish(program(milestones=MILESTONES[:1]))
    fabi = unique("fabi")
    for _ in range(2):
        shop.buy(fabi, [("books", 10000)])
    with ThreadPoolExecutor(max_workers=4) as pool:
        replies = list(pool.map(lambda _: shop.buy(fabi, [("books", 10000)]), range(4)))
    assert sorted(reply["cashback"] for reply in replies) == [200, 200, 200, 700]
    balance = shop.api.balance(fabi)
    assert [m["id"] for m in balance["milestones"]] == ["third"]
