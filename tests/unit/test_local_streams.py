"""The local stack's stream delivery (cashback_tools.local.streams) against moto's real
DynamoDB stream, with an in-process stand-in consumer: order per shard, filters, batching,
retries, bisection, partial batch responses, the on-failure destination, and the template's
mapping and permissions as Lambda checks them."""

from __future__ import annotations

import copy
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cashback_tools.local.iam import Denial, Policies, event_bus_arn, queue_arn, table_arn
from cashback_tools.local.stream_filters import FilterError, Pattern, any_matches
from cashback_tools.local.stream_mapping import (
    MappingRefused,
    StreamMapping,
    check_permissions,
    parse_mapping,
    stream_mappings,
)
from cashback_tools.local.streams import StreamEmulator, lambda_record
from cashback_tools.local.template import Template, load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
REFS = {
    "LedgerTable.Arn": table_arn("cashback-local"),
    "CashbackEventBus.Arn": event_bus_arn("cashback-local"),
}
QUEUE = queue_arn("ReportsDeadLetterQueue")
ENTRIES = (Pattern.parse('{"dynamodb": {"Keys": {"sk": {"S": [{"prefix": "ENTRY#"}]}}}}'),)


class Consumer:
    """A stand-in for the stream's function: records every event; `behave(records)` may
    raise (a function error) or return a reply."""

    def __init__(self, behave: Callable[[list[dict[str, Any]]], Any] | None = None) -> None:
        self.behave = behave or (lambda records: None)
        self.events: list[list[dict[str, Any]]] = []
        self.lock = threading.Lock()

    def __call__(self, function: str, event: dict[str, Any]) -> Any:
        assert function == "Consumer"
        with self.lock:
            self.events.append(event["Records"])
        return self.behave(event["Records"])

    def batches(self) -> list[list[str]]:
        return [[_n(record) for record in records] for records in self.events]


def _n(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["Keys"]["sk"]["S"])


def _seq(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any, str]]:
    # A local stack started earlier in the session points boto3 at its endpoints.
    for name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(name)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(**TEMPLATE.table_create_params(table_name="streams-test"))
        arn = client.describe_table(TableName="streams-test")["Table"]["LatestStreamArn"]
        # moto (5.2) routes only this spelling of the endpoint (its pattern wants the "/").
        streams = boto3.client(
            "dynamodbstreams",
            region_name="us-east-1",
            endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com/",
        )
        yield client, streams, arn


def _mapping(**changes: Any) -> StreamMapping:
    fields: dict[str, Any] = {
        "function": "Consumer",
        "event": "Stream",
        "table": "LedgerTable",
        "batch_size": 100,
        "on_failure": QUEUE,
        "filters": ENTRIES,
        **changes,
    }
    return StreamMapping(**fields)


def _put(client: Any, *names: str, **extra: str) -> None:
    for name in names:
        item = {"pk": {"S": "T#acme"}, "sk": {"S": name}}
        item.update({key: {"S": value} for key, value in extra.items()})
        client.put_item(TableName="streams-test", Item=item)


def _run(aws: tuple[Any, Any, str], mapping: StreamMapping, consumer: Consumer) -> StreamEmulator:
    _, streams, arn = aws
    return StreamEmulator(
        [mapping], streams, {"LedgerTable": arn}, consumer, poll_interval=0.02
    ).start()


def test_records_arrive_in_order_as_lambda_shapes_them_and_filters_drop_the_rest(aws) -> None:
    client, _, arn = aws
    consumer = Consumer()
    emulator = _run(aws, _mapping(batch_size=3), consumer)
    try:
        names = [f"ENTRY#{i:02d}" for i in range(8)]
        for name in names:
            _put(client, name)
            _put(client, name.replace("ENTRY", "CUSTOMER"))
        emulator.settle(timeout=10)
    finally:
        emulator.stop()
    delivered = [name for batch in consumer.batches() for name in batch]
    assert delivered == names  # in order, nothing else
    assert all(1 <= len(batch) <= 3 for batch in consumer.events)
    record = consumer.events[0][0]
    assert record["eventVersion"] == "1.1"
    assert record["eventSource"] == "aws:dynamodb"
    assert record["eventName"] == "INSERT"
    assert record["awsRegion"] == "us-east-1"
    assert record["eventSourceARN"] == arn
    change = record["dynamodb"]
    assert isinstance(change["ApproximateCreationDateTime"], int)
    assert change["Keys"] == {"pk": {"S": "T#acme"}, "sk": {"S": "ENTRY#00"}}
    assert change["NewImage"]["sk"] == {"S": "ENTRY#00"}
    assert change["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert {"SequenceNumber", "SizeBytes"} <= change.keys()
    sequences = [_seq(r) for batch in consumer.events for r in batch]
    assert sequences == sorted(sequences, key=int)
    counters = emulator.counters
    assert counters["read"] == 16 and counters["matched"] == 8 and counters["delivered"] == 8
    assert counters["invocations"] == len(consumer.events) and counters["retries"] == 0


def test_a_failing_record_is_bisected_retried_then_sent_on_while_the_rest_arrive(aws) -> None:
    client, _, arn = aws

    def poison(records: list[dict[str, Any]]) -> None:
        if any("poison" in r["dynamodb"]["NewImage"] for r in records):
            raise RuntimeError("cannot fold it")

    consumer = Consumer(poison)
    emulator = _run(aws, _mapping(bisect=True, max_retries=2), consumer)
    emulator.pause()
    names = [f"ENTRY#{i}" for i in range(8)]
    _put(client, *names[:5])
    _put(client, names[5], poison="yes")
    _put(client, *names[6:])
    emulator.resume()
    try:
        emulator.settle(timeout=10)
    finally:
        emulator.stop()
    succeeded = [
        batch for batch in consumer.batches() if "ENTRY#5" not in batch
    ]  # the invocations without the poison succeeded
    assert [name for batch in succeeded for name in batch] == [n for n in names if n != "ENTRY#5"]
    # 8 -> 4+4 -> (2+2) -> 1+1: then the single record, retried twice.
    assert consumer.batches()[:4] == [names, names[:4], names[4:], names[4:6]]
    assert consumer.batches().count(["ENTRY#5"]) == 3
    (failure,) = emulator.failures
    poisoned = next(r for batch in consumer.events for r in batch if _n(r) == "ENTRY#5")
    info = failure["DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == _seq(poisoned)
    assert info["batchSize"] == 1 and info["streamArn"] == arn
    assert info["shardId"].startswith("shardId-")
    assert {"approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord"} <= info.keys()
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["functionArn"].endswith(":function:Consumer")
    assert failure["requestContext"]["approximateInvokeCount"] == 6  # 8, 4, 2, 1, 1, 1
    assert failure["responseContext"]["functionError"] == "Unhandled"
    assert failure["version"] == "1.0"
    assert emulator.counters["retries"] == 2 and emulator.counters["failed"] == 1


def test_without_bisection_the_whole_batch_is_retried_then_sent_on(aws) -> None:
    client, _, _ = aws

    def boom(records: list[dict[str, Any]]) -> None:
        if any(_n(r) == "ENTRY#1" for r in records):
            raise RuntimeError("boom")

    consumer = Consumer(boom)
    emulator = _run(aws, _mapping(batch_size=3, max_retries=1), consumer)
    emulator.pause()
    _put(client, *[f"ENTRY#{i}" for i in range(5)])
    emulator.resume()
    try:
        emulator.settle(timeout=10)
    finally:
        emulator.stop()
    first = ["ENTRY#0", "ENTRY#1", "ENTRY#2"]
    assert consumer.batches() == [first, first, ["ENTRY#3", "ENTRY#4"]]
    (failure,) = emulator.failures
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 3
    assert failure["requestContext"]["approximateInvokeCount"] == 2


def test_a_partial_reply_resumes_from_the_lowest_failed_record(aws) -> None:
    client, _, _ = aws
    calls = {"n": 0}

    def partial(records: list[dict[str, Any]]) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:  # report 4 then 2 failed: everything from 2 comes again
            return {
                "batchItemFailures": [
                    {"itemIdentifier": _seq(records[4])},
                    {"itemIdentifier": _seq(records[2])},
                ]
            }
        return [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}][calls["n"] % 4]

    consumer = Consumer(partial)
    emulator = _run(aws, _mapping(report_item_failures=True, bisect=True), consumer)
    emulator.pause()
    names = [f"ENTRY#{i}" for i in range(6)]
    _put(client, *names)
    emulator.resume()
    try:
        emulator.settle(timeout=10)
    finally:
        emulator.stop()
    assert consumer.batches() == [names, names[2:]]
    assert emulator.counters["retries"] == 1 and emulator.counters["delivered"] == 6
    assert emulator.failures == []


@pytest.mark.parametrize(
    "reply",
    [
        {"batchItemFailures": [{"itemIdentifier": "999"}]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"id": "1"}]},
        {"batchItemFailures": "all"},
        "ok",
    ],
)
def test_a_malformed_reply_fails_the_whole_batch(aws, reply: Any) -> None:
    client, _, _ = aws
    calls = {"n": 0}

    def once(records: list[dict[str, Any]]) -> Any:
        calls["n"] += 1
        return reply if calls["n"] == 1 else None

    consumer = Consumer(once)
    emulator = _run(aws, _mapping(report_item_failures=True), consumer)
    emulator.pause()
    _put(client, "ENTRY#0", "ENTRY#1")
    emulator.resume()
    try:
        emulator.settle(timeout=10)
    finally:
        emulator.stop()
    assert consumer.batches() == [["ENTRY#0", "ENTRY#1"]] * 2


def test_retries_exhausted_on_a_partial_reply_send_the_rest_of_the_batch(aws) -> None:
    client, _, _ = aws
    consumer = Consumer(
        lambda records: {
            "batchItemFailures": [
                {"itemIdentifier": _seq(r)} for r in records if _n(r) == "ENTRY#1"
            ]
        }
    )
    emulator = _run(aws, _mapping(report_item_failures=True, max_retries=0), consumer)
    emulator.pause()
    _put(client, "ENTRY#0", "ENTRY#1", "ENTRY#2")
    emulator.resume()
    try:
        emulator.settle(timeout=10)
    finally:
        emulator.stop()
    (failure,) = emulator.failures
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 2  # ENTRY#1 and what followed it
    assert "functionError" not in failure["responseContext"]
    assert emulator.counters["delivered"] == 1


def test_records_older_than_the_maximum_age_are_not_invoked(aws) -> None:
    client, streams, arn = aws
    consumer = Consumer()
    emulator = StreamEmulator(
        [_mapping(max_record_age=60)],
        streams,
        {"LedgerTable": arn},
        consumer,
        poll_interval=0.02,
        clock=lambda: time.time() + 3600,
    ).start()
    _put(client, "ENTRY#0")
    try:
        emulator.settle(timeout=10)
    finally:
        emulator.stop()
    assert consumer.events == []
    (failure,) = emulator.failures
    assert failure["requestContext"]["condition"] == "RecordAgeExceeded"


def test_the_window_holds_a_batch_until_full_and_settle_closes_it(aws) -> None:
    client, _, _ = aws
    consumer = Consumer()
    emulator = _run(aws, _mapping(batch_size=4, window=300), consumer)
    try:
        _put(client, *[f"ENTRY#{i}" for i in range(6)])
        deadline = time.monotonic() + 5
        while not consumer.events and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
        assert consumer.batches() == [[f"ENTRY#{i}" for i in range(4)]]  # full: it went
        emulator.settle(timeout=10)  # the rest waits for its window, unless settling
        assert consumer.batches()[1:] == [["ENTRY#4", "ENTRY#5"]]
    finally:
        emulator.stop()


def test_pause_holds_delivery_back(aws) -> None:
    client, _, _ = aws
    consumer = Consumer()
    emulator = _run(aws, _mapping(), consumer)
    try:
        emulator.pause()
        _put(client, "ENTRY#0")
        time.sleep(0.2)
        assert consumer.events == []
        with pytest.raises(RuntimeError, match="paused"):
            emulator.settle(timeout=1)
        emulator.resume()
        emulator.settle(timeout=10)
        assert consumer.batches() == [["ENTRY#0"]]
    finally:
        emulator.stop()


def test_settle_names_what_is_stuck(aws) -> None:
    client, _, _ = aws
    consumer = Consumer(lambda records: time.sleep(0.5))
    emulator = _run(aws, _mapping(), consumer)
    try:
        _put(client, "ENTRY#0")
        with pytest.raises(TimeoutError, match="did not settle"):
            emulator.settle(timeout=0.2)
    finally:
        emulator.stop()


# the template's mapping, as Lambda would create it


def _ledger_stream(template: Template) -> dict[str, Any]:
    props = template.resources["ReportsFunction"]["Properties"]
    return dict(props["Events"]["LedgerStream"]["Properties"])


def test_the_templates_mapping_is_read_in_full() -> None:
    (mapping,) = stream_mappings(TEMPLATE, REFS)
    assert mapping.function == "ReportsFunction" and mapping.table == "LedgerTable"
    assert (mapping.batch_size, mapping.window, mapping.max_retries) == (10000, 30, 10)
    assert mapping.bisect and mapping.report_item_failures
    assert mapping.starting_position == "TRIM_HORIZON"
    assert mapping.on_failure == QUEUE

    def record(name: str, sort_key: str) -> dict[str, Any]:
        return {"eventName": name, "dynamodb": {"Keys": {"sk": {"S": sort_key}}}}

    kept = [record("INSERT", "ENTRY#1"), record("MODIFY", "LOT#1"), record("INSERT", "ORDER")]
    dropped = [
        record("MODIFY", "ENTRY#1"),  # entries never change: tampering is the audit's
        record("REMOVE", "ENTRY#1"),
        record("MODIFY", "ORDER"),
        record("INSERT", "CUSTOMER"),
    ]
    assert all(any_matches(mapping.filters, r) for r in kept)
    assert not any(any_matches(mapping.filters, r) for r in dropped)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"TumblingWindowInSeconds": 60}, "not emulated"),
        ({"ParallelizationFactor": 2}, "ParallelizationFactor"),
        ({"StartingPosition": "AT_TIMESTAMP"}, "StartingPosition"),
        ({"BatchSize": 0}, "BatchSize"),
        ({"MaximumRecordAgeInSeconds": 10}, "MaximumRecordAgeInSeconds"),
        ({"FunctionResponseTypes": ["Other"]}, "FunctionResponseTypes"),
        ({"DestinationConfig": {"OnFailure": {"Destination": "x", "Type": "SNS"}}}, "SQS"),
        ({"FilterCriteria": {"Filters": [{"Pattern": '{"eventName": ["A"]}'}] * 6}}, "at most"),
        ({"Stream": "arn:aws:dynamodb:us-east-1:1:table/x/stream/y"}, "StreamArn"),
    ],
)
def test_properties_it_does_not_emulate_are_refused(change: dict[str, Any], message: str) -> None:
    props = {**_ledger_stream(TEMPLATE), **change}
    with pytest.raises(MappingRefused, match=message):
        parse_mapping(TEMPLATE, "ReportsFunction", "LedgerStream", props, REFS)


def test_a_disabled_mapping_does_not_run() -> None:
    props = {**_ledger_stream(TEMPLATE), "Enabled": False}
    assert parse_mapping(TEMPLATE, "ReportsFunction", "LedgerStream", props, REFS) is None


@pytest.mark.parametrize(
    ("pattern", "record", "matches"),
    [
        ('{"eventName": ["INSERT", "MODIFY"]}', {"eventName": "MODIFY"}, True),
        ('{"eventName": ["INSERT"]}', {"eventName": "REMOVE"}, False),
        ('{"eventName": [{"anything-but": ["REMOVE"]}]}', {"eventName": "INSERT"}, True),
        ('{"eventName": [{"anything-but": "REMOVE"}]}', {"eventName": "REMOVE"}, False),
        ('{"a": [{"anything-but": {"prefix": "x"}}]}', {"a": "xy"}, False),
        ('{"a": [{"numeric": [">", 0, "<=", 5]}]}', {"a": 5}, True),
        ('{"a": [{"numeric": [">", 0, "<=", 5]}]}', {"a": 6}, False),
        ('{"a": [{"numeric": ["=", 1]}]}', {"a": "1"}, False),
        ('{"a": [{"exists": true}]}', {"a": None}, True),
        ('{"a": [{"exists": false}]}', {"b": 1}, True),
        ('{"a": [{"exists": false}]}', {"a": 1}, False),
        ('{"a": [{"suffix": "#9"}]}', {"a": "ENTRY#9"}, True),
        ('{"a": [{"equals-ignore-case": "abc"}]}', {"a": "ABC"}, True),
        ('{"a": [null]}', {"a": None}, True),
        ('{"a": ["x"], "b": ["y"]}', {"a": "x", "b": "z"}, False),
        ('{"a": {"b": ["x"]}}', {"a": {"b": ["w", "x"]}}, True),
    ],
)
def test_filter_patterns(pattern: str, record: dict[str, Any], matches: bool) -> None:
    assert Pattern.parse(pattern).matches(record) is matches


@pytest.mark.parametrize(
    "pattern",
    [
        '{"$or": [{"a": ["x"]}]}',
        '{"a": [{"wildcard": "x*"}]}',
        '{"a": [{"cidr": "10.0.0.0/24"}]}',
        '{"a": "x"}',
        '{"a": []}',
        '{"a": [{"numeric": [">"]}]}',
        "[]",
        "not json",
    ],
)
def test_filter_operators_it_does_not_evaluate_are_refused(pattern: str) -> None:
    with pytest.raises(FilterError):
        Pattern.parse(pattern)


# permissions, as Lambda checks the function's role when it creates the mapping


def _without_queue_grant(template: Template) -> Template:
    document = copy.deepcopy(template.document)
    statements = document["Resources"]["ReportsFunction"]["Properties"]["Policies"][0]
    statements["Statement"] = [
        s for s in statements["Statement"] if "sqs:SendMessage" not in s["Action"]
    ]
    return Template(document=document, directory=template.directory)


STREAM = "arn:aws:dynamodb:us-east-1:000000000000:table/cashback-local/stream/2026-01-01T00:00"


def test_sam_lets_the_function_read_its_stream_and_the_template_grants_the_queue() -> None:
    (mapping,) = stream_mappings(TEMPLATE, REFS)
    denials: list[Denial] = []
    check_permissions(mapping, Policies.from_template(TEMPLATE, REFS), STREAM, denials.append)
    assert denials == []
    # Only the stream's function gets AWSLambdaDynamoDBExecutionRole from SAM.
    policies = Policies.from_template(TEMPLATE, REFS)
    assert policies.check("AccrualFunction", [("dynamodb:GetRecords", STREAM)]) is not None


def test_a_role_that_cannot_send_to_the_destination_is_refused() -> None:
    template = _without_queue_grant(TEMPLATE)
    (mapping,) = stream_mappings(template, REFS)
    denials: list[Denial] = []
    with pytest.raises(MappingRefused, match="SendMessage"):
        check_permissions(mapping, Policies.from_template(template, REFS), STREAM, denials.append)
    assert [(d.action, d.resource) for d in denials] == [("sqs:SendMessage", QUEUE)]
    # SAM grants it itself when the destination says Type: SQS.
    document = copy.deepcopy(template.document)
    events = document["Resources"]["ReportsFunction"]["Properties"]["Events"]
    events["LedgerStream"]["Properties"]["DestinationConfig"]["OnFailure"]["Type"] = "SQS"
    typed = Template(document=document, directory=template.directory)
    check_permissions(mapping, Policies.from_template(typed, REFS), STREAM, denials.append)


def test_an_explicit_deny_of_the_stream_is_refused() -> None:
    document = copy.deepcopy(TEMPLATE.document)
    policies = document["Resources"]["ReportsFunction"]["Properties"]["Policies"]
    policies.append(
        {"Statement": [{"Effect": "Deny", "Action": "dynamodb:GetRecords", "Resource": "*"}]}
    )
    template = Template(document=document, directory=TEMPLATE.directory)
    (mapping,) = stream_mappings(template, REFS)
    denials: list[Denial] = []
    with pytest.raises(MappingRefused, match="Cannot access stream"):
        check_permissions(mapping, Policies.from_template(template, REFS), STREAM, denials.append)
    assert denials[0].explicit


def test_an_empty_map_reaches_the_consumer_typed_as_aws_sends_it() -> None:
    """DynamoDB Local's stream gives an empty map as `{}`; Lambda's event has `{"M": {}}`."""
    raw = {
        "eventID": "1",
        "eventName": "INSERT",
        "dynamodb": {
            "Keys": {"pk": {"S": "p"}, "sk": {"S": "ENTRY#1"}},
            "NewImage": {"deltas": {}, "nested": {"M": {"inner": {}}}, "n": {"N": "1"}},
            "SequenceNumber": "1",
        },
    }
    image = lambda_record(raw, "arn", "us-east-1")["dynamodb"]["NewImage"]
    assert image == {"deltas": {"M": {}}, "nested": {"M": {"inner": {"M": {}}}}, "n": {"N": "1"}}
