"""Refunds after real spends, through the local stack: a refund of an order whose cashback
was spent claws it back under each of the three refund policies, and a refund of an order
paid with cashback gives that cashback back in proportion (healed on retry after a crash,
and combined with the storefront's own reversals)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cashback.api import replies
from cashback.domain.orders import NewRefund
from cashback.domain.tenants import TenantSettings
from cashback.services import order_returns, refunds
from cashback_tools.audit import verify
from cashback_tools.local.stack import LocalStack

from . import table
from .client import Api, now_iso, purchase_body, unique

SETTINGS = TenantSettings(currency="BRL", risk_mode="off")


def _program(policy: str) -> dict[str, Any]:
    return {
        "name": "Loja Devolve",
        "currency": "BRL",
        "time_zone": "America/Sao_Paulo",
        "effective_from": now_iso(timedelta(days=-10)),
        "base_rate": "0.05",
        "refund_policy": policy,
        "lifecycle": {"return_window_days": 0},
    }


class Shop:
    """A storefront with a 5% program under `policy`, cashback spendable at once."""

    def __init__(self, stack: LocalStack, policy: str) -> None:
        self.stack, self.tenant = stack, unique("refundshop")
        keys = stack.add_tenant(self.tenant, SETTINGS, now_iso())
        self.api = Api(stack.url, keys["storefront"])
        admin = Api(stack.url, keys["admin"])
        published = admin.session.put(f"{stack.url}/v1/rules", json=_program(policy), timeout=30)
        assert published.status_code == 201, published.text

    def buy(self, customer: str, amount: int) -> str:
        body = purchase_body(customer, amount)
        reply = self.api.post("/v1/purchases", body)
        assert reply.status_code == 201, reply.text
        table.ripen(self.stack, self.tenant, customer, datetime.now(UTC))
        return str(body["order_id"])

    def redeem(self, customer: str, amount: int, order_id: str, **fields: Any) -> dict[str, Any]:
        body = {
            **fields,
            "redemption_id": unique("red"),
            "customer_id": customer,
            "amount": amount,
            "order_id": order_id,
            "occurred_at": now_iso(),
            "channel": "online",
        }
        reply = self.api.post("/v1/redemptions", body)
        assert reply.status_code == 201, reply.text
        return reply.json()  # type: ignore[no-any-return]

    def refund(self, order_id: str, amount: int) -> dict[str, Any]:
        reply = self.api.refund(order_id, amount)
        assert reply.status_code == 201, reply.text
        return reply.json()  # type: ignore[no-any-return]

    def values(self, customer: str) -> dict[str, int]:
        assert self.stack.store is not None
        return dict(self.stack.store.get_account(self.tenant, customer).values)

    def audit(self, customer: str) -> None:
        assert self.stack.store is not None
        report = verify(self.stack.store, self.tenant, customer)
        assert report.ok, report.problems


def _spent_on_checkout(shop: Shop) -> tuple[str, str, str, dict[str, Any]]:
    """A customer earns 500 on order A and pays 500 of order B (8000, itself earning 400)
    with it, then earns 500 more on order C."""
    customer = unique("c")
    a = shop.buy(customer, 10000)
    # B's cashback is available at once too (a window of zero) and its deadline falls on
    # the same local midnight as C's: B's id sorts after C's ("o-...") so a refund that
    # takes from the balance takes C's first (earliest deadline, then order id), as the
    # scenario means, and B's own refund finds B's cashback there to take back.
    b = unique("pay")
    redemption = shop.redeem(customer, 500, b)
    assert [(lot["order_id"], lot["amount"]) for lot in redemption["lots"]] == [(a, 500)]
    shop.buy(customer, 10000)
    reply = shop.api.post("/v1/purchases", purchase_body(customer, 8000, order_id=b))
    assert reply.status_code == 201 and reply.json()["cashback"] == 400, reply.text
    return customer, a, b, redemption


# After A's full refund (its 500 all spent): what each policy charges, and the balance
# (C's 500 and B's 400: with a return window of zero both are available at once).
AFTER_REFUND_OF_SPENT = {
    "record_debt": {"debt": 500, "from_balance": 0, "forgiven": 0, "available": 900},
    "claw_back_unspent": {"debt": 0, "from_balance": 0, "forgiven": 500, "available": 900},
    "claw_back_within_balance": {"debt": 0, "from_balance": 500, "forgiven": 0, "available": 400},
}


@pytest.mark.parametrize("policy", sorted(AFTER_REFUND_OF_SPENT))
def test_refund_after_spend_under_each_policy(stack: LocalStack, policy: str) -> None:
    shop = Shop(stack, policy)
    customer, a, b, _ = _spent_on_checkout(shop)
    expected = AFTER_REFUND_OF_SPENT[policy]
    refunded = shop.refund(a, 10000)
    assert refunded["clawed_back"] == 500 and refunded["cashback_returned"] == 0
    assert {k: refunded[k] for k in ("debt", "from_balance", "forgiven")} == {
        k: expected[k] for k in ("debt", "from_balance", "forgiven")
    }
    before = shop.values(customer)
    assert (before["debt"], before["available"], before["spent"]) == (
        expected["debt"],
        expected["available"],
        500,
    )
    shop.audit(customer)
    # B (paid 500 with cashback) comes back in two halves: 250 each, debt repaid first.
    first = shop.refund(b, 4000)
    assert first["cashback_returned"] == 250 and first["clawed_back"] == 200
    assert [r["amount"] for r in first["cashback_returns"]] == [250]
    assert shop.values(customer)["debt"] == max(0, expected["debt"] - 250)
    second = shop.refund(b, 4000)
    assert second["cashback_returned"] == 250
    after = shop.values(customer)
    assert after["spent"] == 0 and after["debt"] == 0
    # What came back repays debt first; what A's refund let go of (claw_back_unspent) goes
    # where that refund would have taken it: the customer keeps no cashback of a refunded
    # order, whichever refund came first (B's own 400 is clawed back from available).
    clawed = first["clawed_back"] + second["clawed_back"]
    assert after["available"] == (
        before["available"] + 500 - before["debt"] - expected["forgiven"] - clawed
    )
    shop.audit(customer)


def test_a_retried_refund_gives_back_what_a_crash_left_out(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = Shop(stack, "record_debt")
    customer, _, b, redemption = _spent_on_checkout(shop)
    body = {"refund_id": unique("r"), "order_id": b, "amount": 8000, "occurred_at": now_iso()}
    request = NewRefund.from_dict({**body, "occurred_at": datetime.now(UTC), "lines": None})

    def crash(*_: Any) -> None:
        raise RuntimeError("the function died after the refund's transaction")

    monkeypatch.setattr(order_returns, "run_all", crash)
    assert stack.store is not None
    with pytest.raises(RuntimeError):
        refunds.record_refund(
            stack.store, shop.tenant, SETTINGS, request, datetime.now(UTC), shape=replies.refund
        )
    monkeypatch.undo()
    assert shop.values(customer)["spent"] == 500  # the refund landed, its returns did not
    retry = shop.api.post("/v1/refunds", {**body, "occurred_at": request.occurred_at.isoformat()})
    assert retry.status_code == 201 and retry.headers.get("Idempotent-Replayed") == "true"
    assert retry.json()["cashback_returned"] == 500
    assert shop.values(customer)["spent"] == 0
    again = shop.api.post("/v1/refunds", {**body, "occurred_at": request.occurred_at.isoformat()})
    assert again.json() == retry.json() and shop.values(customer)["spent"] == 0
    record = shop.api.get(f"/v1/redemptions/{redemption['redemption_id']}").json()
    assert record["reversed"] == 500
    shop.audit(customer)


def test_the_storefronts_own_reversal_leaves_the_rest_to_refunds(stack: LocalStack) -> None:
    shop = Shop(stack, "record_debt")
    customer, _, b, redemption = _spent_on_checkout(shop)
    reversal = {"reversal_id": unique("rev"), "amount": 200, "occurred_at": now_iso()}
    made = shop.api.post(f"/v1/redemptions/{redemption['redemption_id']}/reversals", reversal)
    assert made.status_code == 201, made.text
    # 300 is still spent on B: a quarter of B refunded gives back 75, the rest the rest.
    assert shop.refund(b, 2000)["cashback_returned"] == 75
    assert shop.refund(b, 10)["cashback_returned"] == 0  # floor(300 x 2010/8000) = 75
    assert shop.refund(b, 5990)["cashback_returned"] == 225
    assert shop.values(customer)["spent"] == 0
    shop.audit(customer)


def test_a_hold_counts_once_captured_and_only_what_was_captured(stack: LocalStack) -> None:
    shop = Shop(stack, "record_debt")
    customer = unique("c")
    shop.buy(customer, 10000)  # 500
    paid, held = unique("checkout"), unique("checkout")
    open_hold = shop.redeem(customer, 100, held, capture=False)
    hold = shop.redeem(customer, 400, paid, capture=False)
    captured = shop.api.post(f"/v1/redemptions/{hold['redemption_id']}/capture", {"amount": 300})
    assert captured.status_code == 200, captured.text
    for order_id in (paid, held):
        reply = shop.api.post("/v1/purchases", purchase_body(customer, 1000, order_id=order_id))
        assert reply.status_code == 201, reply.text
    assert shop.refund(held, 1000)["cashback_returned"] == 0  # still only held: not spent
    assert shop.refund(paid, 1000)["cashback_returned"] == 300
    values = shop.values(customer)
    assert (values["spent"], values["reserved"], values["available"]) == (0, 100, 400)
    assert shop.api.get(f"/v1/redemptions/{open_hold['redemption_id']}").json()["reversed"] == 0
    shop.audit(customer)
