"""A storefront's HTTP client for the integration tests, and id helpers."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import requests

from cashback.domain.clock import to_iso

_ids = itertools.count(1)


def unique(prefix: str) -> str:
    """Ids unique within the session (the stack is shared across tests)."""
    return f"{prefix}-{next(_ids)}"


def now_iso(delta: timedelta = timedelta()) -> str:
    return to_iso(datetime.now(UTC).replace(microsecond=0) + delta)


class Api:
    """A storefront's view of the API: one tenant, one key."""

    def __init__(self, base_url: str, key: str | None) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        if key is not None:
            self.session.headers["Authorization"] = f"Bearer {key}"

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        if body is not None:
            kwargs["json"] = body
        return self.session.post(self.base_url + path, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.base_url + path, timeout=30, **kwargs)

    def purchase(self, customer_id: str, amount: int, **fields: Any) -> requests.Response:
        return self.post("/v1/purchases", purchase_body(customer_id, amount, **fields))

    def refund(self, order_id: str, amount: int, **fields: Any) -> requests.Response:
        body = {
            "refund_id": unique("r"),
            "order_id": order_id,
            "amount": amount,
            "occurred_at": now_iso(),
            **fields,
        }
        return self.post("/v1/refunds", body)

    def redeem(self, customer_id: str, amount: int, **fields: Any) -> requests.Response:
        """A redemption at checkout (captured at once unless `capture: False`)."""
        body = {
            "redemption_id": unique("red"),
            "customer_id": customer_id,
            "amount": amount,
            "order_id": unique("checkout"),
            "occurred_at": now_iso(),
            "channel": "online",
            **fields,
        }
        return self.post("/v1/redemptions", body)

    def balance(self, customer_id: str) -> dict[str, Any]:
        reply = self.get(f"/v1/customers/{customer_id}/balance")
        assert reply.status_code == 200, reply.text
        return reply.json()  # type: ignore[no-any-return]

    def entries(self, customer_id: str, **params: Any) -> requests.Response:
        return self.get(f"/v1/customers/{customer_id}/entries", params=params)


def purchase_body(customer_id: str, amount: int, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_id": unique("o"),
        "customer_id": customer_id,
        "amount": amount,
        "currency": "BRL",
        "occurred_at": now_iso(),
        "channel": "online",
        "lines": [{"sku": "sku-1", "category": "shoes", "amount": amount}],
    }
    body.update(fields)
    return body


def invoke(base_url: str, function: str, event: dict[str, Any]) -> Any:
    """Run a function through the local stack's Lambda Invoke API (as a scheduler would);
    a function error fails the test with Lambda's report."""
    client = boto3.client(
        "lambda",
        endpoint_url=base_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    reply = client.invoke(FunctionName=function, Payload=json.dumps(event).encode())
    assert "FunctionError" not in reply, reply["Payload"].read()
    return json.loads(reply["Payload"].read())
