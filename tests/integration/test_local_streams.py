"""The table's stream through a real local stack (DynamoDB Local's stream, the function in
its worker process): the session stack's ReportsFunction gets the purchases' entries, and a
stand-in consumer (tests/fixtures/stream_consumer) in its place shows order, bisection and
the on-failure destination end to end. A role that cannot send to the destination is
refused when the stack starts, as Lambda refuses to create the mapping."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cashback_tools.local import stack as stack_module
from cashback_tools.local.iam import queue_arn
from cashback_tools.local.stack import LocalStack
from cashback_tools.local.stream_mapping import MappingRefused
from cashback_tools.local.template import Template, load_template

from .client import Api, unique

ROOT = Path(__file__).resolve().parents[2]
CONSUMER = ROOT / "tests" / "fixtures" / "stream_consumer"


def test_the_session_stacks_consumer_gets_the_purchases_entries(
    stack: LocalStack, acme: Api
) -> None:
    stack.settle(timeout=60)
    before = stack.stream_counters
    assert acme.purchase(unique("cust"), 10000).ok
    stack.settle(timeout=60)
    after = stack.stream_counters
    # The purchase's ledger entry and its lot, at least (other tests may write meanwhile).
    assert after["delivered"] - before["delivered"] >= 2
    assert after["invocations"] > before["invocations"]
    assert after["read"] - before["read"] > after["delivered"] - before["delivered"]
    assert stack.stream_failures == []


def _template(*, consumer: bool = True, queue_grant: bool = True) -> Template:
    """template.yaml with ReportsFunction's code replaced by the stand-in consumer, and
    optionally without its sqs:SendMessage grant."""
    template = load_template(ROOT / "template.yaml")
    document = copy.deepcopy(template.document)
    props = document["Resources"]["ReportsFunction"]["Properties"]
    if consumer:
        props["CodeUri"] = str(CONSUMER)
    if not queue_grant:
        statements = props["Policies"][0]["Statement"]
        props["Policies"][0]["Statement"] = [
            s for s in statements if "sqs:SendMessage" not in s["Action"]
        ]
    return Template(document=document, directory=template.directory)


@pytest.fixture(scope="module")
def consumer_stack() -> Iterator[LocalStack]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stack_module, "load_template", lambda path: _template())
        with LocalStack(tenants=("acme",), quiet=True, throttling=False) as running:
            yield running


def _put(stack: LocalStack, pk: str, sk: str, **extra: str) -> None:
    item = {"pk": {"S": pk}, "sk": {"S": sk}, **{k: {"S": v} for k, v in extra.items()}}
    stack.dynamodb_client().put_item(TableName="cashback-local", Item=item)  # type: ignore[attr-defined]


def _batches(stack: LocalStack, pk: str) -> list[list[str]]:
    reply = stack.dynamodb_client().query(  # type: ignore[attr-defined]
        TableName="cashback-local",
        KeyConditionExpression="pk = :pk AND begins_with(sk, :batch)",
        ExpressionAttributeValues={":pk": {"S": pk}, ":batch": {"S": "BATCH#"}},
    )
    return [[key["S"] for key in item["records"]["L"]] for item in reply["Items"]]


def test_a_poisoned_record_is_bisected_and_sent_on_while_the_rest_arrive_in_order(
    consumer_stack: LocalStack,
) -> None:
    stack, pk = consumer_stack, unique("STREAMTEST#")
    stack.pause_streams()
    names = [f"ENTRY#{i:03d}" for i in range(12)]
    for name in names:
        _put(stack, pk, name, **({"poison": "yes"} if name == "ENTRY#007" else {}))
        _put(stack, pk, name.replace("ENTRY", "NOTE"))  # filtered out: never delivered
    stack.resume_streams()
    stack.settle(timeout=120)
    delivered = [name for batch in _batches(stack, pk) for name in batch]
    assert delivered == [name for name in names if name != "ENTRY#007"]
    (failure,) = stack.stream_failures
    info: dict[str, Any] = failure["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    assert info["streamArn"].endswith("/stream/" + info["streamArn"].rsplit("/", 1)[-1])
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["functionArn"].endswith(":function:ReportsFunction")
    counters = stack.stream_counters
    assert counters["retries"] == 10  # MaximumRetryAttempts in template.yaml
    assert counters["failed"] == 1 and counters["bisections"] >= 1
    assert stack.iam_denials == []


def test_a_role_without_the_destination_grant_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stack_module, "load_template", lambda path: _template(queue_grant=False))
    stack = LocalStack(tenants=("acme",), quiet=True, store="memory")
    with pytest.raises(MappingRefused, match="SendMessage"):
        stack.start()
    assert stack.iam_denials == [
        {
            "principal": "ReportsFunction",
            "action": "sqs:SendMessage",
            "resource": queue_arn("ReportsDeadLetterQueue"),
        }
    ]
