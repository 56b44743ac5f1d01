"""Back-test a candidate model or thresholds on recorded (or simulated) traffic.

    python -m models.refund_abuse.backtest --traffic traffic.jsonl --review-share 0.015
    python -m models.refund_abuse.backtest --candidate-model-dir /tmp/new_model
    python -m models.refund_abuse.backtest --review-threshold 0.62 --block-threshold 0.70

Every purchase of the last `--last-days` is decided twice from the same aggregates (the
earlier traffic only builds them): by the current model with its thresholds, and by the
candidate. The report says how many decisions change and which way, what share of
purchases each would hold, and, when the traffic carries labels (simulated, or analysts'
outcomes), what each would catch. Nothing is switched on: that is a new layer version or a
new threshold in the storefront's settings, after reading this.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from cashback.domain.risk import clear_cache, load_scorer
from cashback.domain.risk.decision import Decision, RulePolicy, Thresholds, decide
from cashback.domain.risk.features import features
from cashback.domain.risk.scorer import Scorer
from cashback_tools.model_cli import parser_for
from models.refund_abuse import MODEL_LAYER, money
from models.refund_abuse.replay import Step, replay
from models.refund_abuse.simulator import (
    ABUSE_KINDS,
    HONEST_KINDS,
    SimulationConfig,
    Traffic,
    read_jsonl,
    simulate,
)

ACTIONS = ("allow", "review", "block")


@dataclass(frozen=True)
class Side:
    """One way of deciding: a scorer, its thresholds and the rules' policy."""

    name: str
    scorer: Scorer
    thresholds: Thresholds
    rules: RulePolicy


@dataclass(frozen=True)
class Backtest:
    steps: list[Step]
    kinds: list[str]
    current: list[Decision]
    candidate: list[Decision]
    sides: tuple[Side, Side]


def candidate_thresholds(
    scorer: Scorer,
    risk: np.ndarray,
    *,
    review: float | None = None,
    block: float | None = None,
    review_share: float | None = None,
    block_share: float | None = None,
) -> Thresholds:
    """Explicit thresholds win; else shares of the replayed purchases; else the model's."""
    own = Thresholds.from_metadata(scorer.metadata)
    if review is None and review_share is not None:
        review = float(np.quantile(risk, 1.0 - review_share))
    if block is None and block_share is not None:
        block = float(np.quantile(risk, 1.0 - block_share))
    review = own.review if review is None else review
    block = own.block if block is None else block
    return Thresholds(review=review, block=max(block, review))


def window(traffic: Traffic, last_days: int) -> list[Step]:
    begin = traffic.end - timedelta(days=last_days)
    return [step for step in replay(traffic) if step.now >= begin]


def run_backtest(traffic: Traffic, steps: list[Step], current: Side, candidate: Side) -> Backtest:
    kinds = traffic.kinds()

    def decide_all(side: Side) -> list[Decision]:
        return [
            decide(
                s.facts,
                s.aggregates,
                s.shared,
                s.now,
                side.scorer,
                thresholds=side.thresholds,
                rules=side.rules,
            )
            for s in steps
        ]

    return Backtest(
        steps,
        [kinds.get(s.purchase.customer_id, "unknown") for s in steps],
        decide_all(current),
        decide_all(candidate),
        (current, candidate),
    )


def _rates(result: Backtest, decisions: list[Decision]) -> dict[str, float]:
    held = np.asarray([d.action != "allow" for d in decisions])
    kinds = np.asarray(result.kinds)
    out = {
        "held": float(held.mean()) if len(held) else 0.0,
        "blocked": float(np.mean([d.action == "block" for d in decisions])) if decisions else 0.0,
    }
    labelled = np.isin(kinds, ABUSE_KINDS + HONEST_KINDS)
    if labelled.any():
        abusive = np.isin(kinds, ABUSE_KINDS)
        honest = np.isin(kinds, HONEST_KINDS)
        out["precision"] = float((held & abusive).sum() / held.sum()) if held.any() else 0.0
        out["recall"] = float((held & abusive).sum() / abusive.sum()) if abusive.any() else 0.0
        out["false_hold"] = float((held & honest).sum() / honest.sum()) if honest.any() else 0.0
        cashback = np.asarray([s.purchase.cashback for s in result.steps], dtype=np.int64)
        out["kept"] = int(cashback[held & abusive].sum())
    return out


def report(result: Backtest, examples: int = 10) -> str:
    current, candidate = result.sides
    moves = Counter(
        (a.action, b.action) for a, b in zip(result.current, result.candidate, strict=True)
    )
    changed = sum(n for (a, b), n in moves.items() if a != b)
    lines = [
        "# Backtest",
        "",
        f"{len(result.steps):,} purchases replayed; {changed:,} decisions change "
        f"({changed / max(1, len(result.steps)):.2%}).",
        "",
        "| | model | review at | block at | rules |",
        "|---|---|--:|--:|---|",
    ]
    for side in (current, candidate):
        lines.append(
            f"| {side.name} | `{side.scorer.model_version}` | "
            f"{side.thresholds.review:.4f} | {side.thresholds.block:.4f} | "
            f"{'on' if side.rules.enabled else 'off'} |"
        )
    lines += [
        "",
        "Current (rows) against candidate (columns):",
        "",
        "| current \\ candidate | " + " | ".join(ACTIONS) + " |",
        "|---|" + "--:|" * len(ACTIONS),
    ]
    for a in ACTIONS:
        lines.append(f"| {a} | " + " | ".join(f"{moves.get((a, b), 0):,}" for b in ACTIONS) + " |")
    rates = [_rates(result, result.current), _rates(result, result.candidate)]
    names = sorted(set(rates[0]) & set(rates[1]), key=list(rates[0]).index)
    lines += ["", "| | " + " | ".join(names) + " |", "|---|" + "--:|" * len(names)]
    for side, r in zip((current, candidate), rates, strict=True):
        cells = [money(int(r[n])) if n == "kept" else f"{r[n]:.2%}" for n in names]
        lines.append(f"| {side.name} | " + " | ".join(cells) + " |")
    shown = 0
    lines += ["", "Examples of changed decisions:", ""]
    for step, kind, a, b in zip(
        result.steps, result.kinds, result.current, result.candidate, strict=True
    ):
        if a.action == b.action or shown >= examples:
            continue
        shown += 1
        why = "; ".join(b.reasons or a.reasons) or "-"
        lines.append(
            f"- `{step.purchase.order_id}` ({kind}): {a.action} -> {b.action}, "
            f"risk {b.score:.3f}: {why}"
        )
    if not shown:
        lines.append("- none")
    return "\n".join(lines) + "\n"


def changed_records(result: Backtest) -> list[dict[str, object]]:
    return [
        {
            "order_id": s.purchase.order_id,
            "customer_id": s.purchase.customer_id,
            "kind": kind,
            "current": a.to_record(),
            "candidate": b.to_record(),
        }
        for s, kind, a, b in zip(
            result.steps, result.kinds, result.current, result.candidate, strict=True
        )
        if a.action != b.action
    ]


def run(args: argparse.Namespace) -> int:
    traffic = (
        read_jsonl(args.traffic)
        if args.traffic
        else simulate(
            SimulationConfig(seed=args.seed, months=args.months, honest_customers=args.customers)
        )
    )
    clear_cache()
    current_scorer = load_scorer(args.model_dir or MODEL_LAYER)
    candidate_scorer = (
        load_scorer(args.candidate_model_dir) if args.candidate_model_dir else current_scorer
    )
    steps = window(traffic, args.last_days)
    risk = (
        -candidate_scorer.score_samples(
            [features(s.aggregates, s.facts, s.now, s.shared) for s in steps]
        )
        if steps
        else np.zeros(0)
    )
    current = Side(
        "current", current_scorer, Thresholds.from_metadata(current_scorer.metadata), RulePolicy()
    )
    candidate = Side(
        "candidate",
        candidate_scorer,
        candidate_thresholds(
            candidate_scorer,
            risk,
            review=args.review_threshold,
            block=args.block_threshold,
            review_share=args.review_share,
            block_share=args.block_share,
        ),
        RulePolicy(enabled=not args.no_rules),
    )
    result = run_backtest(traffic, steps, current, candidate)
    text = report(result)
    print(text)
    if args.out:
        args.out.write_text(text)
    if args.decisions:
        with args.decisions.open("w") as out:
            for record in changed_records(result):
                out.write(json.dumps(record) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(parser_for("backtest").parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
