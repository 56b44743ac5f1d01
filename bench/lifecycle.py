"""What one scheduled lifecycle run reads, as the ledger grows and what is due stays put.

    python -m bench.lifecycle [--sizes 10000,100000,1000000] [--due 1000]

For each size N, a fresh table (created from template.yaml) in one DynamoDB Local (in
memory) is seeded with N live cashback lots, built with the layer's own functions
(`ledger.accrue`, `ledger.advance`, `accounts.lot_item`), so every lot and account is exactly
what the job would find after real purchases and earlier runs:

- run A: `due` lots fall due in the hour before its `now`, one lot for each of `due`
  customers, half ripening (pending, return window ends) and half expiring (available,
  reminded, deadline reached);
- run B, an hour later: another `due` lots, ten for each of `due`/10 customers, so the
  share of account reads (one per distinct customer: its hash-chain head must be read
  before an entry is appended) is visible. Run A finds B's lots in the same day buckets,
  due after its `now`; they must not be read;
- every other lot belongs to other customers (ten lots each) and falls due at least a day
  later, pending or available, in later day buckets of the `due` index.

The job's checkpoint is where an hourly schedule leaves it (yesterday done). Each run is
one `LifecycleRun` with the store's own boto3 client (its calls are counted with a botocore
`before-call.dynamodb.*` hook) and an `EventPublisher` on a stub EventBridge client that
accepts every event, to keep EventBridge out of the measurement. After each run the due
customers' ledgers are verified (`cashback.services.audit.verify`) and a second run at the same
`now` must read nothing. Counts are the point; timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import os
import platform
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.machine import cpu_model, java_version
from cashback.adapters.dynamodb.accounts import entry_item, lot_item
from cashback.adapters.dynamodb.store import Store
from cashback.adapters.dynamodb.table import DUE_SHARDS, customer_pk, to_item
from cashback.adapters.eventbridge import EventPublisher
from cashback.domain import ledger
from cashback.domain.clock import to_iso
from cashback.domain.ledger import Account, Entry, Lot
from cashback.domain.tenants import TenantSettings
from cashback.services.lifecycle import JOB, LifecycleRun, RunReport
from cashback_tools.audit import verify

ROOT = Path(__file__).resolve().parents[1]
TENANT = "bench"
SETTINGS = TenantSettings(currency="BRL", backdate_days=3650)
RETURN_WINDOW = timedelta(days=SETTINGS.return_window_days)
EXPIRY = timedelta(days=SETTINGS.expiry_days)
REMINDER = timedelta(days=SETTINGS.reminder_days)
CREATED = "2025-11-01T00:00:00Z"  # the storefront (before every seeded purchase)
NOW_A = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
NOW_B = NOW_A + timedelta(hours=1)
LATER = timedelta(days=1)  # other lots fall due at least this long after run B
OTHER_LOTS_PER_CUSTOMER = 10
PER_CUSTOMER_B = 10
BATCH = 25  # BatchWriteItem's limit
WRITERS = 6
FIRST_RATE_GUESS = 2500.0  # items a second, until the first size has measured it
LAMBDA_MS = 900_000  # the ExpiryFunction's timeout in template.yaml
WARM_UP_DUE = 300  # a small unmeasured round first, so the JVM's warm-up is not in N=first
GOAL = 1.2


# -- building the ledger with the layer's own functions --------------------------------
def _grow(
    account: Account, order_id: str, cashback: int, kind: str, due: datetime
) -> tuple[Account, Lot, list[Entry], datetime]:
    """One lot as the job last left it: the account after it, the lot, its entries and
    when the lot was last written (the store files overdue work under that day).

    kind: "ripen" (pending, window ends at `due`), "expire" (available, reminded, deadline
    at `due`), "pending" (window ends at `due`), "available" (reminder due at `due`)."""
    windows = {"return_window": RETURN_WINDOW, "expiry": EXPIRY, "reminder": REMINDER}
    if kind in ("ripen", "pending"):
        occurred = due - RETURN_WINDOW
        bought = ledger.accrue(
            account, order_id=order_id, cashback=cashback, occurred_at=occurred, **windows
        )
        assert bought.lot is not None
        account, lot, entries, written = bought.account, bought.lot, [*bought.entries], occurred
    else:
        expires = due if kind == "expire" else due + REMINDER
        occurred = expires - EXPIRY
        bought = ledger.accrue(
            account, order_id=order_id, cashback=cashback, occurred_at=occurred, **windows
        )
        assert bought.lot is not None
        written = occurred + RETURN_WINDOW
        ripe = ledger.advance(bought.account, bought.lot, written)
        account, lot, entries = ripe.account, ripe.lot, [*bought.entries, *ripe.entries]
        if kind == "expire":  # an earlier run sent the reminder
            written = expires - REMINDER
            lot = ledger.advance(account, lot, written).lot
    if lot.due_at != to_iso(due):
        raise AssertionError(f"{kind} lot {order_id} is due at {lot.due_at}, not {due}")
    return account, lot, entries, written


def _account_item(account: Account) -> dict[str, Any]:
    """The ACCOUNT item as the store's account update leaves it: every field of the
    account, with the balances and totals as attributes of their own."""
    fields = {
        f.name: getattr(account, f.name) for f in dataclasses.fields(account) if f.name != "values"
    }
    return {
        "pk": customer_pk(account.tenant, account.customer_id),
        "sk": "ACCOUNT",
        **fields,
        **account.values,
    }


def _customer(
    customer_id: str, lots: list[tuple[str, datetime]], rng: random.Random, with_entries: bool
) -> Iterator[dict[str, Any]]:
    """A customer's items: its lots, its ledger entries (when asked) and its account,
    whose balances are the sum of what its lots hold."""
    account = Account(TENANT, customer_id)
    for n, (kind, due) in enumerate(lots):
        account, lot, entries, written = _grow(
            account, f"{customer_id}-o{n}", rng.randrange(50, 5000), kind, due
        )
        yield lot_item(lot, to_iso(written))
        if with_entries:
            yield from (entry_item(entry) for entry in entries)
    yield _account_item(account)


def _due_customers(
    prefix: str, customers: int, per_customer: int, now: datetime
) -> tuple[list[str], list[dict[str, Any]]]:
    """`customers` x `per_customer` lots due in the hour up to `now`, half ripening and
    half expiring, with the customers' entries (so their ledgers can be verified)."""
    rng = random.Random(f"{prefix}-{customers}-{per_customer}")
    total = customers * per_customer
    ids = [f"{prefix}{c:05d}" for c in range(customers)]
    items: list[dict[str, Any]] = []
    for c, customer_id in enumerate(ids):
        lots = []
        for j in range(per_customer):
            k = j * customers + c  # spreads every customer's lots over the hour
            lots.append(
                (
                    "ripen" if (j + c) % 2 == 0 else "expire",
                    now - timedelta(seconds=k * 3599 // total),
                )
            )
        items += _customer(customer_id, lots, rng, with_entries=True)
    return ids, items


def _other_customers(lots: int) -> Iterator[dict[str, Any]]:
    """Lots not due before tomorrow, ten to a customer: pending ones ripen within the
    return window, available ones are reminded within their remaining lifetime."""
    rng = random.Random(lots)
    start = NOW_B + LATER
    pending_span = int((RETURN_WINDOW - LATER).total_seconds())
    available_span = int((EXPIRY - RETURN_WINDOW - REMINDER - LATER).total_seconds())
    for c in range((lots + OTHER_LOTS_PER_CUSTOMER - 1) // OTHER_LOTS_PER_CUSTOMER):
        count = min(OTHER_LOTS_PER_CUSTOMER, lots - c * OTHER_LOTS_PER_CUSTOMER)
        plan = []
        for j in range(count):
            if j % 2 == 0:
                plan.append(("pending", start + timedelta(seconds=rng.randrange(pending_span))))
            else:
                plan.append(("available", start + timedelta(seconds=rng.randrange(available_span))))
        yield from _customer(f"cust-{c:07d}", plan, rng, with_entries=False)


# -- seeding -------------------------------------------------------------------------
class SeedTimeout(Exception):
    pass


class Seeder:
    """BatchWriteItem, 25 items a request, from several threads, following
    UnprocessedItems with backoff."""

    def __init__(self, client: Any, table: str) -> None:
        self.client, self.table = client, table
        self.errors: list[BaseException] = []

    def _put(self, items: list[dict[str, Any]]) -> None:
        request = {self.table: [{"PutRequest": {"Item": to_item(item)}} for item in items]}
        for attempt in range(12):
            reply = self.client.batch_write_item(RequestItems=request)
            request = reply.get("UnprocessedItems") or {}
            if not request:
                return
            time.sleep(min(1.0, 0.01 * 2**attempt))
        raise RuntimeError("BatchWriteItem kept returning UnprocessedItems")

    def write(self, items: Iterable[dict[str, Any]], total: int, deadline: float) -> int:
        slots = threading.BoundedSemaphore(WRITERS * 4)
        written = 0
        started = last = time.monotonic()

        def done(future: Future[None]) -> None:
            slots.release()
            if future.exception() is not None:
                self.errors.append(future.exception())  # type: ignore[arg-type]

        with ThreadPoolExecutor(WRITERS, thread_name_prefix="seed") as pool:
            batch: list[dict[str, Any]] = []
            for item in items:
                batch.append(item)
                if len(batch) < BATCH:
                    continue
                slots.acquire()
                if self.errors:
                    raise self.errors[0]
                pool.submit(self._put, batch).add_done_callback(done)
                written += len(batch)
                batch = []
                now = time.monotonic()
                if now - last >= 10:
                    last = now
                    rate = written / (now - started)
                    _progress(f"  seeded {written:,}/{total:,} items ({rate:,.0f}/s)")
                    if now > deadline:
                        pool.shutdown(wait=True, cancel_futures=True)
                        raise SeedTimeout(
                            f"seeding stopped after {now - started:.0f} s at "
                            f"{written:,} of {total:,} items ({rate:,.0f}/s)"
                        )
            if batch:
                slots.acquire()
                pool.submit(self._put, batch).add_done_callback(done)
                written += len(batch)
        if self.errors:
            raise self.errors[0]
        return written


# -- one run, measured ---------------------------------------------------------------
class StubEvents:
    """Stands in for the EventBridge client: accepts every event (it's a bench, not a
    test: this keeps EventBridge out of the measurement)."""

    def __init__(self) -> None:
        self.events = 0

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.events += len(Entries)
        return {"Entries": [{"EventId": "x"} for _ in Entries]}


@dataclass
class CallCounter:
    """botocore hooks on the store's client: API calls by operation, and HTTP requests
    (a retried call sends more than one)."""

    calls: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def before_call(self, model: Any, **_: Any) -> None:
        with self.lock:
            self.calls[model.name] += 1

    def before_send(self, **_: Any) -> None:
        with self.lock:
            self.requests += 1

    @contextlib.contextmanager
    def on(self, client: Any) -> Iterator[CallCounter]:
        hooks = (
            ("before-call.dynamodb.*", self.before_call),
            ("before-send.dynamodb.*", self.before_send),
        )
        for name, hook in hooks:
            client.meta.events.register(name, hook)
        try:
            yield self
        finally:
            for name, hook in hooks:
                client.meta.events.unregister(name, hook)


@dataclass
class Measured:
    size: int
    due: int
    customers: int
    report: RunReport
    calls: Counter[str]
    requests: int
    wall_s: float
    events: int
    rerun_read: int
    rerun_changed: int

    @property
    def total_read(self) -> int:
        return self.report.index_items_read + self.report.account_reads


def _run(store: Store, now: datetime) -> tuple[RunReport, Counter[str], int, float, int]:
    events = StubEvents()
    publisher = EventPublisher("cashback-bench", events)

    @functools.cache
    def currency_of(tenant: str) -> str:  # as the handler does: settings read once, cached
        settings = store.get_tenant(tenant)
        assert settings is not None
        return settings.currency

    with CallCounter().on(store.client) as counter:
        started = time.perf_counter()
        report = LifecycleRun(store, publisher, currency_of, now, lambda: LAMBDA_MS).run()
        wall = time.perf_counter() - started
    return report, counter.calls, counter.requests, wall, events.events


def _measure(store: Store, size: int, now: datetime, customers: list[str], due: int) -> Measured:
    report, calls, requests, wall, events = _run(store, now)
    expected = due // 2
    problems = []
    if report.failures or not report.complete or report.stopped_early:
        problems.append(
            f"failures={report.failures} complete={report.complete} "
            f"stopped_early={report.stopped_early} {report.failed_items[:3]}"
        )
    if (report.lots_ripened, report.lots_expired) != (expected, expected):
        problems.append(
            f"ripened {report.lots_ripened} and expired {report.lots_expired}, "
            f"expected {expected} each"
        )
    if events != due or report.notices_published != due:
        problems.append(
            f"{events} events sent, {report.notices_published} notices "
            f"marked published, expected {due}"
        )
    for customer in customers:
        audit = verify(store, TENANT, customer)
        if not audit.ok:
            problems.append(f"{customer}: {audit.problems[:2]}")
            break
    again, *_ = _run(store, now)
    changed = again.lots_ripened + again.lots_expired + again.notices_published
    if problems:
        raise AssertionError(f"N={size:,} run at {to_iso(now)}: " + "; ".join(problems))
    return Measured(
        size,
        due,
        len(customers),
        report,
        calls,
        requests,
        wall,
        events,
        again.index_items_read,
        changed,
    )


# -- one size ------------------------------------------------------------------------
@dataclass
class Seeded:
    size: int
    items: int
    seconds: float
    table_items: int | None
    index_items: int | None

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0


def _counts(client: Any, table: str) -> tuple[int | None, int | None]:
    described = client.describe_table(TableName=table)["Table"]
    index = next(
        (i for i in described.get("GlobalSecondaryIndexes", []) if i["IndexName"] == "due"), {}
    )
    return described.get("ItemCount"), index.get("ItemCount")


def bench_size(
    local: Any, template: Any, size: int, due: int, deadline_s: float
) -> tuple[Seeded, list[Measured]]:
    table = f"lifecycle-bench-{size}"
    admin = local.client(
        parameter_validation=False,
        max_pool_connections=WRITERS + 2,
        retries={"mode": "standard", "max_attempts": 10},
    )
    admin.create_table(**template.table_create_params(table_name=table))
    admin.get_waiter("table_exists").wait(TableName=table)
    try:
        # The job's client as deployed: standard retries, five attempts (store.Store).
        store = Store(table, local.client(retries={"mode": "standard", "max_attempts": 5}))
        store.put_tenant(TENANT, SETTINGS, CREATED)
        # Where an hourly schedule leaves the checkpoint: every day before today finished.
        store.advance_checkpoint(JOB, (NOW_A - timedelta(days=1)).strftime("%Y-%m-%d"))

        a_ids, a_items = _due_customers("due-a-", due, 1, NOW_A)
        b_ids, b_items = _due_customers("due-b-", due // PER_CUSTOMER_B, PER_CUSTOMER_B, NOW_B)
        others = size - 2 * due
        other_customers = -(-others // OTHER_LOTS_PER_CUSTOMER)
        total = len(a_items) + len(b_items) + others + other_customers
        _progress(
            f"N={size:,}: seeding {total:,} items ({size:,} lots, "
            f"{2 * due:,} of them due in the two runs' hours) ..."
        )
        seeder = Seeder(admin, table)
        started = time.monotonic()
        written = seeder.write(
            _chain(a_items, b_items, _other_customers(others)), total, started + deadline_s
        )
        seconds = time.monotonic() - started
        seeded = Seeded(size, written, seconds, *_counts(admin, table))
        _progress(
            f"  seeded {written:,} items in {seconds:.0f} s ({seeded.rate:,.0f}/s); "
            f"table {seeded.table_items}, due index {seeded.index_items}"
        )

        runs = []
        for label, now, ids in (("A", NOW_A, a_ids), ("B", NOW_B, b_ids)):
            _progress(
                f"  run {label} at {to_iso(now)} ({due:,} due lots, {len(ids):,} customers) ..."
            )
            measured = _measure(store, size, now, ids, due)
            _progress(
                f"    read {measured.report.index_items_read:,} index items + "
                f"{measured.report.account_reads:,} accounts, "
                f"{sum(measured.calls.values()):,} calls, {measured.wall_s:.2f} s"
            )
            runs.append(measured)
        return seeded, runs
    finally:
        admin.delete_table(TableName=table)


def _chain(*parts: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for part in parts:
        yield from part


# -- report --------------------------------------------------------------------------
def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _ops(calls: Counter[str]) -> str:
    order = ["Query", "GetItem", "TransactWriteItems", "UpdateItem"]
    names = order + sorted(set(calls) - set(order))
    return " + ".join(f"{calls[name]:,} {name}" for name in names if calls[name])


def render(
    due: int,
    seeded: list[Seeded],
    runs: list[Measured],
    skipped: list[tuple[int, str]],
    jar_version: str,
) -> str:
    machine = (
        f"{platform.system()} {platform.release()} {platform.machine()}, "
        f"{cpu_model()}, {os.cpu_count()} CPUs, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"DynamoDB Local {jar_version} (in memory, Java {java_version()})"
    )
    days = max((m.report.days_scanned for m in runs), default=0)
    lines = [
        "### Lifecycle run: items read as the ledger grows",
        "",
        f"Machine: {machine}.",
        f"Each size is a fresh table seeded with N live lots (BatchWriteItem, {WRITERS} "
        f"threads). Run A at {to_iso(NOW_A)}: {due:,} lots due in its last hour, 1 per "
        f"customer; run B an hour later: another {due:,}, {PER_CUSTOMER_B} per customer. "
        "Half of each ripen, half expire. The other lots belong to other customers and fall "
        "due a day or more later; run A also finds B's lots in its day buckets, due after "
        "its `now`. Checkpoint: yesterday done, as the hourly schedule leaves it (the run "
        f"rescans {days} days x {DUE_SHARDS} shards). EventBridge is a stub client that "
        "accepts every event (not measured); calls are the store client's DynamoDB API "
        "calls (botocore `before-call` hook).",
        "",
        "| live lots | due lots (customers x lots) | due index items | index items read "
        "| account reads | total read | index / due | total / due | ripened / expired "
        "| DynamoDB calls | run wall time |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    index_of = {s.size: s.index_items for s in seeded}
    for m in runs:
        r = m.report
        index_items = index_of.get(m.size)
        lines.append(
            f"| {m.size:,} | {m.due:,} ({m.customers:,} x {m.due // m.customers}) "
            f"| {index_items if index_items is None else f'{index_items:,}'} "
            f"| {r.index_items_read:,} | {r.account_reads:,} | {m.total_read:,} "
            f"| {r.index_items_read / m.due:.2f}x | {m.total_read / m.due:.2f}x "
            f"| {r.lots_ripened:,} / {r.lots_expired:,} | {sum(m.calls.values()):,} "
            f"| {m.wall_s:.2f} s |"
        )
    lines += ["", "DynamoDB calls per run, by operation:", ""]
    shapes: dict[str, list[str]] = {}
    for m in runs:
        retried = m.requests - sum(m.calls.values())
        shape = _ops(m.calls) + (f" ({retried} retried requests)" if retried else "")
        shapes.setdefault(shape, []).append(f"{m.size:,}/{m.due // m.customers}")
    for shape, where in shapes.items():
        lines.append(f"- {shape}  (N/lots per customer: {', '.join(where)})")
    lines += [
        "",
        f"Query: the {days * DUE_SHARDS} shard buckets of {days} days, a page each; GetItem: "
        "the checkpoint, the storefront's settings (once, cached as the handler does) and "
        "one account per customer with due lots; TransactWriteItems: one per lot moved; "
        "UpdateItem: one per notice marked published, plus one checkpoint update per closed "
        f"day ({days - 1}, conditional no-ops here: the checkpoint was there already). "
        "The calls are made one after "
        "another (the shards' first pages in parallel), so the wall time is mostly "
        f"round trips to DynamoDB Local (about {_ms_per_call(runs):.1f} ms a call here).",
        "",
        "Seeding: "
        + "; ".join(
            f"{s.size:,} lots = {s.items:,} items in {s.seconds:.0f} s ({s.rate:,.0f}/s)"
            for s in seeded
        )
        + " (lots, accounts, the due customers' ledger entries). Other "
        "customers' entries are not written: the job never reads entries, and a real "
        "ledger's entries are outside the `due` index.",
    ]
    reruns = {(m.rerun_read, m.rerun_changed) for m in runs}
    if reruns == {(0, 0)}:
        lines.append(
            "A second run at each `now` read 0 index items and changed nothing; "
            "every due customer's ledger verified (chain, balances, conservation)."
        )
    else:
        lines.append(
            "Second run at the same `now` (index items read, changes): "
            + ", ".join(
                f"{m.size:,}/{m.customers:,}: {m.rerun_read}/{m.rerun_changed}" for m in runs
            )
            + "."
        )
    for size, why in skipped:
        lines.append(f"Skipped {size:,} live lots: {why}.")
    lines += ["", _conclusion(runs)]
    return "\n".join(lines)


def _ms_per_call(runs: list[Measured]) -> float:
    calls = sum(sum(m.calls.values()) for m in runs)
    return 1000 * sum(m.wall_s for m in runs) / calls if calls else 0.0


def _conclusion(runs: list[Measured]) -> str:
    if not runs:
        return "No size was measured."
    index_ratio = max(m.report.index_items_read / m.due for m in runs)
    sizes = sorted({m.size for m in runs})
    per = {k: (min(v), max(v)) for k, v in _by_share(runs).items()}
    totals = ", ".join(
        f"{lo:.2f}x"
        + (f"-{hi:.2f}x" if hi != lo else "")
        + f" at {k} due lot"
        + ("s" if k > 1 else "")
        + " per customer"
        for k, (lo, hi) in sorted(per.items())
    )
    if len(sizes) == 1:
        where, flat = f"at {sizes[0]:,}", ""
    else:
        same = len({(m.due, m.customers, m.total_read) for m in runs}) == len(per)
        where = f"from {sizes[0]:,} to {sizes[-1]:,}"
        flat = ", the same counts at every size" if same else ", NOT flat across sizes"
    verdict = "met" if index_ratio <= GOAL else "not met"
    return (
        f"Conclusion: {where} live lots a run reads at most {index_ratio:.2f}x the due "
        f"lots from the index (goal <= {GOAL}x: {verdict}){flat}; with one account read "
        f"per customer that has something due, the total is {totals}."
    )


def _by_share(runs: list[Measured]) -> dict[int, set[float]]:
    shares: dict[int, set[float]] = {}
    for m in runs:
        shares.setdefault(m.due // m.customers, set()).add(m.total_read / m.due)
    return shares


# -- main ----------------------------------------------------------------------------
def run(sizes: list[int], due: int, budget_s: float) -> str:
    from cashback_tools.local.dynamodb_local import DynamoDBLocal, find_jar
    from cashback_tools.local.template import load_template

    template = load_template(ROOT / "template.yaml")
    _progress("starting DynamoDB Local (in memory) ...")
    local = DynamoDBLocal(ROOT).start()
    seeded: list[Seeded] = []
    runs: list[Measured] = []
    skipped: list[tuple[int, str]] = []
    rate = FIRST_RATE_GUESS
    try:
        _progress(f"warm-up round ({WARM_UP_DUE} due lots, not measured) ...")
        bench_size(local, template, 2 * WARM_UP_DUE, WARM_UP_DUE, budget_s)
        for size in sizes:
            items = size + size // OTHER_LOTS_PER_CUSTOMER + 3 * due
            projected = items / rate
            if projected > budget_s:
                why = (
                    f"seeding {items:,} items would take about {projected:.0f} s at "
                    f"{rate:,.0f} items/s, over the {budget_s:.0f} s budget per size "
                    "(--seed-budget)"
                )
                _progress(f"N={size:,}: skipped, {why}")
                skipped.append((size, why))
                continue
            try:
                one, measured = bench_size(local, template, size, due, budget_s * 1.25)
            except SeedTimeout as stopped:
                _progress(f"N={size:,}: skipped, {stopped}")
                skipped.append((size, str(stopped)))
                continue
            seeded.append(one)
            runs += measured
            rate = one.rate * 0.9  # bigger tables write a little slower
        jar_version = find_jar(ROOT).parent.name.removeprefix("dynamodb_local_")
    finally:
        _progress("stopping DynamoDB Local ...")
        local.stop()
    return render(due, seeded, runs, skipped, jar_version)


def _sizes(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.lifecycle", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=[10_000, 100_000, 1_000_000],
        help="live lots per table, comma-separated (default 10000,100000,1000000)",
    )
    parser.add_argument(
        "--due",
        type=int,
        default=1000,
        help="lots due in each run (default 1000; a multiple of 10)",
    )
    parser.add_argument(
        "--seed-budget",
        type=float,
        default=480.0,
        help="seconds of seeding allowed per size; a size projected to take "
        "longer is skipped (default 480)",
    )
    args = parser.parse_args(argv)
    if args.due < PER_CUSTOMER_B or args.due % PER_CUSTOMER_B:
        parser.error(
            f"--due must be a positive multiple of {PER_CUSTOMER_B} (run B gives "
            f"each customer {PER_CUSTOMER_B} due lots, half ripening, half expiring)"
        )
    for size in args.sizes:
        if size < 2 * args.due:
            parser.error(f"size {size} is smaller than the {2 * args.due} due lots of two runs")
    started = time.monotonic()
    print(run(args.sizes, args.due, args.seed_budget))
    _progress(f"(bench took {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
