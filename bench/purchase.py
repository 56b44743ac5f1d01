"""What the accrual handler costs over the one DynamoDB transaction a purchase must make.

    python -m bench.purchase [--n 300]

Starts DynamoDB Local (in memory), creates the table from template.yaml and calls the real
handler (functions/accrual/app.py `lambda_handler`) in this process with API Gateway
purchase events built from events/accrual/purchase.json. After each purchase, the baseline
replays the TransactWriteItems that purchase sent (captured with a botocore hook on the
handler's own client) under a second tenant, so the same items land on fresh keys, through
the same client: a bare `transact_write_items` with nothing around it. Handler and baseline
alternate, so both see the same table and the same JVM state.

It also counts the DynamoDB API calls each purchase and each refund makes. Timings are
printed, never asserted: they depend on the machine, and DynamoDB Local is not DynamoDB.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib.util
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
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.machine import cpu_model, java_version

ROOT = Path(__file__).resolve().parents[1]
TABLE = "cashback-bench"
TENANT = "acme"
# The baseline writes the captured items under this tenant instead: fresh keys, same items.
SHADOW_TENANT = "bench-baseline"
WARMUP = 30
REFUNDS = 50
CUSTOMERS = 100  # purchases cycle over them, so most accounts already exist (repeat buyers)
GOAL = 1.3


class LambdaContext:
    """What the Python Lambda runtime passes as `context` (Powertools' logger reads it)."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:000000000000:function:{function_name}"
        )
        self.memory_limit_in_mb = "512"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@dataclass
class CallLog:
    """botocore hooks on the handler's DynamoDB client: counts calls by operation and keeps
    the body of the last TransactWriteItems while capturing is on."""

    counts: Counter[str] = field(default_factory=Counter)
    capturing: bool = False
    counting: bool = False
    captured: dict[str, Any] | None = None
    in_calls: float = 0.0  # seconds between before-call and after-call, summed
    _started: float = 0.0

    def before_call(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if self.counting:
            self.counts[model.name] += 1
            self._started = time.perf_counter()

    def after_call(self, **_: Any) -> None:
        if self.counting:
            self.in_calls += time.perf_counter() - self._started

    def before_transact(self, params: dict[str, Any], **_: Any) -> None:
        if self.capturing:
            # The request exactly as it goes on the wire (DynamoDB's JSON protocol uses the
            # same shapes as the API parameters).
            self.captured = json.loads(params["body"])

    def take(self) -> tuple[Counter[str], float]:
        counts, self.counts = self.counts, Counter()
        seconds, self.in_calls = self.in_calls, 0.0
        return counts, seconds


def _import_handler(job: str) -> ModuleType:
    name = f"bench_{job}_app"
    spec = importlib.util.spec_from_file_location(name, ROOT / "functions" / job / "app.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"functions/{job}/app.py not found")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _event(name: str) -> dict[str, Any]:
    return json.loads((ROOT / "events" / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _with_body(template: dict[str, Any], **changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(template)
    event["body"] = json.dumps({**json.loads(template["body"]), **changes})
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    return event


def _shadow(value: Any) -> Any:
    """The same items under SHADOW_TENANT: every key and tenant attribute moves."""
    if isinstance(value, dict):
        return {k: _shadow(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shadow(v) for v in value]
    if isinstance(value, str):
        if value == TENANT:
            return SHADOW_TENANT
        return value.replace(f"#{TENANT}#", f"#{SHADOW_TENANT}#")
    return value


def _p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]  # nearest rank


def _breakdown(counts: Counter[str]) -> str:
    return " + ".join(f"{n} {op}" for op, n in sorted(counts.items())) or "no calls"


def _calls_summary(per_request: list[Counter[str]]) -> str:
    shapes = Counter(_breakdown(c) for c in per_request)
    parts = [
        f"{shape} ({k}/{len(per_request)})" if len(shapes) > 1 else shape
        for shape, k in shapes.most_common()
    ]
    return "; ".join(parts)


def run(n: int) -> str:
    from cashback_tools.local.dynamodb_local import DynamoDBLocal, find_jar
    from cashback_tools.local.template import load_template

    template = load_template(ROOT / "template.yaml")
    print("starting DynamoDB Local ...", file=sys.stderr, flush=True)
    local = DynamoDBLocal(ROOT).start()
    try:
        os.environ.update(
            {
                **template.environment({"LedgerTable": TABLE}),
                **local.env(),
                "TABLE_NAME": TABLE,
                # As deployed, except that there is no X-Ray daemon here. Metrics stay on: their
                # EMF line goes to stdout as on Lambda, and is discarded below.
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": "WARNING",
            }
        )
        client = local.client()
        client.create_table(**template.table_create_params(table_name=TABLE))
        client.get_waiter("table_exists").wait(TableName=TABLE)

        # Only now: the layer and the handler read their environment when imported.
        from cashback import runtime
        from cashback.domain.tenants import TenantSettings

        accrual = _import_handler("accrual")
        store = runtime.store()
        store.put_tenant(
            TENANT, TenantSettings(currency="BRL", backdate_days=3650), "2026-01-01T00:00:00Z"
        )

        log = CallLog()
        store.client.meta.events.register("before-call.dynamodb.*", log.before_call)
        store.client.meta.events.register("after-call.dynamodb.*", log.after_call)
        store.client.meta.events.register(
            "before-call.dynamodb.TransactWriteItems", log.before_transact
        )

        purchase = _event("accrual/purchase.json")
        refund = _event("accrual/refund.json")
        run_id = uuid.uuid4().hex[:8]
        handler_ms: list[float] = []
        baseline_ms: list[float] = []
        purchase_calls: list[Counter[str]] = []
        in_calls_ms: list[float] = []
        order_ids: list[str] = []
        clock = time.perf_counter
        print(
            f"{WARMUP} warm-up + {n} purchases, each followed by its baseline ...",
            file=sys.stderr,
            flush=True,
        )
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            for i in range(WARMUP + n):
                order_id = f"bench-{run_id}-{i:06d}"
                event = _with_body(
                    purchase, order_id=order_id, customer_id=f"bench-cust-{i % CUSTOMERS:04d}"
                )
                context = LambdaContext("AccrualFunction")
                log.capturing = log.counting = True
                started = clock()
                reply = accrual.lambda_handler(event, context)
                elapsed = clock() - started
                log.capturing = log.counting = False
                calls, in_calls = log.take()
                if reply.get("statusCode") != 201 or log.captured is None:
                    raise RuntimeError(f"purchase {order_id} failed: {reply}")
                items = _shadow(log.captured["TransactItems"])
                log.captured = None

                started = clock()
                store.client.transact_write_items(TransactItems=items)
                baseline = clock() - started

                if i >= WARMUP:
                    handler_ms.append(elapsed * 1000)
                    baseline_ms.append(baseline * 1000)
                    purchase_calls.append(calls)
                    in_calls_ms.append(in_calls * 1000)
                    order_ids.append(order_id)

            refund_ms: list[float] = []
            refund_calls: list[Counter[str]] = []
            for k, order_id in enumerate(order_ids[:REFUNDS]):
                event = _with_body(
                    refund, refund_id=f"bench-rfd-{run_id}-{k:06d}", order_id=order_id
                )
                log.counting = True
                started = clock()
                reply = accrual.lambda_handler(event, LambdaContext("AccrualFunction"))
                elapsed = clock() - started
                log.counting = False
                if reply.get("statusCode") != 201:
                    raise RuntimeError(f"refund of {order_id} failed: {reply}")
                refund_ms.append(elapsed * 1000)
                refund_calls.append(log.take()[0])

        jar = find_jar(ROOT)
    finally:
        local.stop()

    h_med, b_med = statistics.median(handler_ms), statistics.median(baseline_ms)
    h_p99, b_p99 = _p99(handler_ms), _p99(baseline_ms)
    r_med, r_p99 = statistics.median(refund_ms), _p99(refund_ms)
    own_ms = [total - calls for total, calls in zip(handler_ms, in_calls_ms, strict=True)]

    def verdict(ratio: float) -> str:
        return "met" if ratio <= GOAL else "not met"

    machine = (
        f"{platform.system()} {platform.release()} {platform.machine()}, "
        f"{cpu_model()}, {os.cpu_count()} CPUs, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"DynamoDB Local {jar.parent.name.removeprefix('dynamodb_local_')} "
        f"(in memory, Java {java_version()})"
    )
    lines = [
        "### Purchase latency: accrual handler vs. a bare TransactWriteItems",
        "",
        f"Machine: {machine}.",
        f"{n} purchases after {WARMUP} warm-up, sequential, one process; handler = "
        "`functions/accrual/app.py` `lambda_handler` called in-process with an API Gateway "
        "event (Powertools logger and metrics on, tracing off); baseline = the same "
        "TransactItems on fresh keys through the same boto3 client.",
        "",
        "| per purchase | handler | bare TransactWriteItems | handler / baseline |",
        "|---|---:|---:|---:|",
        f"| median | {h_med:.2f} ms | {b_med:.2f} ms | {h_med / b_med:.2f}x |",
        f"| p99 | {h_p99:.2f} ms | {b_p99:.2f} ms | {h_p99 / b_p99:.2f}x |",
        "",
        f"Of the handler's median purchase, {statistics.median(in_calls_ms):.2f} ms is spent "
        f"inside its DynamoDB calls (botocore before-call to after-call: signing, the "
        f"HTTP round trip, parsing) and {statistics.median(own_ms):.2f} ms outside them "
        "(event parsing and validation, domain code, request serialization, Powertools).",
        "",
        "| request | DynamoDB calls (warm container) | handler median / p99 |",
        "|---|---|---:|",
        f"| purchase | {_calls_summary(purchase_calls)} | {h_med:.2f} / {h_p99:.2f} ms |",
        f"| refund | {_calls_summary(refund_calls)} | {r_med:.2f} / {r_p99:.2f} ms |",
        "",
        f"Goal handler/baseline <= {GOAL}x: median {verdict(h_med / b_med)} "
        f"({h_med / b_med:.2f}x), p99 {verdict(h_p99 / b_p99)} ({h_p99 / b_p99:.2f}x). "
        f"Refund timings over {len(refund_ms)} refunds.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.purchase", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--n", type=int, default=300, help="measured purchases (default 300)")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")
    started = time.monotonic()
    table = run(args.n)
    print(table)
    print(f"(bench took {time.monotonic() - started:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
