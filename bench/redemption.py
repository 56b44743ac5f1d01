"""What a redemption, a hold and its capture, and a balance read cost as a customer's
history grows.

    python -m bench.redemption [--sizes 5,50,500,5000] [--n 50]

Starts DynamoDB Local (in memory, bench/harness.py) and seeds one customer per size with
that many lots: a purchase every year/size over one simulated year (5% of R$ 259,90, a
30-day return window, a 180-day rolling expiry), one order in ten refunded in full three
days later, then every lot moved to the end of the year. So about half the lots have
expired, one in ten was clawed back, and the rest are available or still pending, with as
many deadlines as lots; the emptied lots have the earliest deadlines. The seed is made by
the ledger's own functions (accrue, claw_back, advance: a valid hash chain) and written
with the adapter's item shapes (lot_item, entry_item, account_update) in BatchWriteItem
calls, so it takes seconds; bench/history.py builds a like history through the handlers,
which takes minutes.

Then, for each customer, the redemption handler (functions/redemption/app.py) is called
in-process, `--n` rounds after WARMUP (the sizes taking turns), each round:
`POST /v1/redemptions` of AMOUNT captured at once; the same amount held
(`capture: false`) and `POST .../capture`d in full; and
`GET /v1/customers/{id}/balance`; and, as a baseline, a bare Query of the `live` index
for one lot (the same item count at every size: what DynamoDB Local itself adds as the
partition grows). The handler's own boto3 client is watched as in
bench/history.py: DynamoDB calls by operation, items read (Query ScannedCount, GetItem
and BatchGetItem items), RCU (ReturnConsumedCapacity on the reads), items written per
transaction, reply bytes. Each size is reported as a ratio to the smallest one in the same
run. Timings are printed, never asserted: DynamoDB Local is not DynamoDB.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bench.harness import local_table, progress
from bench.history import READ_AT, SPAN, START, TENANT, Reads, Watch, _at, _iso, _ops
from bench.machine import cpu_model, java_version
from bench.purchase import LambdaContext, _event, _import_handler

TABLE = "cashback-redemption-bench"
CASHBACK = 1299  # 5% of the sample purchase (events/accrual/purchase.json)
RETURN_WINDOW, EXPIRY = timedelta(days=30), timedelta(days=180)
REFUND_EVERY = 10  # one order in ten refunded in full
AMOUNT = 5  # each redemption and hold: small, so every one draws on the first live lot
WARMUP = 5
GOAL = 1.2
MOST_ITEMS = 100  # what one DynamoDB transaction may hold
OPS = ("redeem", "hold", "capture", "balance", "probe")


# -- seeding -------------------------------------------------------------------------
@dataclass
class Seed:
    lots: list[Any] = field(default_factory=list)
    entries: list[Any] = field(default_factory=list)
    states: Counter[str] = field(default_factory=Counter)
    live: int = 0


def _history(customer_id: str, size: int) -> tuple[Any, Seed]:
    """The customer's lots and entries after a year, by the ledger's own functions."""
    from cashback.domain import ledger

    account, seed = ledger.Account(TENANT, customer_id), Seed()
    for k in range(size):
        at = START + SPAN * (k + 0.5) / size
        order_id = f"{customer_id}-o{k:05d}"
        made = ledger.accrue(
            account,
            order_id=order_id,
            cashback=CASHBACK,
            occurred_at=at,
            return_window=RETURN_WINDOW,
            expiry=EXPIRY,
        )
        account, lot = made.account, made.lot
        seed.entries.extend(made.entries)
        if k % REFUND_EVERY == 3:
            back = ledger.claw_back(
                account,
                lot,
                refund_id=f"rfd-{order_id}",
                order_id=order_id,
                amount=CASHBACK,
                occurred_at=at + timedelta(days=3),
            )
            account, lot = back.account, back.lot
            seed.entries.append(back.entry)
        assert lot is not None
        seed.lots.append(lot)
    for i, lot in enumerate(seed.lots):
        moved = ledger.advance(account, lot, READ_AT)
        account, seed.lots[i] = moved.account, moved.lot
        seed.entries.extend(moved.entries)
    for lot in seed.lots:
        seed.states[lot.status] += 1
        seed.live += lot.holds_cashback
    assert account.conserved()
    return account, seed


def _seed(store: Any, customer_id: str, size: int) -> Seed:
    """Write the history as the adapter writes it: lots (on the `live` index while they
    hold cashback), entries, and the account with its chain head."""
    from cashback.adapters.dynamodb.accounts import account_update, entry_item, lot_item
    from cashback.adapters.dynamodb.table import to_item
    from cashback.domain import ledger

    account, seed = _history(customer_id, size)
    now = _iso(READ_AT)
    items = [lot_item(lot, now) for lot in seed.lots] + [entry_item(e) for e in seed.entries]
    for start in range(0, len(items), 25):
        request = {
            store.table_name: [
                {"PutRequest": {"Item": to_item(item)}} for item in items[start : start + 25]
            ]
        }
        while request:
            request = store.client.batch_write_item(RequestItems=request)["UnprocessedItems"]
    update = account_update(ledger.Account(TENANT, customer_id), account)["Update"]
    store.client.update_item(TableName=store.table_name, **update)
    return seed


# -- measuring -----------------------------------------------------------------------
class WriteWatch(Watch):
    """bench/history.py's Watch, and the items each TransactWriteItems writes."""

    written: int = 0

    def count_writes(self, params: dict[str, Any], **_: Any) -> None:
        if self.on:
            self.written = max(self.written, len(params.get("TransactItems", ())))

    def register(self, client: Any) -> None:
        super().register(client)
        client.meta.events.register(
            "provide-client-params.dynamodb.TransactWriteItems", self.count_writes
        )


@dataclass
class Op(Reads):
    written: int = 0  # items in the largest transaction


class Rounds:
    """Each round: a redemption captured at once, a hold and its capture, a balance read."""

    def __init__(self, handler: Any, watch: WriteWatch, admin: Any) -> None:
        self.handler, self.watch, self.admin = handler, watch, admin
        self.events = {
            "redeem": _event("redemption/redeem.json"),
            "capture": _event("redemption/capture.json"),
            "balance": _event("redemption/balance.json"),
        }
        self.taken: dict[str, list[tuple[Counter[str], int, float, int, int, float]]] = {}

    def _event(self, kind: str, customer_id: str, rid: str, capture: bool) -> dict[str, Any]:
        event = _at(self.events[kind], READ_AT, customer_id)
        if kind == "redeem":
            body = json.loads(event["body"])
            body.update(
                redemption_id=rid,
                order_id=f"ord-{rid}",
                amount=AMOUNT,
                occurred_at=_iso(READ_AT),
                capture=capture,
            )
            event["body"] = json.dumps(body)
        elif kind == "capture":
            event["path"] = f"/v1/redemptions/{rid}/capture"
            event["pathParameters"] = {"redemption_id": rid}
            event["body"] = json.dumps({"amount": AMOUNT})
        return event

    def _call(self, op: str, event: dict[str, Any], keep: bool) -> None:
        self.watch.on, self.watch.written = True, 0
        started = time.perf_counter()
        reply = self.handler.lambda_handler(event, LambdaContext("RedemptionFunction"))
        elapsed = time.perf_counter() - started
        self.watch.on = False
        calls, items, capacity, reply_bytes = self.watch.take()
        expected = 201 if event["httpMethod"] == "POST" and op != "capture" else 200
        if reply.get("statusCode") != expected:
            raise RuntimeError(f"{op}: {reply.get('statusCode')} {reply.get('body')}")
        if keep:
            one = (calls, items, capacity, reply_bytes, self.watch.written, elapsed * 1000)
            self.taken.setdefault(op, []).append(one)

    def round(self, customer_id: str, i: int, keep: bool) -> None:
        rid = f"red-{customer_id}-{i:04d}"
        self._call("redeem", self._event("redeem", customer_id, f"{rid}-c", True), keep)
        self._call("hold", self._event("redeem", customer_id, f"{rid}-h", False), keep)
        self._call("capture", self._event("capture", customer_id, f"{rid}-h", False), keep)
        self._call("balance", self._event("balance", customer_id, rid, False), keep)
        self._probe(customer_id, keep)

    def _probe(self, customer_id: str, keep: bool) -> None:
        """The baseline: a bare Query of the `live` index for its first lot, on another
        client: the same one item read at every size."""
        started = time.perf_counter()
        reply = self.admin.query(
            TableName=TABLE,
            IndexName="live",
            ConsistentRead=True,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"CUST#{TENANT}#{customer_id}"}},
            Limit=1,
        )
        elapsed = time.perf_counter() - started
        if keep:
            one = (Counter(Query=1), reply["ScannedCount"], 0.0, 0, 0, elapsed * 1000)
            self.taken.setdefault("probe", []).append(one)

    def ops(self, size: int) -> list[Op]:
        """Per op, the counts of its most common shape of calls (a call that also refreshed
        a cached setting is listed apart), and every latency."""
        out = []
        for op in OPS:
            taken = self.taken.pop(op)
            shapes = Counter(_ops(t[0]) for t in taken)
            typical = shapes.most_common(1)[0][0]
            calls, items, capacity, reply_bytes, _, _ = next(
                t for t in taken if _ops(t[0]) == typical
            )
            others = [f"{s} ({k}/{len(taken)})" for s, k in shapes.items() if s != typical]
            ms = [t[5] for t in taken]
            most = max(t[4] for t in taken)
            out.append(Op(size, op, calls, items, capacity, reply_bytes, ms, others, most))
        return out


# -- report --------------------------------------------------------------------------
def render(ops: list[Op], seeds: dict[int, Seed], n: int, seed_s: float, jar: str) -> str:
    machine = (
        f"{platform.system()} {platform.release()} {platform.machine()}, "
        f"{cpu_model()}, {os.cpu_count()} CPUs, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"DynamoDB Local {jar} (in memory, Java {java_version()})"
    )
    lines = [
        "### Redemption, hold + capture and balance as a customer's history grows",
        "",
        f"Machine: {machine}. Seeded in {seed_s:.0f} s. The customers' lots "
        "(expired / clawed back / available / pending; on the `live` index):",
        "",
    ]
    for size, seed in sorted(seeds.items()):
        s = seed.states
        lines.append(
            f"- {size:,}: {s['EXPIRED']:,} / {s['CLAWED_BACK']:,} / {s['AVAILABLE']:,} / "
            f"{s['PENDING']:,}; {seed.live:,} live"
        )
    smallest = min(seeds)
    lines += [
        "",
        f"{n} rounds after {WARMUP} warm-up ones; each op's calls and items are those of "
        f"its most common shape; ratios against the {smallest:,}-lot customer.",
        "",
        "| lots | op | DynamoDB calls | items read | RCU | items written | median | p90 "
        "| items x | median x |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base = {o.what: o for o in ops if o.size == smallest}
    for o in ops:
        b = base[o.what]
        lines.append(
            f"| {o.size:,} | {o.what} | {_ops(o.calls)} | {o.items:,} | {o.capacity:g} "
            f"| {o.written} | {o.median:.2f} ms | {o.p90:.2f} ms "
            f"| {o.items / max(b.items, 1):.2f}x | {o.median / b.median:.2f}x |"
        )
    lines.append("")
    for o in ops:
        if o.other_shapes:
            lines.append(f"- {o.size:,} lots, {o.what}: also {'; '.join(o.other_shapes)}")
    largest = max(seeds)
    for op in OPS:
        a, b = base[op], next(o for o in ops if o.size == largest and o.what == op)
        ratio = b.median / a.median
        read = max(o.items for o in ops if o.what == op)
        written = max(o.written for o in ops if o.what == op)
        within = "within" if max(read, written) <= MOST_ITEMS else "over"
        lines.append(
            f"- {op}, {largest:,} vs {smallest:,} lots: items read "
            f"{b.items / max(a.items, 1):.2f}x, median latency {ratio:.2f}x "
            f"(goal <= {GOAL}x: {'met' if ratio <= GOAL else 'not met'}); at every size at "
            f"most {read} items read and {written} written in one transaction "
            f"({within} the {MOST_ITEMS} items of one transaction)"
        )
    return "\n".join(lines)


# -- main ----------------------------------------------------------------------------
def run(sizes: list[int], n: int) -> str:
    with local_table(TABLE) as local:
        from cashback import runtime
        from cashback.domain.tenants import TenantSettings

        handler = _import_handler("redemption")
        store = runtime.store()
        # The default program (no rule set published), screening and reminders off.
        store.put_tenant(
            TENANT,
            TenantSettings(currency="BRL", backdate_days=3650, risk_mode="off", reminder_days=0),
            _iso(START - timedelta(days=30)),
        )
        started = time.monotonic()
        seeds = {size: _seed(store, f"bench-{size}", size) for size in sizes}
        seed_s = time.monotonic() - started
        progress(f"  seeded {sum(sizes):,} lots in {seed_s:.0f} s")
        watch = WriteWatch()
        watch.register(store.client)
        # The sizes take turns, round by round: a machine busy with something else then
        # slows them all alike.
        rounds = {size: Rounds(handler, watch, local.client) for size in sizes}
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            for i in range(WARMUP + n):
                for size in sizes:
                    rounds[size].round(f"bench-{size}", i, keep=i >= WARMUP)
        measured = [o for size in sizes for o in rounds[size].ops(size)]
        for o in measured:
            progress(
                f"  {o.size:,} lots, {o.what}: {_ops(o.calls)}, {o.items} items read, "
                f"median {o.median:.2f} ms"
            )
        return render(measured, seeds, n, seed_s, local.jar_version)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.redemption", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(p) for p in text.replace("_", "").split(",") if p.strip()],
        default=[5, 50, 500, 5000],
        help="lots per customer, comma-separated (default 5,50,500,5000)",
    )
    parser.add_argument("--n", type=int, default=100, help="measured rounds (default 100)")
    args = parser.parse_args(argv)
    if args.n < 1 or not args.sizes or min(args.sizes) < 1:
        parser.error("--sizes and --n must be positive")
    most = (WARMUP + args.n) * 2 * AMOUNT
    if most > CASHBACK:
        parser.error(f"--n {args.n} would spend {most}, over one lot's {CASHBACK}")
    started = time.monotonic()
    print(run(sorted(set(args.sizes)), args.n))
    progress(f"(bench took {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
