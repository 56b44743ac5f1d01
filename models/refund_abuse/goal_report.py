"""The report's issue 11 section: the Goal checklist on unseen and shifted periods, the
analysts' agreement with the model, and the queue's precision at each threshold (with a
plot). Numbers come from goal.py; this module only measures periods and writes them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cashback.domain.risk.decision import Thresholds, decide
from cashback.domain.risk.scorer import Scorer
from models.refund_abuse import goal, money
from models.refund_abuse.labelled import Labels, held_out
from models.refund_abuse.replay import replay
from models.refund_abuse.simulator import ABUSE_KINDS, MONTH, simulate

PLOT = "queue_precision.png"


@dataclass(frozen=True)
class Period:
    name: str
    result: goal.GoalResult
    risk: np.ndarray
    abusive: np.ndarray
    cashback: np.ndarray


def measure_periods(
    scorers: list[Scorer], months: int, customers: int, progress: Callable[[str], None]
) -> list[list[Period]]:
    """Each Goal period simulated once and its last month decided by every scorer (the
    shipped decision: lists, rules, model); one list of periods per scorer."""
    out: list[list[Period]] = [[] for _ in scorers]
    for name, config in goal.periods(months, customers):
        progress(f"goal period {name}...")
        traffic = simulate(config)
        kinds = traffic.kinds()
        begin = traffic.end - MONTH
        steps = [step for step in replay(traffic) if step.now >= begin]
        ids = [step.purchase.customer_id for step in steps]
        kind = np.asarray([kinds[c] for c in ids])
        cashback = np.asarray([step.purchase.cashback for step in steps], dtype=np.int64)
        abusive = np.isin(kind, ABUSE_KINDS)
        for index, scorer in enumerate(scorers):
            decisions = [decide(s.facts, s.aggregates, s.shared, s.now, scorer) for s in steps]
            held = np.asarray([d.would_be != "allow" for d in decisions])
            risk = np.asarray([d.score for d in decisions], dtype=np.float64)
            result = goal.measure(name, kind, ids, cashback, held)
            out[index].append(Period(name, result, risk, abusive, cashback))
    return out


def _pct(value: float, digits: int = 1) -> str:
    return "n/a" if value != value else f"{value:.{digits}%}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|---" + "|--:" * (len(header) - 1) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def goal_table(periods: list[Period], compared: list[Period] | None) -> list[str]:
    rows = []
    for label, group in (("this model", periods), ("current model", compared or [])):
        for p in group:
            r = p.result
            rows.append(
                [
                    f"{p.name}, {label}",
                    f"{r.honest_held}/{r.honest_customers} ({_pct(r.honest_share, 2)})",
                    f"{money(r.stopped)} of {money(r.abusive_cashback)} ({_pct(r.stopped_share)})",
                ]
                + [_pct(r.kind_share(k), 0) for k in ABUSE_KINDS]
            )
    return _table(
        ["Period", "Honest customers held", "Abusive cashback stopped"]
        + [k.replace("_", " ") for k in ABUSE_KINDS],
        rows,
    )


def plot_queue(period: Period, labels: Labels, scorer: Scorer, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = np.argsort(-period.risk)
    hits = np.cumsum(period.abusive[order])
    share = np.arange(1, len(order) + 1) / len(order)
    keep = share <= 0.08
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.plot(share[keep], (hits / np.arange(1, len(order) + 1))[keep], label="precision (truth)")
    stopped = np.cumsum((period.cashback * period.abusive)[order]) / max(
        1, int(period.cashback[period.abusive].sum())
    )
    ax.plot(share[keep], stopped[keep], label="abusive cashback stopped")
    if len(labels):
        risk = scorer.risk_samples(labels.X)
        points = goal.queue_precision(
            period.risk, period.abusive, period.cashback, 0.0, risk, labels.rejected
        )
        ax.plot(
            [p["share"] for p in points[:-1]],
            [p["label_precision"] for p in points[:-1]],
            "o",
            label="precision (held-out labels)",
        )
    review = Thresholds.from_metadata(scorer.metadata).review
    ax.axvline(
        float((period.risk >= review).mean()), color="0.5", linestyle="--", label="review threshold"
    )
    ax.set_xlabel("share of purchases queued (riskiest first)")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"The queue at each threshold: {period.name.split(' (')[0]} period")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def section(
    scorer: Scorer,
    periods: list[Period],
    compared: list[Period] | None,
    labels: Labels | None,
    artifacts: Path,
) -> tuple[list[str], list[tuple[str, bool]]]:
    """The report's lines and the Goal's checks (this model's)."""
    test = labels.rows(held_out(labels.order_ids)) if labels is not None else None
    checks = [check for p in periods for check in p.result.checks()]
    lines = [
        "## Goal (issue 11): unseen and shifted periods",
        "",
        goal.__doc__.split("\n\n", 1)[1].strip() if goal.__doc__ else "",
        "",
        *goal_table(periods, compared),
        "",
        *[f"- [{'x' if ok else ' '}] {text}" for text, ok in checks],
        "",
    ]
    if test is not None:
        agree = goal.agreement(scorer, test)
        lines += _labels_lines(scorer, periods[0], test, agree, artifacts)
    return lines, checks


def _labels_lines(
    scorer: Scorer, period: Period, test: Labels, agree: dict[str, Any], artifacts: Path
) -> list[str]:
    plot_queue(period, test, scorer, artifacts / PLOT)
    supervised = scorer.metadata.get("supervised") or {}
    rows = goal.queue_precision(
        period.risk,
        period.abusive,
        period.cashback,
        Thresholds.from_metadata(scorer.metadata).review,
        scorer.risk_samples(test.X),
        test.rejected,
    )
    lines = [
        "## Agreement with the analysts (held-out labels)",
        "",
        f"{agree['cases']} labelled cases held out of training (a fifth, by order id); the "
        f"supervised layer learned from {supervised.get('labels', {}).get('training', 0)}. "
        "The model agrees when it would hold a case the analyst rejected or let through one "
        "the analyst approved.",
        "",
    ]
    if agree["cases"]:
        lines += _table(
            [
                "Agreement",
                "Held, rejected",
                "Held, approved",
                "Passed, rejected",
                "Passed, approved",
            ],
            [
                [
                    _pct(agree["agreement"]),
                    str(agree["held_rejected"]),
                    str(agree["held_approved"]),
                    str(agree["passed_rejected"]),
                    str(agree["passed_approved"]),
                ]
            ],
        )
    lines += [
        "",
        "## The queue's precision at each threshold",
        "",
        f"On the {period.name} period: the queue at each threshold (purchases at or above "
        "it), its precision against the truth and against the held-out labels (labelled "
        "cases at or above it that the analyst rejected), and the abusive cashback it stops.",
        "",
        *_table(
            [
                "Threshold",
                "Risk",
                "Queue share",
                "Precision (truth)",
                "Precision (labels)",
                "Labelled",
                "Stopped",
            ],
            [
                [
                    r["name"],
                    f"{r['threshold']:.4f}",
                    _pct(r["share"], 2),
                    _pct(r["precision"]),
                    _pct(r["label_precision"]),
                    str(r["labelled"]),
                    _pct(r["stopped"]),
                ]
                for r in rows
            ],
        ),
        "",
        f"![The queue at each threshold]({PLOT})",
        "",
    ]
    return lines
