"""What a balance read and a page of entries cost as a customer's history grows.

    python -m bench.history [--sizes 5,50,500,5000] [--reads 100] [--big-reads 20]

Starts DynamoDB Local (in memory), creates the table from template.yaml and builds, in
this process, one customer per size with that many lots, as the real handlers write them:
each lot is a purchase through the accrual handler (functions/accrual/app.py, an API
Gateway event built from events/accrual/purchase.json, "now" = the event's
requestTimeEpoch, a few seconds after the purchase). All customers share one simulated
year: their purchases are spread evenly over it, in time order; one in ten orders is
refunded in full a few days later (its lot is clawed back to nothing) and one in twenty
in part (events/accrual/refund.json); the lifecycle service (`LifecycleRun`, as the
ExpiryFunction runs it, with a stub EventBridge client) runs every 30 simulated days and
once at the end, so lots ripen and expire as they would (the lots' end state
does not depend on the interval: a run catches up on everything due by its `now`). At the end
every customer has expired, clawed-back, available and pending lots in the proportions a
year of history leaves (about half expired).

Then, for each customer, the redemption handler (functions/redemption/app.py) is called
with events/redemption/balance.json and events/redemption/entries.json (first page,
the event's limit) pointed at that customer: a warm-up, then `--reads` reads of each
(`--big-reads` from 500 lots on). The handler's own boto3 client is watched with botocore
hooks: DynamoDB calls by operation, items read (each Query reply's ScannedCount, each
GetItem's item), ConsumedCapacity (ReturnConsumedCapacity=TOTAL is added to the
handler's reads, which changes nothing else) and the reply bytes. Timings are printed,
never asserted: they depend on the machine, and DynamoDB Local is not DynamoDB.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import os
import platform
import statistics
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.harness import local_table
from bench.machine import cpu_model, java_version
from bench.purchase import LambdaContext, _event, _import_handler

TABLE = "cashback-history-bench"
TENANT = "acme"  # the events' tenant (requestContext.authorizer)
EVENT_CUSTOMER = "cust-8841"  # the customer the sample events name
START = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
SPAN = timedelta(days=365)
READ_AT = START + SPAN + timedelta(days=1)  # "now" of the reads: a day after the last purchase
LIFECYCLE_EVERY = timedelta(days=30)
FULL_REFUND_EVERY, PARTIAL_REFUND_EVERY = 10, 20  # one order in ten / in twenty
BIG = 500  # sizes from here on are read --big-reads times (a read walks every lot)
WARMUP = 5
GOAL = 1.2


# -- events --------------------------------------------------------------------------
def _at(event: dict[str, Any], moment: datetime, customer_id: str | None = None) -> dict[str, Any]:
    """The event as API Gateway would hand it at `moment`, for `customer_id`."""
    text = json.dumps(event)
    if customer_id is not None:
        text = text.replace(EVENT_CUSTOMER, customer_id)
    out = json.loads(text)
    out["requestContext"]["requestTimeEpoch"] = int(moment.timestamp() * 1000)
    out["requestContext"]["requestId"] = str(uuid.uuid4())
    return out  # type: ignore[no-any-return]


def _with_body(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(event)
    out["body"] = json.dumps({**json.loads(event["body"]), **changes})
    return out


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(order=True)
class Step:
    at: datetime
    kind: str  # "purchase", "refund-full", "refund-part"
    customer_id: str = field(compare=False)
    order_id: str = field(compare=False)


def _plan(sizes: list[int]) -> list[Step]:
    """Every customer's purchases spread evenly over SPAN, and the refunds that follow."""
    steps: list[Step] = []
    for size in sizes:
        customer_id = f"hist-{size}"
        for k in range(size):
            at = START + SPAN * (k + 0.5) / size
            order_id = f"{customer_id}-o{k:05d}"
            steps.append(Step(at, "purchase", customer_id, order_id))
            if k % FULL_REFUND_EVERY == 3:
                steps.append(Step(at + timedelta(days=3), "refund-full", customer_id, order_id))
            elif k % PARTIAL_REFUND_EVERY == 7:
                steps.append(Step(at + timedelta(days=5), "refund-part", customer_id, order_id))
    return sorted(s for s in steps if s.at < READ_AT)


# -- building the histories ------------------------------------------------------------
class Builder:
    """Replays the plan through the accrual handler, with a lifecycle run every
    LIFECYCLE_EVERY."""

    def __init__(self, accrual: Any, store: Any) -> None:
        from bench.lifecycle import StubEvents
        from cashback.adapters.eventbridge import EventPublisher

        self.accrual, self.store = accrual, store
        self.publisher = EventPublisher("cashback-bench", StubEvents())
        # Without the device id and payment fingerprint: with screening off nothing uses
        # them, and their two Queries per purchase would only make the build slower.
        self.purchase = _event("accrual/purchase.json")
        body = json.loads(self.purchase["body"])
        for key in ("device_id", "payment_fingerprint"):
            body.pop(key)
        self.purchase["body"] = json.dumps(body)
        self.refund = _event("accrual/refund.json")
        self.counts: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()

    def _call(self, event: dict[str, Any], what: str) -> None:
        started = time.perf_counter()
        reply = self.accrual.lambda_handler(event, LambdaContext("AccrualFunction"))
        self.seconds[what] += time.perf_counter() - started
        if reply.get("statusCode") != 201:
            raise RuntimeError(f"{what} failed: {reply.get('statusCode')} {reply.get('body')}")
        self.counts[what] += 1

    def step(self, step: Step) -> None:
        body: dict[str, Any] = {"order_id": step.order_id, "occurred_at": _iso(step.at)}
        if step.kind == "purchase":
            event, body["customer_id"] = self.purchase, step.customer_id
        else:
            event = self.refund
            body["refund_id"] = f"rfd-{step.order_id}"
            if step.kind == "refund-full":  # the whole order: both lines of the purchase
                lines = json.loads(self.purchase["body"])["lines"]
                body["amount"] = sum(line["amount"] for line in lines)
                body["lines"] = [{"sku": ln["sku"], "amount": ln["amount"]} for ln in lines]
        self._call(_at(_with_body(event, **body), step.at + timedelta(seconds=2)), step.kind)

    def lifecycle(self, now: datetime) -> None:
        from cashback.services.lifecycle import LifecycleRun

        started = time.perf_counter()
        report = LifecycleRun(
            self.store, self.publisher, lambda _: "BRL", now, lambda: 900_000
        ).run()
        self.seconds["lifecycle runs"] += time.perf_counter() - started
        if report.failures or not report.complete:
            raise RuntimeError(f"lifecycle run at {now} failed: {report.as_dict()}")
        self.counts["lifecycle runs"] += 1
        self.counts["lots ripened"] += report.lots_ripened
        self.counts["lots expired"] += report.lots_expired
        self.counts["reminders"] += report.reminders

    def build(self, plan: list[Step]) -> None:
        next_run = START + LIFECYCLE_EVERY
        last = time.monotonic()
        for done, step in enumerate(plan, 1):
            while next_run <= step.at:
                self.lifecycle(next_run)
                next_run += LIFECYCLE_EVERY
            self.step(step)
            if time.monotonic() - last >= 15:
                last = time.monotonic()
                _progress(f"  {done:,}/{len(plan):,} requests, simulated {step.at:%Y-%m-%d}")
        while next_run <= READ_AT:
            self.lifecycle(next_run)
            next_run += LIFECYCLE_EVERY
        self.lifecycle(READ_AT)


@dataclass
class History:
    """A customer's lots as the balance read finds them (earliest deadline first)."""

    lots: int = 0
    states: Counter[str] = field(default_factory=Counter)
    dead_first: int = 0  # lots with nothing left on them before the first one with some
    live_seen: bool = False

    def add(self, status: str, remaining: int) -> None:
        self.lots += 1
        self.states[status] += 1
        if remaining:
            self.live_seen = True
        elif not self.live_seen:
            self.dead_first += 1


def _history(store: Any, customer_id: str) -> History:
    """Every lot the customer ever had, earliest deadline first (the base table's LOT#
    range: what a read that walked the whole history would meet)."""
    from cashback.adapters.dynamodb.table import from_item

    found = History()
    paginator = store.client.get_paginator("query")
    for page in paginator.paginate(
        TableName=store.table_name,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :lot)",
        ExpressionAttributeValues={
            ":pk": {"S": f"CUST#{TENANT}#{customer_id}"},
            ":lot": {"S": "LOT#"},
        },
    ):
        for item in page["Items"]:
            lot = from_item(item)
            found.add(lot["status"], lot["pending"] + lot["available"])
    return found


# -- measuring reads -------------------------------------------------------------------
@dataclass
class Watch:
    """botocore hooks on the handler's DynamoDB client."""

    on: bool = False
    calls: Counter[str] = field(default_factory=Counter)
    items: int = 0
    capacity: float = 0.0
    reply_bytes: int = 0

    def params(self, params: dict[str, Any], **_: Any) -> None:
        if self.on:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def before_call(self, model: Any, **_: Any) -> None:
        if self.on:
            self.calls[model.name] += 1

    def after_call(self, model: Any, parsed: dict[str, Any], http_response: Any, **_: Any) -> None:
        if not self.on:
            return
        self.reply_bytes += len(http_response.content or b"")
        if model.name in ("Query", "Scan"):
            self.items += parsed.get("ScannedCount", 0)
        elif model.name == "GetItem":
            self.items += 1 if parsed.get("Item") else 0
        elif model.name == "BatchGetItem":
            self.items += sum(len(v) for v in parsed.get("Responses", {}).values())
        consumed = parsed.get("ConsumedCapacity")
        for entry in consumed if isinstance(consumed, list) else [consumed] if consumed else []:
            self.capacity += entry.get("CapacityUnits", 0.0)

    def register(self, client: Any) -> None:
        for op in ("Query", "GetItem", "BatchGetItem"):
            client.meta.events.register(f"provide-client-params.dynamodb.{op}", self.params)
        client.meta.events.register("before-call.dynamodb.*", self.before_call)
        client.meta.events.register("after-call.dynamodb.*", self.after_call)

    def take(self) -> tuple[Counter[str], int, float, int]:
        out = (self.calls, self.items, self.capacity, self.reply_bytes)
        self.calls, self.items, self.capacity, self.reply_bytes = Counter(), 0, 0.0, 0
        return out


@dataclass
class Reads:
    size: int
    what: str
    calls: Counter[str]
    items: int
    capacity: float
    reply_bytes: int
    ms: list[float]
    other_shapes: list[str] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.ms)

    @property
    def p90(self) -> float:
        ordered = sorted(self.ms)
        return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]  # nearest rank


def _measure(
    redemption: Any, watch: Watch, event: dict[str, Any], size: int, what: str, n: int
) -> Reads:
    """`n` reads after WARMUP; the counts are those of the most common shape of calls (a
    read that also refreshes the cached settings makes one more GetItem: listed apart)."""
    customer_id = f"hist-{size}"
    taken: list[tuple[Counter[str], int, float, int]] = []
    ms: list[float] = []
    for i in range(WARMUP + n):
        request = _at(event, READ_AT, customer_id)
        watch.on = True
        started = time.perf_counter()
        reply = redemption.lambda_handler(request, LambdaContext("RedemptionFunction"))
        elapsed = time.perf_counter() - started
        watch.on = False
        one = watch.take()
        if reply.get("statusCode") != 200:
            raise RuntimeError(f"{what} of {customer_id}: {reply}")
        if i >= WARMUP:
            ms.append(elapsed * 1000)
            taken.append(one)
    shapes = Counter(_ops(calls) for calls, *_ in taken)
    typical = shapes.most_common(1)[0][0]
    calls, items, capacity, reply_bytes = next(t for t in taken if _ops(t[0]) == typical)
    others = [f"{shape} ({k}/{n})" for shape, k in shapes.items() if shape != typical]
    return Reads(size, what, calls, items, capacity, reply_bytes, ms, others)


# -- report --------------------------------------------------------------------------
def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _ops(calls: Counter[str]) -> str:
    return " + ".join(f"{n} {op}" for op, n in sorted(calls.items())) or "none"


STATES = ("EXPIRED", "CLAWED_BACK", "AVAILABLE", "PENDING")


def render(
    reads: list[Reads],
    histories: dict[int, History],
    counts: Counter[str],
    build_s: float,
    jar_version: str,
) -> str:
    machine = (
        f"{platform.system()} {platform.release()} {platform.machine()}, "
        f"{cpu_model()}, {os.cpu_count()} CPUs, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"DynamoDB Local {jar_version} (in memory, Java {java_version()})"
    )
    every = LIFECYCLE_EVERY.days
    lines = [
        "### Balance and entries reads as a customer's history grows",
        "",
        f"Machine: {machine}.",
        f"One simulated year ({START:%Y-%m-%d} to {READ_AT:%Y-%m-%d}), built in "
        f"{build_s:.0f} s through the real handlers: {counts['purchase']:,} purchases, "
        f"{counts['refund-full']:,} full and {counts['refund-part']:,} partial refunds, "
        f"{counts['lifecycle runs']} lifecycle runs, one every {every} days "
        f"({counts['lots ripened']:,} lots ripened, {counts['lots expired']:,} expired; "
        "default program, screening and reminders off). The customers' lots when read:",
        "",
        "| lots | "
        + " | ".join(s.lower().replace("_", " ") for s in STATES)
        + " | empty lots before the first live one |",
        "|---:|" + "---:|" * (len(STATES) + 1),
    ]
    for size, h in sorted(histories.items()):
        lines.append(
            f"| {size:,} | "
            + " | ".join(f"{h.states[k]:,}" for k in STATES)
            + f" | {h.dead_first:,} |"
        )
    others = {size: h.lots - sum(h.states[k] for k in STATES) for size, h in histories.items()}
    if any(others.values()):
        lines += ["", f"Lots in other states (held, consumed, voided), by size: {others}."]
    lines += [
        "",
        "Reads through the redemption handler in-process (events/redemption/, first page of "
        f"entries at the event's limit), after {WARMUP} warm-up reads each; items read = "
        "the Query replies' ScannedCount + the GetItem items; RCU = ConsumedCapacity; "
        "bytes = DynamoDB's reply bodies.",
        "",
        "| lots | read | DynamoDB calls | items read | RCU | reply bytes | median | p90 | reads |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in reads:
        lines.append(
            f"| {r.size:,} | {r.what} | {_ops(r.calls)} | {r.items:,} | {r.capacity:g} "
            f"| {r.reply_bytes:,} | {r.median:.2f} ms | {r.p90:.2f} ms | {len(r.ms)} |"
        )
    lines.append("")
    for r in reads:
        if r.other_shapes:
            lines.append(
                f"- {r.size:,} lots, {r.what}: also {'; '.join(r.other_shapes)} "
                "(the settings cache refreshed)"
            )
    sizes = sorted(histories)
    lo, hi = sizes[0], sizes[-1]
    for what in ("balance", "entries"):
        a = next(r for r in reads if r.size == lo and r.what == what)
        b = next(r for r in reads if r.size == hi and r.what == what)
        ratio = b.median / a.median
        lines.append(
            f"- {what}, {hi:,} vs {lo:,} lots: items read {b.items / max(a.items, 1):.1f}x, "
            f"bytes {b.reply_bytes / max(a.reply_bytes, 1):.1f}x, "
            f"median latency {ratio:.2f}x, p90 {b.p90 / a.p90:.2f}x "
            f"(goal <= {GOAL}x: {'met' if ratio <= GOAL else 'not met'})"
        )
    return "\n".join(lines)


# -- main ----------------------------------------------------------------------------
def run(sizes: list[int], reads: int, big_reads: int) -> str:
    with local_table(TABLE) as local:
        from cashback import runtime
        from cashback.domain.tenants import TenantSettings

        accrual = _import_handler("accrual")
        redemption = _import_handler("redemption")
        store = runtime.store()
        # The default program (5%, 30-day return window, 180-day expiry), with screening off
        # (a year of one customer's purchases is not what the bench is about, and it would
        # hold some of them) and reminders off: a reminder only flags a lot, it changes
        # nothing the reads walk, and costs the build two calls a lot.
        store.put_tenant(
            TENANT,
            TenantSettings(currency="BRL", backdate_days=3650, risk_mode="off", reminder_days=0),
            _iso(START - timedelta(days=30)),
        )
        plan = _plan(sizes)
        _progress(f"building {len(sizes)} histories: {len(plan):,} requests + weekly runs ...")
        builder = Builder(accrual, store)
        started = time.monotonic()
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            builder.build(plan)
        build_s = time.monotonic() - started
        histories = {size: _history(store, f"hist-{size}") for size in sizes}
        _progress(f"  built in {build_s:.0f} s: {dict(builder.counts)}")
        _progress(f"  seconds: { {k: round(v, 1) for k, v in builder.seconds.items()} }")

        watch = Watch()
        watch.register(store.client)
        measured: list[Reads] = []
        n = {size: big_reads if size >= BIG else reads for size in sizes}
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            for size in sizes:
                for what, name in (("balance", "balance.json"), ("entries", "entries.json")):
                    event = _event(f"redemption/{name}")
                    measured.append(_measure(redemption, watch, event, size, what, n[size]))
                    r = measured[-1]
                    _progress(
                        f"  {size:,} lots, {what}: {_ops(r.calls)}, {r.items:,} items, "
                        f"median {r.median:.2f} ms"
                    )
    return render(measured, histories, builder.counts, build_s, local.jar_version)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.history", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(p) for p in text.replace("_", "").split(",") if p.strip()],
        default=[5, 50, 500, 5000],
        help="lots per customer, comma-separated (default 5,50,500,5000)",
    )
    parser.add_argument("--reads", type=int, default=100, help="measured reads (default 100)")
    parser.add_argument(
        "--big-reads",
        type=int,
        default=20,
        help=f"measured reads at {BIG:,} lots and more (default 20)",
    )
    args = parser.parse_args(argv)
    if args.reads < 1 or args.big_reads < 1 or not args.sizes or min(args.sizes) < 1:
        parser.error("--sizes, --reads and --big-reads must be positive")
    started = time.monotonic()
    print(run(sorted(set(args.sizes)), args.reads, args.big_reads))
    _progress(f"(bench took {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
