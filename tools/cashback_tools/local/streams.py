"""The table's stream delivered to its consumer as Lambda's event source mapping delivers
it: each shard read in sequence order (a parent before its children), filtered, batched
(BatchSize, MaximumBatchingWindowInSeconds, 6 MB), one batch in flight per shard, each
batch's fate decided by stream_delivery.py (retries, bisection, partial batch responses,
the on-failure destination).

`StreamEmulator` polls about four times a second in a thread of its own, from start() to
stop(); `settle()` waits until every record written before the call is handled.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self

from botocore.exceptions import ClientError

from cashback_tools.local.iam import REGION
from cashback_tools.local.stream_delivery import BatchDelivery, Counters, Stopped
from cashback_tools.local.stream_filters import any_matches
from cashback_tools.local.stream_mapping import StreamMapping

POLL_INTERVAL = 0.25  # Lambda polls each shard four times a second
PAYLOAD_LIMIT = 6 * 1024 * 1024  # a synchronous invocation's payload
_READ_LIMIT = 1000  # records per GetRecords call (DynamoDB Streams' maximum)
# Runs the function with an event: its reply, or an exception for a function error.
FunctionInvoke = Callable[[str, dict[str, Any]], Any]


@dataclass
class _Shard:
    shard_id: str
    parent: str | None
    iterator: str | None
    delivery: BatchDelivery
    # Records kept by the filters, not yet delivered: (record, its size, when read).
    buffer: list[tuple[dict[str, Any], int, float]] = field(default_factory=list)
    last_sequence: str | None = None
    finished: bool = False  # closed, and every record of it handled


@dataclass
class _Run:
    """One mapping on its stream: its shards, in the order they were found."""

    mapping: StreamMapping
    stream_arn: str
    counters: Counters = field(default_factory=Counters)
    shards: dict[str, _Shard] = field(default_factory=dict)
    started: bool = False


def lambda_record(raw: Mapping[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A GetRecords record as Lambda puts it in the event (creation time in epoch seconds)."""
    change = dict(raw["dynamodb"])
    for image in ("NewImage", "OldImage"):
        if image in change:
            change[image] = {name: _typed(value) for name, value in change[image].items()}
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        change["ApproximateCreationDateTime"] = int(created.timestamp())
    record: dict[str, Any] = {
        "eventID": raw["eventID"],
        "eventName": raw["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in raw:  # a deletion by TTL says so
        record["userIdentity"] = dict(raw["userIdentity"])
    return record


def _typed(value: Any) -> Any:
    """An attribute value as DynamoDB Streams sends it. An empty map arrives from DynamoDB
    Local's stream as `{}` (no type), which no deserializer reads; AWS sends `{"M": {}}`."""
    if value == {}:
        return {"M": {}}
    if isinstance(value, dict) and "M" in value:
        return {"M": {name: _typed(inner) for name, inner in value["M"].items()}}
    if isinstance(value, dict) and "L" in value:
        return {"L": [_typed(inner) for inner in value["L"]]}
    return value


class StreamEmulator:
    """Runs `mappings` against the streams of `stream_arns` (table logical id -> stream
    ARN), read with `client` (boto3 "dynamodbstreams"); `invoke(function, event)` runs the
    function, `send(destination, message)` takes on-failure records (default: kept in
    `failures`)."""

    def __init__(
        self,
        mappings: Sequence[StreamMapping],
        client: Any,
        stream_arns: Mapping[str, str],
        invoke: FunctionInvoke,
        *,
        region: str = REGION,
        poll_interval: float = POLL_INTERVAL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client, self.invoke, self.region = client, invoke, region
        self.poll_interval, self.clock = poll_interval, clock
        self._runs = [_Run(mapping, stream_arns[mapping.table]) for mapping in mappings]
        self.failures: list[dict[str, Any]] = []
        self.error: str | None = None
        self._changed = threading.Condition()
        self._paused = self._stopping = False
        self._flush_requests = 0
        self._quiet_since: float | None = None  # start of the last pass that found no work
        self._thread: threading.Thread | None = None

    # lifecycle and controls

    def start(self) -> Self:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="stream-poller", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def pause(self) -> None:
        """Hold delivery back: nothing is read or invoked until resume()."""
        with self._changed:
            self._paused = True

    def resume(self) -> None:
        with self._changed:
            self._paused = False
            self._changed.notify_all()

    def settle(self, timeout: float = 60.0) -> None:
        """Return once every record written to the streams before the call is handled
        (delivered, filtered out, or sent to the on-failure destination). Batching windows
        close early meanwhile; batches stay within BatchSize and in order."""
        called = time.monotonic()
        deadline = called + timeout
        with self._changed:
            if self._paused:
                raise RuntimeError("stream delivery is paused: resume it before settling")
            if self._thread is None or self._stopping:
                raise RuntimeError("the stream emulator is not running")
            self._flush_requests += 1
            self._changed.notify_all()
            try:
                while self._quiet_since is None or self._quiet_since < called:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError(f"streams did not settle in {timeout}s: {self.stuck()}")
                    self._changed.wait(left)
            finally:
                self._flush_requests -= 1

    @property
    def counters(self) -> dict[str, int]:
        """Every mapping's counters added up (stream_delivery.Counters)."""
        total: dict[str, int] = {}
        for run in self._runs:
            for name, value in run.counters.as_dict().items():
                total[name] = total.get(name, 0) + value
        return total

    def stuck(self) -> str:
        """What is not handled yet, shard by shard (for a settle that timed out)."""
        lines = []
        for run in self._runs:
            for shard in run.shards.values():
                in_flight = shard.delivery.state.get("in_flight")
                if shard.finished or not (shard.buffer or in_flight):
                    continue
                lines.append(
                    f"{run.mapping.name} {shard.shard_id}: {len(shard.buffer)} record(s) "
                    f"waiting" + (f", in flight {in_flight}" if in_flight else "")
                )
        if self.error:
            lines.append(f"last error: {self.error}")
        return "; ".join(lines) or "no shard has work (the poller may be stuck)"

    # the poller

    def _loop(self) -> None:
        while True:
            with self._changed:
                if self._stopping:
                    return
                if self._paused:
                    self._changed.wait(self.poll_interval)
                    continue
                flush = self._flush_requests > 0
            started = time.monotonic()
            failed = False
            try:
                quiet = self.run_once(flush=flush)
                self.error = None
            except Stopped:
                return
            except Exception as error:  # noqa: BLE001 - logged; the poller goes on, as Lambda's
                quiet, failed = False, True
                self.error = f"{type(error).__name__}: {error}"
                traceback.print_exc(file=sys.stderr)
            with self._changed:
                if quiet:
                    self._quiet_since = started
                    self._changed.notify_all()
                # While settling, the next pass follows at once (unless this one failed).
                if not self._stopping and (failed or quiet or not flush):
                    self._changed.wait(self.poll_interval)

    def _halted(self) -> bool:
        return self._stopping or self._paused

    def run_once(self, *, flush: bool = False) -> bool:
        """One pass over every shard (a parent's children once it is done): read what is
        there, deliver what is due. True when nothing was left to read or deliver."""
        quiet = True
        for run in self._runs:
            self._discover(run)
            for shard in list(run.shards.values()):
                if shard.finished:
                    continue
                parent = run.shards.get(shard.parent or "")
                if parent is not None and not parent.finished:
                    quiet = False
                    continue
                self._drain(run, shard, flush)
                if self._halted():
                    return False
                quiet = quiet and (shard.finished or not shard.buffer)
        return quiet

    def _discover(self, run: _Run) -> None:
        """New shards of the stream (DescribeStream, every page), each with its iterator:
        StartingPosition for the shards there when the mapping starts, TRIM_HORIZON for
        the ones that appear later (a parent's children)."""
        found: list[dict[str, Any]] = []
        start: str | None = None
        while True:
            extra = {"ExclusiveStartShardId": start} if start else {}
            description = self.client.describe_stream(StreamArn=run.stream_arn, **extra)
            found += description["StreamDescription"]["Shards"]
            start = description["StreamDescription"].get("LastEvaluatedShardId")
            if not start:
                break
        position = run.mapping.starting_position if not run.started else "TRIM_HORIZON"
        for shard in found:
            if shard["ShardId"] in run.shards:
                continue
            iterator = self.client.get_shard_iterator(
                StreamArn=run.stream_arn, ShardId=shard["ShardId"], ShardIteratorType=position
            )["ShardIterator"]
            run.shards[shard["ShardId"]] = _Shard(
                shard["ShardId"],
                shard.get("ParentShardId"),
                iterator,
                BatchDelivery(
                    run.mapping,
                    run.stream_arn,
                    shard["ShardId"],
                    self._invoker(run.mapping.function),
                    self._record_failure,
                    run.counters,
                    stopping=lambda: self._stopping,
                    clock=self.clock,
                ),
            )
        run.started = True

    def _invoker(self, function: str) -> Callable[[dict[str, Any]], Any]:
        return lambda event: self.invoke(function, event)

    def _drain(self, run: _Run, shard: _Shard, flush: bool) -> None:
        """Read the shard to its current end, delivering batches as they fill or fall due."""
        while not self._halted():
            records = self._read(shard) if shard.iterator is not None else []
            run.counters.read += len(records)
            for raw in records:
                shard.last_sequence = raw["dynamodb"]["SequenceNumber"]
                record = lambda_record(raw, run.stream_arn, self.region)
                if any_matches(run.mapping.filters, record):
                    run.counters.matched += 1
                    shard.buffer.append((record, len(json.dumps(record)), time.monotonic()))
            closed = shard.iterator is None
            self._deliver_due(run, shard, flush or closed)
            if closed and not shard.buffer:
                shard.finished = True
                return
            if not records:
                return

    def _read(self, shard: _Shard) -> list[dict[str, Any]]:
        try:
            reply = self.client.get_records(ShardIterator=shard.iterator, Limit=_READ_LIMIT)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ExpiredIteratorException":
                raise
            shard.iterator = self._iterator_after(shard)
            return []
        shard.iterator = reply.get("NextShardIterator")
        return list(reply.get("Records") or [])

    def _iterator_after(self, shard: _Shard) -> str:
        run = next(run for run in self._runs if shard.shard_id in run.shards)
        extra: dict[str, str] = {"ShardIteratorType": "TRIM_HORIZON"}
        if shard.last_sequence is not None:
            extra = {
                "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                "SequenceNumber": shard.last_sequence,
            }
        reply = self.client.get_shard_iterator(
            StreamArn=run.stream_arn, ShardId=shard.shard_id, **extra
        )
        return str(reply["ShardIterator"])

    def _deliver_due(self, run: _Run, shard: _Shard, flush: bool) -> None:
        mapping = run.mapping
        while shard.buffer and not self._halted():
            full = len(shard.buffer) >= mapping.batch_size
            waited = time.monotonic() - shard.buffer[0][2]  # the window opens at its first
            if not (full or flush or waited >= mapping.window):
                return
            batch: list[dict[str, Any]] = []
            size = 0
            for record, record_size, _ in shard.buffer[: mapping.batch_size]:
                if batch and size + record_size > PAYLOAD_LIMIT:
                    break
                batch.append(record)
                size += record_size
            shard.delivery.deliver(batch)
            shard.buffer = shard.buffer[len(batch) :]

    def _record_failure(self, destination: str, message: dict[str, Any]) -> None:
        with self._changed:
            self.failures.append(message)
