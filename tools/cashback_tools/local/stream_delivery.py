"""One batch of a stream's records, delivered as Lambda's event source mapping delivers it:
invoked, retried, bisected on a function error, resumed after a partial batch response, and
what cannot be delivered sent to the on-failure destination before the shard moves on.

The rules (Lambda's, for DynamoDB streams):
- a function error (the handler raised, timed out, crashed) fails the whole batch; with
  BisectBatchOnFunctionError a batch of more than one record is split in two and the
  halves are retried in order (splitting costs no retry attempt); otherwise the batch is
  retried, up to MaximumRetryAttempts (-1: forever);
- with ReportBatchItemFailures, a reply listing item identifiers means that every record
  before the lowest listed sequence number succeeded: the shard checkpoints there and
  retries from that record (a retry attempt). `null`, `{}` and an empty or null list are
  success; an identifier that is empty, null, not a sequence number of the batch, or a
  reply of another shape fails the whole batch (a function error);
- records older than MaximumRecordAgeInSeconds are not invoked again;
- what runs out of attempts (or age) goes to the on-failure destination as a record of the
  shard and sequence range (condition RetryAttemptsExhausted or RecordAgeExceeded).
"""

from __future__ import annotations

import sys
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cashback_tools.local.invocation import function_arn
from cashback_tools.local.stream_mapping import StreamMapping

Invoke = Callable[[dict[str, Any]], Any]  # the function's reply, or it raises
Send = Callable[[str, dict[str, Any]], None]  # (destination ARN, message body)


class Stopped(Exception):
    """The emulator is stopping: the batch is left where it is."""


@dataclass
class Counters:
    """What a bench or a test reads: records read from the stream, records kept by the
    filters, records delivered (in a successful invocation), invocations, retries,
    bisections and records sent to the on-failure destination."""

    read: int = 0
    matched: int = 0
    delivered: int = 0
    invocations: int = 0
    retries: int = 0
    bisections: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class _Segment:
    records: list[dict[str, Any]]
    retries: int = 0
    invokes: int = 0


@dataclass
class _Result:
    failed_from: int | None = None  # index of the first record to retry; None: all succeeded
    error: str | None = None  # the function's error, for a failure of the whole batch


@dataclass
class BatchDelivery:
    """Delivers one shard's batches of one mapping (one at a time, in order)."""

    mapping: StreamMapping
    stream_arn: str
    shard_id: str
    invoke: Invoke
    send: Send
    counters: Counters
    stopping: Callable[[], bool] = lambda: False
    # Seconds since the epoch (tests move it to age records).
    clock: Callable[[], float] = time.time
    state: dict[str, Any] = field(default_factory=dict)

    def deliver(self, records: list[dict[str, Any]]) -> None:
        """Returns once every record is delivered or sent to the destination."""
        queue = deque([_Segment(list(records))])
        while queue:
            if self.stopping():
                raise Stopped
            segment = queue.popleft()
            segment.records = self._drop_expired(segment)
            if not segment.records:
                continue
            self.state["in_flight"] = _range(segment.records) + f", attempt {segment.retries + 1}"
            result = self._attempt(segment)
            if result.failed_from is None:
                continue
            if result.error is None:  # a partial batch response: resume from its checkpoint
                segment.records = segment.records[result.failed_from :]
            elif self.mapping.bisect and len(segment.records) > 1:
                half = len(segment.records) // 2
                first, second = segment.records[:half], segment.records[half:]
                queue.extendleft(
                    [
                        _Segment(second, segment.retries, segment.invokes),
                        _Segment(first, segment.retries, segment.invokes),
                    ]
                )
                self.counters.bisections += 1
                continue
            if 0 <= self.mapping.max_retries <= segment.retries:
                self._discard(segment, "RetryAttemptsExhausted", result.error)
                continue
            segment.retries += 1
            self.counters.retries += 1
            queue.appendleft(segment)
        self.state.pop("in_flight", None)

    def _attempt(self, segment: _Segment) -> _Result:
        segment.invokes += 1
        self.counters.invocations += 1
        try:
            reply = self.invoke({"Records": segment.records})
        except Exception as error:  # noqa: BLE001 - any failure of the function fails the batch
            return _Result(0, f"{type(error).__name__}: {error}")
        result = self._read_reply(reply, segment.records)
        done = len(segment.records) if result.failed_from is None else result.failed_from
        if result.error is None:
            self.counters.delivered += done
        return result

    def _read_reply(self, reply: Any, records: list[dict[str, Any]]) -> _Result:
        if not self.mapping.report_item_failures or reply is None:
            return _Result()
        if not isinstance(reply, dict):
            return _Result(0, f"malformed partial batch response: {reply!r}")
        failures = reply.get("batchItemFailures")
        if failures is None:
            return _Result()
        if not isinstance(failures, list):
            return _Result(0, f"malformed partial batch response: {reply!r}")
        positions = {_sequence(record): index for index, record in enumerate(records)}
        lowest = len(records)
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if not isinstance(identifier, str) or identifier not in positions:
                return _Result(0, f"invalid batch item failure {failure!r} (not in the batch)")
            lowest = min(lowest, positions[identifier])
        return _Result() if not failures else _Result(lowest)

    def _drop_expired(self, segment: _Segment) -> list[dict[str, Any]]:
        if self.mapping.max_record_age < 0:
            return segment.records
        oldest = self.clock() - self.mapping.max_record_age
        expired = [r for r in segment.records if _created(r) < oldest]
        if expired:
            self._discard(_Segment(expired, segment.retries, segment.invokes), "RecordAgeExceeded")
        return [r for r in segment.records if _created(r) >= oldest]

    def _discard(self, segment: _Segment, condition: str, error: str | None = None) -> None:
        self.counters.failed += len(segment.records)
        print(
            f"{self.mapping.name}: {condition} for {_range(segment.records)} "
            f"({error or 'no error'}); the shard moves on",
            file=sys.stderr,
            flush=True,
        )
        if self.mapping.on_failure is not None:
            self.send(self.mapping.on_failure, self._failure_record(segment, condition, error))

    def _failure_record(
        self, segment: _Segment, condition: str, error: str | None
    ) -> dict[str, Any]:
        """The invocation record Lambda sends to an on-failure destination (no records,
        only where to find them in the stream)."""
        records = segment.records
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if error is not None:
            response["functionError"] = "Unhandled"
        return {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": function_arn(self.mapping.function),
                "condition": condition,
                "approximateInvokeCount": segment.invokes,
            },
            "responseContext": response,
            "version": "1.0",
            "timestamp": _iso(self.clock(), millis=True),
            "DDBStreamBatchInfo": {
                "shardId": self.shard_id,
                "startSequenceNumber": _sequence(records[0]),
                "endSequenceNumber": _sequence(records[-1]),
                "approximateArrivalOfFirstRecord": _iso(_created(records[0])),
                "approximateArrivalOfLastRecord": _iso(_created(records[-1])),
                "batchSize": len(records),
                "streamArn": self.stream_arn,
            },
        }


def _sequence(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def _created(record: dict[str, Any]) -> float:
    return float(record["dynamodb"].get("ApproximateCreationDateTime") or 0)


def _range(records: list[dict[str, Any]]) -> str:
    return f"{len(records)} record(s) {_sequence(records[0])}..{_sequence(records[-1])}"


def _iso(epoch: float, *, millis: bool = False) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    if millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
