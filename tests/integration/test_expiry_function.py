"""ExpiryFunction end to end: purchases over HTTP, the job through Lambda's Invoke API on
the local runner (as EventBridge Scheduler would call it), events on the local bus."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from cashback.clock import to_iso
from cashback.local.stack import LocalStack

from .client import Api, now_iso, unique


@pytest.fixture(scope="module")
def replay(stack: LocalStack) -> Api:
    return Api(stack.url, stack.keys["replay"]["storefront"])


def _invoke(stack: LocalStack, event: dict[str, object]) -> dict[str, object]:
    client = boto3.client("lambda", endpoint_url=stack.url, region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")
    reply = client.invoke(FunctionName="ExpiryFunction", Payload=json.dumps(event).encode())
    assert "FunctionError" not in reply, reply["Payload"].read()
    return json.loads(reply["Payload"].read())  # type: ignore[no-any-return]


def test_scheduled_run_ripens_and_expires_replayed_history(stack: LocalStack,
                                                           replay: Api) -> None:
    old, recent = unique("old"), unique("recent")
    # A storefront replaying history: one purchase 200 days ago, one 35 days ago.
    assert replay.purchase(old, 10000, occurred_at=now_iso(timedelta(days=-200))).ok
    assert replay.purchase(recent, 20000, occurred_at=now_iso(timedelta(days=-35))).ok
    assert replay.balance(old)["pending"] == 500

    at = to_iso(datetime.now(UTC) + timedelta(hours=1))
    report = _invoke(stack, {"time": at, "source": "aws.scheduler"})
    assert report["failures"] == 0 and report["complete"] is True

    assert (replay.balance(old)["available"], replay.balance(old)["pending"]) == (0, 0)
    assert replay.balance(recent)["available"] == 1000
    kinds = [entry["kind"] for entry in replay.entries(old).json()["items"]]
    assert kinds == ["expire", "ripen", "purchase"]
    published = [(e["detail-type"], e["detail"]["amount"]) for e in stack.events
                 if e["detail"]["customer_id"] in (old, recent)]
    assert sorted(published) == [("cashback.available", 500), ("cashback.available", 1000),
                                 ("cashback.expired", 500)]

    again = _invoke(stack, {"time": at})
    assert again["lots_ripened"] == again["lots_expired"] == again["notices_published"] == 0


def test_a_scheduled_event_without_a_time_is_an_error_not_a_guess(stack: LocalStack) -> None:
    client = boto3.client("lambda", endpoint_url=stack.url, region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")
    reply = client.invoke(FunctionName="ExpiryFunction", Payload=b'{"detail": {}}')
    assert reply["FunctionError"] == "Unhandled"
    assert "time" in json.loads(reply["Payload"].read())["errorMessage"]
