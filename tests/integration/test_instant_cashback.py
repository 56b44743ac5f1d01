"""Instant cashback over HTTP (a return window of zero): spendable straight after the
purchase, held cashback not spendable until approved, then at once; the ledger audit
intact; the lifecycle job publishes the notice the purchase left and ripens nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from cashback.domain.rules.ruleset import RuleSet
from cashback.domain.tenants import TenantSettings
from cashback_tools.audit import verify
from cashback_tools.local.stack import LocalStack

from .client import Api, now_iso, unique
from .test_lifecycle import T0, Ledger

AT_ONCE = TenantSettings(currency="BRL", return_window_days=0)


class Shop:
    """An enforcing storefront whose cashback has no return window."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack, self.tenant = stack, unique("instant")
        keys = stack.add_tenant(self.tenant, AT_ONCE, now_iso())
        self.api = Api(stack.url, keys["storefront"])
        self.analyst = Api(stack.url, keys["review"])
        self.admin = Api(stack.url, keys["admin"])

    def redeem(self, customer: str, amount: int) -> Any:
        return self.api.redeem(customer, amount)

    def audit(self, customer: str) -> None:
        assert self.stack.store is not None
        report = verify(self.stack.store, self.tenant, customer)
        assert report.ok, report.problems


@pytest.fixture
def shop(stack: LocalStack) -> Shop:
    return Shop(stack)


def test_a_purchase_is_spendable_at_once(shop: Shop) -> None:
    customer = unique("ana")
    at = now_iso()
    made = shop.api.purchase(customer, 20000, occurred_at=at)
    assert made.status_code == 201, made.text
    reply = made.json()
    assert (reply["status"], reply["credited"]) == ("available", reply["cashback"])
    assert reply["available_at"] == at
    cashback = reply["cashback"]
    assert cashback > 0
    balance = shop.api.balance(customer)
    assert (balance["pending"], balance["available"]) == (0, cashback)
    spent = shop.redeem(customer, cashback)
    assert spent.status_code == 201, spent.text
    assert shop.api.balance(customer)["available"] == 0
    kinds = [e["kind"] for e in shop.api.entries(customer).json()["items"]]
    assert kinds == ["redeem", "ripen", "purchase"]  # newest first
    shop.audit(customer)


def test_a_program_with_a_window_of_zero_is_spendable_at_once(shop: Shop) -> None:
    published = shop.admin.session.put(
        shop.admin.base_url + "/v1/rules",
        json={
            "currency": "BRL",
            "time_zone": "America/Sao_Paulo",
            "effective_from": now_iso(timedelta(days=-1)),
            "base_rate": "0.05",
            "lifecycle": {"return_window_days": 0},
        },
        timeout=30,
    )
    assert published.status_code == 201, published.text
    customer = unique("bia")
    reply = shop.api.purchase(customer, 10000).json()
    assert (reply["status"], reply["cashback"]) == ("available", 500)
    assert shop.redeem(customer, 500).status_code == 201
    shop.audit(customer)


def _held(shop: Shop) -> dict[str, Any]:
    """A burst of purchases on one device: the model holds some for review."""
    customer, device = unique("burst"), unique("dev")
    replies = [shop.api.purchase(customer, 30000 + i, device_id=device).json() for i in range(8)]
    held = [r for r in replies if r["status"] == "held"]
    assert held, "the burst should have been held"
    return held[0]


def test_held_cashback_is_not_spendable_until_approved_then_at_once(shop: Shop) -> None:
    held = _held(shop)
    customer, cashback = held["customer_id"], held["cashback"]
    assert held["available_at"] is None and held["credited"] == 0
    before = shop.api.balance(customer)
    assert before["held"] >= cashback
    too_much = shop.redeem(customer, before["available"] + 1)
    assert (too_much.status_code, too_much.json()["code"]) == (422, "insufficient_balance")
    decided = shop.analyst.post(f"/v1/reviews/{held['order_id']}/decision", {"decision": "approve"})
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "available"
    after = shop.api.balance(customer)
    assert after["available"] == before["available"] + cashback
    assert after["held"] == before["held"] - cashback and after["pending"] == before["pending"]
    assert shop.redeem(customer, before["available"] + 1).status_code == 201
    case = shop.analyst.get(f"/v1/reviews/{held['order_id']}").json()
    assert case["status"] == "available" and case["case_status"] == "closed"
    shop.audit(customer)


def test_the_lifecycle_job_publishes_the_purchases_notice_once(stack: LocalStack) -> None:
    ledger = Ledger(stack)
    try:
        rules = RuleSet.model_validate(
            {
                "currency": "BRL",
                "time_zone": "America/Sao_Paulo",
                "effective_from": "2026-01-01T00:00:00Z",
                "base_rate": "0.05",
                "lifecycle": {"return_window_days": 0},
            }
        )
        ana = unique("ana")
        reply = ledger.buy(ana, 10000, T0, (1, rules))
        assert reply["status"] == "available"
        assert ledger.balance(ana)["available"] == 500
        report = ledger.run(T0 + timedelta(hours=1))
        assert (report.lots_ripened, report.notices_published) == (0, 1)
        assert ledger.events(ana) == [("cashback.available", 500)]
        again = ledger.run(T0 + timedelta(hours=2))
        assert again.notices_published == 0 and ledger.events(ana) == [("cashback.available", 500)]
        assert verify(ledger.store, ledger.tenant, ana).ok
    finally:
        ledger.drop()
