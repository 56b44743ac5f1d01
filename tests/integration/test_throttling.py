"""One storefront cannot starve the others: each tenant's API key is on the template's
usage plan, with a token bucket of its own (API Gateway's per-key throttling)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from cashback_tools.local.gateway import LocalGateway
from cashback_tools.local.stack import LocalStack

from .client import Api, now_iso, unique


class FrozenClock:
    """The gateway's clock for its token buckets: still unless a test moves it, so what is
    throttled never depends on how fast this machine serves requests."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture(scope="module")
def limited(stack: LocalStack, clock: FrozenClock) -> Iterator[LocalGateway]:
    """A gateway on the session's stack with the template's throttling (its default)."""
    gateway = stack.gateway(clock=clock).start()
    yield gateway
    gateway.stop()


def _tenant(stack: LocalStack, gateway: LocalGateway, name: str) -> Api:
    keys = stack.add_tenant(unique(name), stack.settings, now_iso())
    return Api(gateway.url, keys["storefront"])


def _template_limits(stack: LocalStack) -> tuple[float, int]:
    assert stack.template is not None
    parameters = stack.template.document["Parameters"]
    plan = stack.template.document["Resources"]["TenantUsagePlan"]["Properties"]["Throttle"]
    assert plan == {
        "RateLimit": {"Ref": "TenantRateLimit"},
        "BurstLimit": {"Ref": "TenantBurstLimit"},
    }
    return (
        float(parameters["TenantRateLimit"]["Default"]),
        int(parameters["TenantBurstLimit"]["Default"]),
    )


def test_a_bursting_tenant_gets_429s_while_another_tenant_is_served(
    stack: LocalStack, limited: LocalGateway
) -> None:
    _, burst = _template_limits(stack)
    north, south = _tenant(stack, limited, "north"), _tenant(stack, limited, "south")
    extra = 20

    def north_call(_: int) -> requests.Response:
        return north.get("/v1/customers/c1/balance")

    def south_call(_: int) -> requests.Response:
        return south.get("/v1/customers/c1/balance")

    with ThreadPoolExecutor(max_workers=8) as pool:
        north_replies = pool.map(north_call, range(burst + extra))
        south_replies = pool.map(south_call, range(burst // 2))
        north_statuses = [r.status_code for r in north_replies]
        south_all = list(south_replies)
    # The bucket holds `burst` requests; with the clock still, not one more gets through.
    assert north_statuses.count(200) == burst
    assert north_statuses.count(429) == extra
    assert [r.status_code for r in south_all] == [200] * (burst // 2)

    throttled = north.get("/v1/customers/c1/balance")
    assert throttled.status_code == 429
    assert throttled.json() == {
        "code": "throttled",
        "message": "too many requests, retry with backoff",
    }
    assert throttled.headers["Retry-After"] == "1"  # the THROTTLED response's header
    assert throttled.headers["x-amzn-ErrorType"] == "TooManyRequestsException"
    # A throttled request never reaches the function: nothing was recorded.
    purchase = north.purchase("c1", 10000)
    assert purchase.status_code == 429
    assert north.get("/v1/customers/c1/entries").status_code == 429


def test_the_bucket_refills_at_the_templates_rate(
    stack: LocalStack, limited: LocalGateway, clock: FrozenClock
) -> None:
    rate, burst = _template_limits(stack)
    east = _tenant(stack, limited, "east")
    for _ in range(burst):
        assert east.get("/v1/customers/c1/balance").status_code == 200
    assert east.get("/v1/customers/c1/balance").status_code == 429
    clock.now += 1.0  # Retry-After later: `rate` requests' worth of tokens are back
    statuses = [east.get("/v1/customers/c1/balance").status_code for _ in range(int(rate) + 1)]
    assert statuses == [200] * int(rate) + [429]


def test_a_tenant_without_a_usage_plan_key_is_refused_before_any_function(
    stack: LocalStack, limited: LocalGateway
) -> None:
    assert stack.store is not None
    from cashback.services import keys

    tenant = unique("unprovisioned")
    stack.store.put_tenant(tenant, stack.settings, now_iso())  # no usage plan key
    key = keys.create_key(stack.store, tenant, ["storefront"], now_iso())
    reply = Api(limited.url, key).post("/v1/purchases", {"order_id": "o1"})
    assert reply.status_code == 403
    assert reply.json()["code"] == "tenant_not_provisioned"
