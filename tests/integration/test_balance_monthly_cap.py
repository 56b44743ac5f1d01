"""The balance shows the monthly cap left (issue 10, transparency): the cap of the program
in force and what is left of it this month, null without a program or without a cap."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cashback.domain.tenants import TenantSettings
from cashback_tools.local.stack import LocalStack

from .client import Api, now_iso, unique

CAP = 3000


def storefront(stack: LocalStack, program: dict[str, Any] | None) -> Api:
    """A storefront that never holds (screening off), with `program` published."""
    tenant = unique("capleft")
    keys = stack.add_tenant(tenant, TenantSettings(currency="BRL", risk_mode="off"), now_iso())
    if program is not None:
        admin = Api(stack.url, keys["admin"])
        body = {
            "currency": "BRL",
            "time_zone": "America/Sao_Paulo",
            "effective_from": now_iso(timedelta(days=-1)),
            **program,
        }
        reply = admin.session.put(admin.base_url + "/v1/rules", timeout=30, json=body)
        assert reply.status_code == 201, reply.text
    return Api(stack.url, keys["storefront"])


def cap_of(shop: Api, customer: str) -> tuple[Any, Any]:
    balance = shop.balance(customer)
    return balance["monthly_cap"], balance["monthly_cap_left"]


def test_the_balance_shows_what_is_left_of_the_monthly_cap(stack: LocalStack) -> None:
    shop = storefront(stack, {"base_rate": "0.10", "caps": {"per_customer_month": CAP}})
    customer = unique("capped")
    assert cap_of(shop, customer) == (CAP, CAP)  # no account yet: the whole cap
    reply = shop.purchase(customer, 10000)
    assert reply.status_code == 201, reply.text
    assert reply.json()["cashback"] == 1000
    assert cap_of(shop, customer) == (CAP, CAP - 1000)
    reply = shop.purchase(customer, 50000)  # 5,000 uncapped: the cap cuts it to what is left
    assert reply.status_code == 201, reply.text
    assert reply.json()["cashback"] == CAP - 1000
    assert cap_of(shop, customer) == (CAP, 0)


def test_no_cap_or_no_program_shows_null(stack: LocalStack) -> None:
    uncapped = storefront(stack, {"base_rate": "0.10"})
    assert uncapped.purchase("ana", 10000).status_code == 201
    assert cap_of(uncapped, "ana") == (None, None)
    bare = storefront(stack, None)
    assert bare.purchase("ana", 10000).status_code == 201
    assert cap_of(bare, "ana") == (None, None)
