"""Risk settings over HTTP: mode and shares round trip, thresholds follow the storefront's
own scores once it recorded enough purchases (and the next purchase uses them), and the
backtest equals what the test counts from the orders it made."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from cashback.domain.risk import stats
from cashback.domain.risk.features import FEATURE_NAMES
from cashback.domain.risk.model_metadata import load_metadata
from cashback.domain.risk.policy import SEVERITY, Action, Thresholds
from cashback.domain.tenants import TenantSettings
from cashback.services import risk_settings
from cashback_tools.local.stack import LocalStack

from .client import Api, now_iso, purchase_body, unique

SETTINGS = "/v1/risk/settings"


@pytest.fixture(scope="module")
def risk_stack() -> Iterator[LocalStack]:
    """A stack of its own whose functions never cache settings, so a purchase sees new
    thresholds at once (on AWS: within SETTINGS_CACHE_SECONDS). The session stack's
    environment is put back afterwards."""
    saved = dict(os.environ)
    try:
        with LocalStack(
            tenants=(), quiet=True, throttling=False, function_env={"SETTINGS_CACHE_SECONDS": "0"}
        ) as running:
            yield running
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _keys(stack: LocalStack, mode: str = "enforce") -> dict[str, Api]:
    tenant = unique("risky")
    settings = TenantSettings(currency="BRL", risk_mode=mode)  # type: ignore[arg-type]
    keys = stack.add_tenant(tenant, settings, now_iso())
    return {"tenant": tenant, **{scope: Api(stack.url, key) for scope, key in keys.items()}}  # type: ignore[dict-item]


def test_settings_round_trip_for_analysts_and_admins(risk_stack: LocalStack) -> None:
    apis = _keys(risk_stack)
    found = apis["review"].get(SETTINGS)
    assert found.status_code == 200, found.text
    metadata = load_metadata()
    assert metadata is not None
    assert found.json() == {
        "mode": "enforce",
        "review_share": "0.02",
        "block_share": "0.002",
        "thresholds": {
            "review": metadata["thresholds"]["review"],
            "block": metadata["thresholds"]["block"],
            "from": "model",
            "purchases": 0,
            "days": 30,
            "computed_at": found.json()["thresholds"]["computed_at"],
        },
        "model_version": metadata["model_version"],
        "backtest": None,
    }
    body = {"mode": "shadow", "review_share": "0.05", "block_share": "0.01"}
    put = apis["admin"].session.put(apis["admin"].base_url + SETTINGS, json=body, timeout=30)
    assert put.status_code == 200, put.text
    assert put.json()["backtest"] is None  # not switching to enforce
    again = apis["review"].get(SETTINGS).json()
    assert (again["mode"], again["review_share"], again["block_share"]) == (
        "shadow",
        "0.05",
        "0.01",
    )


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "enforce", "review_share": "0.6", "block_share": "0.002"},
        {"mode": "enforce", "review_share": "0", "block_share": "0"},
        {"mode": "enforce", "review_share": "0.01", "block_share": "0.02"},
        {"mode": "on", "review_share": "0.02", "block_share": "0.002"},
        {"mode": "enforce", "review_share": 0.02, "block_share": "0.002"},
        {"mode": "enforce", "review_share": "-0.02", "block_share": "0.002"},
        {"mode": "enforce", "review_share": "0.02"},
        {"mode": "enforce", "review_share": "0.02", "block_share": "0.002", "extra": 1},
    ],
)
def test_bad_settings_are_422_and_change_nothing(risk_stack: LocalStack, body: Any) -> None:
    apis = _keys(risk_stack)
    review = apis["review"]
    put = review.session.put(review.base_url + SETTINGS, json=body, timeout=30)
    assert put.status_code == 422, put.text
    assert put.json()["code"] == "validation_error"
    if "block_share" in body:
        tested = review.post("/v1/risk/backtest", {k: v for k, v in body.items() if k != "mode"})
        assert tested.status_code == 422 or body["mode"] == "on", tested.text
    assert review.get(SETTINGS).json()["review_share"] == "0.02"


def test_storefront_keys_cannot_read_or_change_risk_settings(risk_stack: LocalStack) -> None:
    shop = _keys(risk_stack)["storefront"]
    body = {"mode": "off", "review_share": "0.02", "block_share": "0.002"}
    assert shop.get(SETTINGS).status_code == 403
    assert shop.session.put(shop.base_url + SETTINGS, json=body, timeout=30).status_code == 403
    assert shop.post("/v1/risk/backtest", body).status_code == 403


def _buy(shop: Api, customers: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Customers buying one to four times each, amounts spread out, so their scores
    differ (every first purchase at one rate looks the same to the model): the bodies
    sent and the replies."""

    def customer(k: int) -> list[tuple[dict[str, Any], Any]]:
        who = unique("c")
        sent = []
        for n in range(1 + k % 4):
            body = purchase_body(who, 1500 + 53 * ((k * 7 + n * 31) % 400))
            sent.append((body, shop.post("/v1/purchases", body)))
        return sent

    with ThreadPoolExecutor(max_workers=4) as pool:
        sent = [pair for pairs in pool.map(customer, range(customers)) for pair in pairs]
    assert all(reply.status_code == 201 for _, reply in sent), sent[0][1].text
    return [body for body, _ in sent], [reply.json() for _, reply in sent]


def _expected(stack: LocalStack, tenant: str, orders: list[str], limits: Thresholds) -> Any:
    """What each order would get under `limits`, counted from the order records."""
    assert stack.store is not None
    counts = {"allow": [0, 0], "review": [0, 0], "block": [0, 0]}
    for order_id in orders:
        order = stack.store.get_order(tenant, order_id)
        assert order is not None and order.risk is not None
        floor = stats.floor_of(order.risk["rules_fired"])
        rule: Action = "review" if floor == "r" else "allow"
        model = limits.action(float(order.risk["score"]))
        action = rule if SEVERITY[rule] >= SEVERITY[model] else model
        counts[action][0] += 1
        counts[action][1] += order.cashback
    return {
        "held": dict(zip(("count", "cashback"), counts["review"], strict=True)),
        "blocked": dict(zip(("count", "cashback"), counts["block"], strict=True)),
        "allowed": dict(zip(("count", "cashback"), counts["allow"], strict=True)),
    }


def test_thresholds_follow_the_storefronts_scores_and_enforce_shows_the_backtest(
    risk_stack: LocalStack,
) -> None:
    apis = _keys(risk_stack, mode="shadow")
    tenant, shop, analyst = apis["tenant"], apis["storefront"], apis["review"]
    bodies, made = _buy(shop, 220)  # 550 purchases
    assert len(made) >= stats.MIN_PURCHASES
    replayed = shop.post("/v1/purchases", bodies[0])
    assert replayed.headers.get("Idempotent-Replayed") == "true"  # counted once
    assert analyst.get(SETTINGS).json()["thresholds"]["from"] == "model"

    proposal = {"review_share": "0.5", "block_share": "0.1"}
    tested = analyst.post("/v1/risk/backtest", proposal)
    assert tested.status_code == 200, tested.text
    backtest = tested.json()
    limits = backtest["thresholds"]
    assert (limits["from"], limits["purchases"]) == ("storefront", len(made))
    assert backtest["purchases"] == len(made) and backtest["days"] == 30
    orders = [reply["order_id"] for reply in made]
    applied = Thresholds(review=limits["review"], block=limits["block"])
    expected = _expected(risk_stack, tenant, orders, applied)
    assert {key: backtest[key] for key in expected} == expected
    assert expected["held"]["count"] + expected["blocked"]["count"] <= len(made) // 2

    put = analyst.session.put(
        analyst.base_url + SETTINGS, json={"mode": "enforce", **proposal}, timeout=30
    )
    assert put.status_code == 200, put.text
    assert put.json()["backtest"] == {**backtest, "thresholds": put.json()["thresholds"]}
    assert put.json()["thresholds"]["from"] == "storefront"

    # The next purchases use the storefront's thresholds, not the model's.
    _, after = _buy(shop, 12)
    assert risk_stack.store is not None
    statuses = {"allow": "pending", "review": "held", "block": "blocked"}
    for reply in after:
        order = risk_stack.store.get_order(tenant, reply["order_id"])
        assert order is not None and order.risk is not None
        assert reply["status"] == statuses[applied.action(float(order.risk["score"]))]
    assert any(reply["status"] != "pending" for reply in after)  # the model's would hold ~2%

    # The case view's percentiles: each feature among the storefront's recent purchases.
    order = risk_stack.store.get_order(tenant, after[0]["order_id"])
    assert order is not None and order.risk is not None
    row, now = order.risk["features"], datetime.now(UTC)
    found = risk_settings.percentiles(risk_stack.store, tenant, row, now, load_metadata())
    assert [name for name, _, _ in found] == list(FEATURE_NAMES)
    assert all(p is not None and 0 <= p <= 100 for _, _, p in found)
    fresh = _keys(risk_stack)["tenant"]
    none = risk_settings.percentiles(risk_stack.store, fresh, row, now, load_metadata())
    assert all(p is None for _, _, p in none)
