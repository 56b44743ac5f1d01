"""One local stack per test session: DynamoDB Local from npm, the table from template.yaml,
the real authorizer and handlers behind the local runner, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cashback.domain.tenants import TenantSettings
from cashback_tools.local.stack import LocalStack

from .client import Api, now_iso, unique

TENANTS = ("acme", "globex")


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    # The API tests assert exact balances: their storefronts screen in shadow mode (scored
    # and recorded, never held). test_screening.py has a storefront that enforces.
    # They also burst far above a storefront's rate on purpose (races, schemathesis), so
    # this stack lifts the usage plan's limits; test_throttling.py checks them on a
    # gateway that follows the template, as `cashback serve` and the demo do.
    with LocalStack(tenants=TENANTS, quiet=True, risk_mode="shadow", throttling=False) as running:
        assert running.store is not None
        # A tenant that replays history: occurred_at may be a year old.
        running.add_tenant(
            "replay",
            TenantSettings(currency="BRL", backdate_days=400, risk_mode="shadow"),
            now_iso(),
        )
        yield running


@pytest.fixture(scope="session")
def acme(stack: LocalStack) -> Api:
    return Api(stack.url, stack.keys["acme"]["storefront"])


@pytest.fixture(scope="session")
def globex(stack: LocalStack) -> Api:
    return Api(stack.url, stack.keys["globex"]["storefront"])


@pytest.fixture
def customer() -> str:
    return unique("cust")
