"""ExpiryFunction end to end: purchases over HTTP, the job through Lambda's Invoke API on
the local runner (as EventBridge Scheduler would call it), events on the local bus."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from cashback.domain.clock import to_iso
from cashback_tools.local.stack import LocalStack

from .client import Api, invoke, now_iso, unique


@pytest.fixture(scope="module")
def replay(stack: LocalStack) -> Api:
    return Api(stack.url, stack.keys["replay"]["storefront"])


def _invoke(stack: LocalStack, event: dict[str, object]) -> dict[str, object]:
    return invoke(stack.url, "ExpiryFunction", event)  # type: ignore[no-any-return]


def test_scheduled_run_ripens_and_expires_replayed_history(stack: LocalStack, replay: Api) -> None:
    old, recent = unique("old"), unique("recent")
    # A storefront replaying history: one purchase 200 days ago, one 35 days ago.
    assert replay.purchase(old, 10000, occurred_at=now_iso(timedelta(days=-200))).ok
    assert replay.purchase(recent, 20000, occurred_at=now_iso(timedelta(days=-35))).ok
    assert replay.balance(old)["pending"] == 500

    at = to_iso(datetime.now(UTC))
    report = _invoke(stack, {"time": at, "source": "aws.scheduler"})
    assert report["failures"] == 0 and report["complete"] is True

    assert (replay.balance(old)["available"], replay.balance(old)["pending"]) == (0, 0)
    assert replay.balance(recent)["available"] == 1000
    kinds = [entry["kind"] for entry in replay.entries(old).json()["items"]]
    assert kinds == ["expire", "ripen", "purchase"]
    published = [
        (e["detail-type"], e["detail"]["amount"])
        for e in stack.events
        if e["detail"].get("customer_id") in (old, recent)
    ]
    assert sorted(published) == [
        ("cashback.available", 500),
        ("cashback.available", 1000),
        ("cashback.expired", 500),
    ]

    again = _invoke(stack, {"time": at})
    assert again["lots_ripened"] == again["lots_expired"] == again["notices_published"] == 0


def test_a_scheduled_event_without_a_time_is_an_error_not_a_guess(stack: LocalStack) -> None:
    client = boto3.client(
        "lambda",
        endpoint_url=stack.url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    reply = client.invoke(FunctionName="ExpiryFunction", Payload=b'{"detail": {}}')
    assert reply["FunctionError"] == "Unhandled"
    assert "time" in json.loads(reply["Payload"].read())["errorMessage"]


def _refused(stack: LocalStack, event: dict[str, object]) -> str:
    client = boto3.client(
        "lambda",
        endpoint_url=stack.url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    reply = client.invoke(FunctionName="ExpiryFunction", Payload=json.dumps(event).encode())
    assert reply["FunctionError"] == "Unhandled"  # the schedule's retries and DLQ see it
    error = json.loads(reply["Payload"].read())
    assert error["errorType"] == "ScheduleRefused", error
    return error["errorMessage"]  # type: ignore[no-any-return]


def _checkpoint(stack: LocalStack) -> str | None:
    assert stack.store is not None
    return stack.store.checkpoint("lifecycle")


def test_a_time_ahead_of_the_clock_is_refused_and_changes_nothing(
    stack: LocalStack, replay: Api
) -> None:
    """Finding 8: invoked with now + 200 days, the job expired every tenant's cashback."""
    customer = unique("early")
    assert replay.purchase(customer, 10000, occurred_at=now_iso(timedelta(days=-100))).ok
    _invoke(stack, {"time": now_iso()})  # ripened: 500 available, due to expire in 80 days
    before = (replay.balance(customer), _checkpoint(stack), len(stack.events))
    assert before[0]["available"] == 500

    for ahead in (timedelta(days=200), timedelta(hours=1), timedelta(minutes=6)):
        message = _refused(stack, {"time": now_iso(ahead)})
        assert "ahead of this function's clock" in message
    assert (replay.balance(customer), _checkpoint(stack), len(stack.events)) == before

    # A few minutes of clock skew is fine: the schedule's own time may be early.
    report = _invoke(stack, {"time": now_iso(timedelta(minutes=4))})
    assert report["lots_expired"] == 0
    assert replay.balance(customer)["available"] == 500


@pytest.mark.parametrize(
    "time",
    [
        1767225600,
        "1767225600",
        1767225600.5,
        "garbage",
        "2026-11-29T12:00:00",
        None,
        ["2026-11-29T12:00:00Z"],
        "9999-12-31T23:59:59-14:00",
    ],
)
def test_a_time_that_is_not_iso_8601_with_an_offset_is_refused(
    stack: LocalStack, time: object
) -> None:
    before = (_checkpoint(stack), len(stack.events))
    assert "time" in _refused(stack, {"time": time})
    assert (_checkpoint(stack), len(stack.events)) == before


def test_the_checkpoint_never_passes_the_real_clock(stack: LocalStack) -> None:
    report = _invoke(stack, {"time": now_iso(timedelta(minutes=5))})
    assert report["complete"] is True
    checkpoint = _checkpoint(stack)
    assert checkpoint is not None and checkpoint < now_iso()[:10]
