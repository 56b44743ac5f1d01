"""What the rules engine costs per order, and what a sharded campaign budget admits.

    python -m bench.rules [--n 3000]

Evaluates a 50-line basket under a program with 20 campaigns running at once (add,
replace and exclusive ones, targeting categories, SKUs and channels, with budgets),
tiers, bonuses and caps; the baseline, in the same run and on the same basket, is the
flat rate the walking skeleton uses (`ledger.cashback_for`), once on the order amount
and once per line. Then the budget shard layouts: purchases a second each admits on
paper and what its budget writes cost. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from cashback.domain.ledger import cashback_for
from cashback.domain.rules import budget
from cashback.domain.rules.engine import (
    Birthday,
    Context,
    Line,
    Purchase,
    customer_explanation,
    evaluate,
)
from cashback.domain.rules.plan import compiled
from cashback.domain.rules.ruleset import RuleSet

ROOT = Path(__file__).resolve().parents[1]
CATEGORIES = [
    "fashion",
    "shoes",
    "electronics",
    "smartphones",
    "beauty",
    "home",
    "sports",
    "toys",
    "books",
    "clearance",
]
AT = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)  # Black Friday afternoon in São Paulo
WARMUP = 200


def program() -> RuleSet:
    campaigns: list[dict[str, Any]] = []
    for i in range(20):
        # Mostly add-on campaigns; narrow exclusive ones (a few SKUs), category replacements.
        stacking = ("add", "add", "add", "replace", "exclusive")[i % 5]
        campaign: dict[str, Any] = {
            "id": f"campaign-{i:02d}",
            "name": f"Campaign {i}",
            "rate": f"0.0{i % 9 + 1}",
            "starts_at": "2026-11-27T00:00:00",
            "ends_at": "2026-11-30T00:00:00",
            "stacking": stacking,
            "priority": i % 4 if stacking != "add" else None,
            "budget": 10_000_000 if i % 2 else None,
        }
        if stacking == "exclusive":
            campaign["skus"] = [f"SKU-{j:03d}" for j in range(i, 50, 17)]
        elif stacking == "replace" or i % 3 == 0:
            campaign["categories"] = [CATEGORIES[i % 10], CATEGORIES[(i + 3) % 10]]
        elif i % 3 == 1:
            campaign["skus"] = [f"SKU-{j:03d}" for j in range(i % 7, 50, 7)]
        if i % 4 == 0:
            campaign["channels"] = ["online", "app"]
        campaigns.append(campaign)
    return RuleSet.model_validate(
        {
            "currency": "BRL",
            "time_zone": "America/Sao_Paulo",
            "effective_from": "2026-11-01T00:00:00-03:00",
            "base_rate": "0.03",
            "category_rates": {"fashion": "0.05", "electronics": "0.02", "smartphones": "0.01"},
            "excluded_categories": ["gift-cards"],
            "tiers": {
                "levels": [
                    {"name": "Bronze", "min_spend": 0, "extra_rate": "0"},
                    {"name": "Prata", "min_spend": 200000, "extra_rate": "0.01"},
                    {"name": "Ouro", "min_spend": 1000000, "extra_rate": "0.02"},
                ]
            },
            "campaigns": campaigns,
            "green": {"extra_rate": "0.02"},
            "birthday": {"extra_rate": "0.05"},
            "first_purchase": {"fixed": 1000},
            "channels": {"app": {"extra_rate": "0.01"}},
            "caps": {"per_order": 500000, "per_customer_month": 1000000},
        }
    )


def basket() -> Purchase:
    lines = tuple(
        Line(f"SKU-{i:03d}", CATEGORIES[i % 10], 1990 + 137 * i, i % 5 == 0) for i in range(50)
    )
    return Purchase(sum(line.amount for line in lines), "BRL", AT, "online", lines)


def _time(call: Callable[[], object], n: int) -> list[float]:
    """Microseconds per call."""
    for _ in range(WARMUP):
        call()
    samples = []
    for _ in range(n):
        started = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - started) / 1000)
    return samples


def _p99(samples: list[float]) -> float:
    return sorted(samples)[max(0, int(0.99 * len(samples)) - 1)]


def _row(name: str, samples: list[float], baseline: float) -> str:
    median = statistics.median(samples)
    return (
        f"| {name} | {median:,.1f} | {statistics.fmean(samples):,.1f} | "
        f"{_p99(samples):,.1f} | {median / baseline:,.0f}x |"
    )


def evaluation_table(n: int) -> str:
    rules, purchase = program(), basket()
    context = Context(
        trailing_spend=250000,
        birthday=Birthday(11, 3),
        budget_remaining={f"campaign-{i:02d}": 5_000_000 for i in range(20)},
    )
    result = evaluate(rules, purchase, context, version=1)
    rate = Decimal("0.05")
    flat_order = _time(lambda: cashback_for(purchase.amount, rate), n)
    flat_lines = _time(lambda: sum(cashback_for(line.amount, rate) for line in purchase.lines), n)
    engine = _time(lambda: evaluate(rules, purchase, context, version=1), n)

    def cold() -> object:
        compiled(rules).planners.clear()  # as for the first order in a new situation
        return evaluate(rules, purchase, context, version=1)

    first = _time(cold, n)
    breakdown = _time(lambda: json.dumps(result.to_json()), n)
    explain = _time(lambda: customer_explanation(result), n)
    example = (ROOT / "docs" / "rules.example.json").read_text(encoding="utf-8")
    parse = _time(lambda: RuleSet.model_validate_json(example), max(n // 10, 50))
    base = statistics.median(flat_order)
    applied = sum(len(line.items) for line in result.lines)
    size = len(json.dumps(result.to_json()).encode())
    return "\n".join(
        [
            f"Basket: 50 lines, {len(result.campaigns)} of 20 running campaigns applied, "
            f"{applied} rule applications; cashback {result.cashback} (minor units).",
            "",
            "| per order | median µs | mean µs | p99 µs | vs flat rate |",
            "| --- | ---: | ---: | ---: | ---: |",
            _row(
                "flat rate on the order amount (`ledger.cashback_for`, baseline)", flat_order, base
            ),
            _row("flat rate per line (50 × `cashback_for`)", flat_lines, base),
            _row("**rules engine: `evaluate`**", engine, base),
            _row(
                "`evaluate`, first order of its situation (rate plans not cached yet)", first, base
            ),
            _row("breakdown to JSON (`to_json` + `json.dumps`)", breakdown, base),
            _row("`customer_explanation`", explain, base),
            _row("validate the example program (cold start / publish, not per order)", parse, base),
            "",
            f"The breakdown of this order is {size:,} bytes of JSON (DynamoDB items hold 400 KB).",
        ]
    )


def layout_table() -> str:
    rows = [
        "| shards | purchases/s on paper | budget writes, on demand, per million "
        "purchases | provisioned for that peak, per month |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for shards in (1, 2, 4, 8, 16, 32, 64, 128):
        plan = budget.layout(shards)
        rows.append(
            f"| {shards} | {plan.purchases_per_second:,} | "
            f"${plan.usd_per_million_purchases:,.2f} | "
            f"${plan.usd_per_month_provisioned:,.2f} |"
        )
    peaks = ", ".join(
        f"{peak:,}/s → {budget.shards_for(peak)} shards" for peak in (1_000, 5_000, 20_000, 100_000)
    )
    return "\n".join(
        [
            *rows,
            "",
            f"Each budgeted purchase updates one shard item inside its transaction: "
            f"{budget.WCU_PER_TRANSACTIONAL_WRITE} WCU per write against an item's "
            f"{budget.ITEM_WCU_PER_SECOND:,} WCU/s, so one shard admits "
            f"{budget.ITEM_WCU_PER_SECOND // budget.WCU_PER_TRANSACTIONAL_WRITE} purchases/s. "
            "On demand the cost is per purchase "
            f"(${budget.USD_PER_MILLION_WRITE_REQUEST_UNITS} per "
            "million write units, us-east-1) whatever the shard count; provisioned, the peak "
            f"costs ${budget.USD_PER_PROVISIONED_WCU_HOUR} per WCU-hour. Only a failed optimistic "
            "take reads the shards (N reads; near the end of a budget). Shards for a peak at 70% "
            f"of each shard's ceiling: {peaks}.",
        ]
    )


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return (
        f"{platform.system()} {platform.release()} {platform.machine()} ({cpu}), "
        f"{os.cpu_count()} CPUs, {platform.python_implementation()} "
        f"{platform.python_version()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="rules engine benchmark")
    parser.add_argument("--n", type=int, default=3000, help="timed evaluations")
    args = parser.parse_args()
    print("## Rule evaluation\n")
    print(f"Machine: {machine()}. {args.n} timed calls each after {WARMUP} warm-up calls.\n")
    print(evaluation_table(args.n))
    print("\n## Campaign budget shards\n")
    print(layout_table())


if __name__ == "__main__":
    main()
