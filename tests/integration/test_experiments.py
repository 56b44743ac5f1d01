"""Experiments over HTTP: a program with a holdout published, many customers buying, each
breakdown, entry and order showing the customer's variant, retries keeping it."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from cashback.adapters.dynamodb.table import from_item, order_key
from cashback.domain.rules.experiments import Experiment, assign
from cashback_tools.local.stack import TABLE_NAME, LocalStack

from .client import purchase_body, unique
from .test_rules_api import Storefront, program

SPLIT: dict[str, Any] = {
    "id": "launch",
    "variants": [
        {"name": "holdout", "share": "0.2"},
        {"name": "program", "share": "0.4"},
        {"name": "boost", "share": "0.4", "extra_rate": "0.01"},
    ],
    "holdout": "holdout",
}


@pytest.fixture
def shop(stack: LocalStack) -> Storefront:
    return Storefront(stack)


def _order_item(stack: LocalStack, tenant: str, order_id: str) -> dict[str, Any]:
    client: Any = stack.dynamodb_client()
    found = client.get_item(
        TableName=TABLE_NAME, Key={k: {"S": v} for k, v in order_key(tenant, order_id).items()}
    )
    return from_item(found["Item"])


def test_each_customers_purchase_shows_its_variant_and_retries_keep_it(
    stack: LocalStack, shop: Storefront
) -> None:
    shop.publish(program(experiment=SPLIT))
    experiment = Experiment.model_validate(SPLIT)
    cashback = {"holdout": 0, "program": 200, "boost": 300}  # base 2% (+1%) on 100.00
    seen: Counter[str] = Counter()
    for i in range(40):
        customer = unique(f"c{i}")
        body = purchase_body(customer, 10000)
        body["lines"] = [{"sku": "sku-0", "category": "books", "amount": 10000}]
        reply = shop.api.post("/v1/purchases", body)
        assert reply.status_code == 201, reply.text
        made = reply.json()
        variant = assign(experiment, shop.tenant, customer).name
        seen[variant] += 1
        recorded = [{"id": "launch", "variant": variant, "holdout": variant == "holdout"}]
        assert [
            {k: a[k] for k in ("id", "variant", "holdout")}
            for a in made["breakdown"]["experiments"]
        ] == recorded
        assert made["cashback"] == cashback[variant]
        if variant == "holdout":
            assert made["status"] == "no_cashback"
            assert made["explanation"] == [
                "This order earns no cashback.",
                "No cashback applies to this purchase under the current program terms.",
            ]
        if i % 8 == 0:  # a retry gets the same reply, the same variant
            again = shop.api.post("/v1/purchases", body)
            assert again.status_code == 201 and again.json() == made
        order = _order_item(stack, shop.tenant, body["order_id"])
        assert order["experiments"] == made["breakdown"]["experiments"]
        entry = shop.api.entries(customer).json()["items"][0]
        assert entry["breakdown"]["experiments"] == made["breakdown"]["experiments"]
    assert set(seen) == {"holdout", "program", "boost"}, seen


def test_a_campaigns_holdout_misses_only_the_campaign(shop: Storefront) -> None:
    trial = {
        "id": "bf-trial",
        "variants": [{"name": "without", "share": "0.5"}, {"name": "with", "share": "0.5"}],
        "holdout": "without",
    }
    campaign = {
        "id": "bf",
        "name": "Black Friday",
        "starts_at": "2026-01-01T00:00:00",
        "ends_at": "2099-01-01T00:00:00",
        "rate": "0.03",
        "experiment": trial,
    }
    shop.publish(program(campaigns=[campaign]))
    experiment = Experiment.model_validate(trial)
    got = set()
    for i in range(12):
        customer = unique(f"bf{i}")
        made = shop.buy(customer, [("books", 10000)])
        holdout = assign(experiment, shop.tenant, customer).name == "without"
        got.add(holdout)
        assert made["cashback"] == (200 if holdout else 500)
        assert made["breakdown"]["experiments"] == [
            {
                "id": "bf-trial",
                "variant": "without" if holdout else "with",
                "holdout": holdout,
                "campaign": "bf",
            }
        ]
    assert got == {True, False}


@pytest.mark.parametrize(
    ("experiment", "field"),
    [
        ({**SPLIT, "variants": SPLIT["variants"][:2]}, "experiment.variants"),  # 0.6
        ({**SPLIT, "holdout": "nobody"}, "experiment.holdout"),
        ({**SPLIT, "variants": SPLIT["variants"][:1]}, "experiment.variants"),
        (
            {**SPLIT, "variants": [{"name": f"v{i}", "share": "0.0909"} for i in range(11)]},
            "experiment.variants",
        ),
    ],
)
def test_a_bad_experiment_is_422_and_not_published(
    shop: Storefront, experiment: dict[str, Any], field: str
) -> None:
    reply = shop.admin.session.put(
        shop.admin.base_url + "/v1/rules", json=program(experiment=experiment), timeout=30
    )
    assert (reply.status_code, reply.json()["code"]) == (422, "validation_error"), reply.text
    assert field in reply.text
    assert shop.admin.get("/v1/rules").json()["versions"] == []
