"""Whether the reports keep up with the ledger: the table's stream folded by ReportsFunction
against the purchases writing it, on the same DynamoDB Local, and what the reports cost in
writes per 1,000 purchases.

    python -m bench.reports [--purchases 1000] [--customers 200] [--threads 2]

Starts the local stack (DynamoDB Local, the real handlers in their workers, the stream's
event source mapping as template.yaml configures it: batches of up to 10,000 records, 6 MB
or 30 s).

- Phase 1, writing: the stream's delivery is held back (`pause_streams`) while
  `--purchases` purchases go through `POST /v1/purchases` from `--threads` threads, spread
  over `--customers` customers (each purchase writes its ledger entry, its lot and its
  order: three records the consumer folds). Records written per second is the baseline.
- Phase 2, folding: delivery resumes and `settle` closes each batching window at once;
  the time until every record is folded gives records folded per second, and the ratio
  to the baseline how far ahead of the writers the consumer is.
- Phase 3, both at once, as deployed: another `--purchases` purchases with the consumer
  running and its batching window as the template sets it; the writes the reports cost
  per 1,000 purchases are counted here, and the lag is how long after the last purchase's
  reply the reports had it.

In phase 3 the consumer is awaited through the stream's counters, not `settle`, so
batches form as deployed. Writes are counted from the run
markers the consumer leaves (each run: one transaction of its marker and the report items
it added to). Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import requests

from bench.harness import progress
from bench.machine import cpu_model, java_version
from cashback.adapters.dynamodb.table import from_item
from cashback.domain.clock import to_iso
from cashback.domain.tenants import TenantSettings
from cashback_tools.local.stack import TABLE_NAME, LocalStack

TENANT = "bench"
RECORDS_PER_PURCHASE = 3  # its ledger entry, its lot, its order


def _purchase(session: requests.Session, url: str, n: int, customers: int, tag: str) -> None:
    body = {
        "order_id": f"{tag}-{n:07d}",
        "customer_id": f"c{n % customers:05d}",
        "amount": 10000 + n % 9000,
        "currency": "BRL",
        "occurred_at": to_iso(datetime.now(UTC)),
        "channel": "online",
        "lines": [{"sku": "sku-1", "category": "shoes", "amount": 10000 + n % 9000}],
    }
    reply = session.post(f"{url}/v1/purchases", json=body, timeout=60)
    assert reply.status_code == 201, reply.text


def _write(stack: LocalStack, purchases: int, customers: int, threads: int, tag: str) -> float:
    """Send the purchases; seconds it took."""
    sessions = [requests.Session() for _ in range(threads)]
    for session in sessions:
        session.headers["Authorization"] = f"Bearer {stack.keys[TENANT]['storefront']}"
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(
            pool.map(
                lambda n: _purchase(sessions[n % threads], stack.url, n, customers, tag),
                range(purchases),
            )
        )
    return time.perf_counter() - started


def _await(stack: LocalStack, delivered: int, timeout: float = 600) -> None:
    """Wait until `delivered` records reached the consumer, without `settle` (which closes
    batching windows early): batches form as the template says (size, 6 MB, 5 s)."""
    deadline = time.monotonic() + timeout
    while stack.stream_counters.get("delivered", 0) < delivered:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {stack.stream_counters} after {timeout}s")
        time.sleep(0.05)
    stack.settle(timeout=timeout)


def _writes(stack: LocalStack) -> tuple[int, int, int]:
    """Runs folded so far, report items they added to, records they covered."""
    client: Any = stack.dynamodb_client()
    runs = items = records = 0
    for page in client.get_paginator("scan").paginate(
        TableName=TABLE_NAME,
        FilterExpression="begins_with(pk, :mark)",
        ExpressionAttributeValues={":mark": {"S": "STREAMMARK#"}},
    ):
        for raw in page["Items"]:
            mark = from_item(raw)
            runs += 1
            items += int(mark.get("report_items", 0))
            records += int(mark["records"])
    return runs, items, records


def run(purchases: int, customers: int, threads: int) -> str:
    settings = TenantSettings(currency="BRL", risk_mode="off")
    progress("starting the local stack ...")
    with LocalStack(tenants=(TENANT,), quiet=True, settings=settings, throttling=False) as stack:
        stack.pause_streams()
        progress(f"phase 1: {purchases} purchases with the stream held back ...")
        wrote = _write(stack, purchases, customers, threads, "w")
        progress("phase 2: folding them ...")
        started = time.perf_counter()
        stack.resume_streams()
        stack.settle(timeout=600)  # no waiting out the window: the consumer's own pace
        folded_in = time.perf_counter() - started
        counters = stack.stream_counters
        runs, items, records = _writes(stack)
        progress(f"phase 3: {purchases} more purchases with the consumer running ...")
        _write(stack, purchases, customers, threads, "x")
        replied = time.perf_counter()
        _await(stack, 2 * RECORDS_PER_PURCHASE * purchases)
        lag = time.perf_counter() - replied
        runs_all, items_all, _ = _writes(stack)
    folded_records = counters["delivered"]
    write_rate = folded_records / wrote
    fold_rate = folded_records / folded_in
    per_1000 = (runs + items) * 1000 / purchases
    per_1000_live = (runs_all - runs + items_all - items) * 1000 / purchases
    lines = [
        f"machine: {platform.system()} {platform.machine()}, {cpu_model()}, "
        f"Python {platform.python_version()}, {java_version()}",
        f"stream counters after phase 2: {counters}",
        "",
        "| phase | records | seconds | records/s |",
        "|---|---:|---:|---:|",
        f"| 1: written by {threads} writers (baseline) | {folded_records} | {wrote:.1f} | "
        f"{write_rate:.0f} |",
        f"| 2: folded by ReportsFunction | {folded_records} | {folded_in:.1f} | {fold_rate:.0f} |",
        "",
        f"folded / written: {fold_rate / write_rate:.1f}x",
        f"report writes per 1,000 purchases, as deployed (phase 3): {per_1000_live:.1f} "
        f"({runs_all - runs} runs, {items_all - items} report items; goal: at most 10); "
        f"with the window closed at once (phase 2): {per_1000:.1f} ({runs} runs)",
        f"lag with the consumer running: the last purchase was in the reports {lag:.1f} s "
        "after its reply (the batching window is 30 s)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--purchases", type=int, default=1000)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    print(run(args.purchases, args.customers, args.threads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
