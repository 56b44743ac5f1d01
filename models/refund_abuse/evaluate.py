"""Evaluate the exported model on a held-out simulated month and write the report.

    python -m models.refund_abuse.evaluate [--seed 11]

The held-out traffic comes from another seed than training (other customers, other
abusers, other campaigns); its earlier months only build the aggregates and its last month
is scored. Four ways of deciding are compared on that month:

* the rules baseline: hold when at least half of the amount of the last 90 days' orders
  was refunded (two refunded orders at least), the rule a risk team writes first;
* the readable rules alone (cashback.domain.risk.reasons.RULES);
* the model alone at its thresholds (2% review budget on the training traffic);
* the shipped decision: lists, readable rules, then the model.

Metrics per purchase (an abuser's purchase is a positive): review share, precision, recall,
PR-AUC, false-hold rate (honest purchases held), and per customer: abusers caught (at least
one purchase held in the month), honest customers held at least once. "Cashback kept" is
the cashback of abusers' purchases that was held or blocked instead of credited.

A masking stress test retrains on training traffic flooded with copies of abusive rows, with
and without the training guards, to show what the guards are for.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve

from cashback.domain.risk import clear_cache, load_estimator, load_scorer
from cashback.domain.risk.decision import Decision, Thresholds, decide
from cashback.domain.risk.features import FEATURE_DESCRIPTIONS, FEATURE_NAMES
from cashback.domain.risk.scorer import Scorer
from cashback_tools.model_cli import parser_for
from models.refund_abuse import ARTIFACTS, MODEL_LAYER, goal_report, labelled, money
from models.refund_abuse.replay import Dataset, dataset, replay
from models.refund_abuse.simulator import (
    ABUSE_KINDS,
    HONEST_KINDS,
    MONTH,
    SimulationConfig,
    Traffic,
    simulate,
)
from models.refund_abuse.train import (
    Guards,
    TrainConfig,
    fit,
    risk_scores,
    thresholds,
    training_sample,
    training_window,
)

BASELINE_SHARE = 0.5
BASELINE_MIN_REFUNDED = 2
CAUGHT_BAR = 0.5  # a kind is "caught" when at least half its customers are held
FALSE_HOLD_BAR = 0.01
REFUNDED_SHARE = FEATURE_NAMES.index("refunded_share_90d")
REFUNDED_ORDERS = FEATURE_NAMES.index("refunded_orders_90d_log1p")


@dataclass(frozen=True)
class Method:
    """One way of deciding, applied to every purchase of the evaluated month."""

    name: str
    held: np.ndarray  # review or block
    blocked: np.ndarray
    score: np.ndarray  # ranks purchases for the PR curve; higher is riskier


@dataclass(frozen=True)
class Month:
    """The evaluated month: its rows and, per purchase, what each method did."""

    data: Dataset
    risk: np.ndarray
    decisions: list[Decision]
    rules_only: list[Decision]

    @property
    def abusive(self) -> np.ndarray:
        return np.isin(self.data.kinds, ABUSE_KINDS)


def evaluated_month(traffic: Traffic, scorer: Scorer) -> Month:
    """Features, risk and decisions for the last month of `traffic`."""
    begin = traffic.end - MONTH
    data = dataset(traffic)
    month = data.rows(data.days >= (begin - traffic.start).days)
    decisions, rules_only = [], []
    for step in replay(traffic):
        if step.now < begin:
            continue
        decisions.append(decide(step.facts, step.aggregates, step.shared, step.now, scorer))
        rules_only.append(decide(step.facts, step.aggregates, step.shared, step.now, None))
    return Month(month, scorer.risk_samples(month.X), decisions, rules_only)


def methods(month: Month, scorer: Scorer) -> list[Method]:
    X = month.data.X
    enough_refunds = math.log1p(BASELINE_MIN_REFUNDED)
    baseline = (X[:, REFUNDED_SHARE] >= BASELINE_SHARE) & (X[:, REFUNDED_ORDERS] >= enough_refunds)
    limits = Thresholds.from_metadata(scorer.metadata)

    def from_decisions(decisions: list[Decision], score: np.ndarray) -> tuple[np.ndarray, ...]:
        held = np.asarray([d.would_be != "allow" for d in decisions])
        blocked = np.asarray([d.would_be == "block" for d in decisions])
        fired = np.asarray([bool(d.rules_fired) for d in decisions], dtype=float)
        return held, blocked, score + fired

    rules_held, rules_blocked, rules_score = from_decisions(month.rules_only, np.zeros(len(X)))
    shipped_held, shipped_blocked, shipped_score = from_decisions(month.decisions, month.risk)
    return [
        Method(
            f"Rules baseline (refunded >= {BASELINE_SHARE:.0%} of 90 days' orders)",
            baseline,
            np.zeros(len(X), dtype=bool),
            X[:, REFUNDED_SHARE] * (X[:, REFUNDED_ORDERS] >= enough_refunds),
        ),
        Method("Readable rules only", rules_held, rules_blocked, rules_score),
        Method(
            "Model alone (forest + supervised layer)"
            if scorer.supervised
            else "Model alone (isolation forest)",
            month.risk >= limits.review,
            month.risk >= limits.block,
            month.risk,
        ),
        Method("Shipped decision (rules + model)", shipped_held, shipped_blocked, shipped_score),
    ]


def _ap(positive: np.ndarray, score: np.ndarray) -> float:
    return float(average_precision_score(positive, score)) if positive.any() else float("nan")


def summary(month: Month, method: Method) -> dict[str, Any]:
    data, abusive, held = month.data, month.abusive, method.held
    customers = np.asarray(data.customer_ids)
    honest_customers = set(customers[~abusive])
    held_honest_customers = set(customers[~abusive & held])
    return {
        "review_share": held.mean(),
        "block_share": method.blocked.mean(),
        "precision": (held & abusive).sum() / held.sum() if held.any() else float("nan"),
        "recall": (held & abusive).sum() / abusive.sum(),
        "pr_auc": _ap(abusive, method.score),
        "false_hold": (held & ~abusive).sum() / (~abusive).sum(),
        "honest_customers_held": len(held_honest_customers) / len(honest_customers),
        "kept": int(data.cashback[held & abusive].sum()),
        "abusive_cashback": int(data.cashback[abusive].sum()),
    }


def per_kind(month: Month, method: Method, kind: str) -> dict[str, Any]:
    data, held = month.data, method.held
    mine = data.kinds == kind
    customers = np.asarray(data.customer_ids)
    everyone = set(customers[mine])
    caught = set(customers[mine & held])
    versus_honest = mine | ~month.abusive
    return {
        "purchases": int(mine.sum()),
        "customers": len(everyone),
        "caught": len(caught),
        "recall": held[mine].mean() if mine.any() else float("nan"),
        "pr_auc": _ap(mine[versus_honest], method.score[versus_honest]),
        "kept": int(data.cashback[mine & held].sum()),
    }


# -- masking stress test --------------------------------------------------------------------


@dataclass(frozen=True)
class StressResult:
    name: str
    sample_rows: int
    flooded_rows: int
    per_kind: dict[str, tuple[float, int, int]]
    false_hold: float


def flooded(window: Dataset, kinds: tuple[str, ...], copies: int) -> tuple[Dataset, int]:
    """The training window with every row of the (unconfirmed) abusers of `kinds` repeated
    `copies` more times: a bot or ring replaying one pattern until it looks normal."""
    flood = np.flatnonzero(np.isin(window.kinds, kinds) & ~window.known_abuser)
    index = np.concatenate([np.arange(len(window))] + [flood] * copies)
    rows = replace(
        window,
        X=window.X[index],
        order_ids=[window.order_ids[i] for i in index],
        customer_ids=[window.customer_ids[i] for i in index],
        kinds=window.kinds[index],
        months=window.months[index],
        days=window.days[index],
        cashback=window.cashback[index],
        devices=[window.devices[i] for i in index],
        payments=[window.payments[i] for i in index],
        known_abuser=window.known_abuser[index],
    )
    return rows, len(flood) * copies


def stress_test(
    month: Month,
    config: TrainConfig,
    kinds: tuple[str, ...] = ("serial_refunder", "velocity_burst"),
    copies: int = 40,
) -> list[StressResult]:
    window = training_window(dataset(simulate(config.simulation())), config.warmup_months)
    flood, added = flooded(window, kinds, copies)
    results = []
    for name, guards in (("guards on", Guards()), ("guards off", Guards.off())):
        index, stats = training_sample(flood, guards, config.seed)
        estimator = fit(flood.X[index], config)
        limit = thresholds(
            risk_scores(estimator, window.X), config.review_share, config.block_share
        )["review"]
        held = risk_scores(estimator, month.data.X) >= limit
        method = Method(name, held, held, held.astype(float))
        kinds_out = {}
        for kind in ABUSE_KINDS:
            row = per_kind(month, method, kind)
            kinds_out[kind] = (row["recall"], row["caught"], row["customers"])
        results.append(
            StressResult(
                name, stats.sample_rows, added, kinds_out, summary(month, method)["false_hold"]
            )
        )
    return results


# -- plots ----------------------------------------------------------------------------------


def plot_scores(month: Month, limits: Thresholds, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    bins = np.linspace(min(0.3, float(month.risk.min())), max(0.85, float(month.risk.max())), 60)
    ax.hist(
        month.risk[~month.abusive],
        bins=bins,
        density=True,
        histtype="stepfilled",
        color="0.8",
        label="honest",
    )
    for kind in ABUSE_KINDS:
        mine = month.data.kinds == kind
        if mine.any():
            ax.hist(
                month.risk[mine],
                bins=bins,
                density=True,
                histtype="step",
                linewidth=1.4,
                label=kind.replace("_", " "),
            )
    ax.axvline(limits.review, color="tab:orange", linestyle="--", label="review threshold")
    ax.axvline(limits.block, color="tab:red", linestyle="--", label="block threshold")
    ax.set_yscale("log")
    ax.set_xlabel("risk score (higher is riskier)")
    ax.set_ylabel("density (log)")
    ax.set_title("Risk scores on the held-out month")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_pr(month: Month, all_methods: list[Method], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2))
    for method in all_methods:
        precision, recall, _ = precision_recall_curve(month.abusive, method.score)
        (line,) = ax.step(
            recall,
            precision,
            where="post",
            linewidth=1.3,
            label=f"{method.name.split(' (')[0]} (AP {_ap(month.abusive, method.score):.2f})",
        )
        held = method.held
        if held.any():
            point = (
                (held & month.abusive).sum() / month.abusive.sum(),
                (held & month.abusive).sum() / held.sum(),
            )
            ax.plot(*point, "o", color=line.get_color())
    ax.set_xlabel("recall (abusers' purchases)")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title("Precision-recall, held-out month (dots: operating points)")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# -- the report -----------------------------------------------------------------------------


def _pct(value: float, digits: int = 1) -> str:
    return "n/a" if value != value else f"{value:.{digits}%}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i == 0 else "--:" for i in range(len(header))) + "|",
    ]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def headline_table(month: Month, all_methods: list[Method]) -> list[str]:
    rows = []
    for method in all_methods:
        s = summary(month, method)
        rows.append(
            [
                method.name,
                _pct(s["review_share"], 2),
                _pct(s["block_share"], 2),
                _pct(s["precision"]),
                _pct(s["recall"]),
                f"{s['pr_auc']:.3f}",
                _pct(s["false_hold"], 2),
                _pct(s["honest_customers_held"], 2),
                f"{money(s['kept'])} ({_pct(s['kept'] / s['abusive_cashback'], 0)})",
            ]
        )
    return _table(
        [
            "Method",
            "Held",
            "Blocked",
            "Precision",
            "Recall",
            "PR-AUC",
            "False-hold rate",
            "Honest customers held",
            "Cashback kept from abusers",
        ],
        rows,
    )


def kinds_table(month: Month, all_methods: list[Method]) -> list[str]:
    baseline, _, model, shipped = all_methods
    rows = []
    for kind in ABUSE_KINDS:
        b, m, s = (per_kind(month, x, kind) for x in (baseline, model, shipped))
        rows.append(
            [
                kind.replace("_", " "),
                str(m["purchases"]),
                str(m["customers"]),
                f"{b['caught']} ({_pct(b['recall'], 0)})",
                f"{m['caught']} ({_pct(m['recall'], 0)})",
                f"{m['pr_auc']:.2f}",
                f"{s['caught']} ({_pct(s['recall'], 0)})",
                f"{s['pr_auc']:.2f}",
                money(m["kept"]),
                money(s["kept"]),
            ]
        )
    return _table(
        [
            "Abuse kind",
            "Purchases",
            "Customers",
            "Baseline: caught (recall)",
            "Model: caught (recall)",
            "Model PR-AUC",
            "Shipped: caught (recall)",
            "Shipped PR-AUC",
            "Kept (model)",
            "Kept (shipped)",
        ],
        rows,
    )


def honest_table(month: Month, all_methods: list[Method]) -> list[str]:
    rows = []
    for kind in HONEST_KINDS:
        mine = month.data.kinds == kind
        rows.append(
            [kind.replace("_", " "), str(int(mine.sum()))]
            + [_pct(m.held[mine].mean(), 2) for m in all_methods]
        )
    return _table(["Honest kind", "Purchases"] + [m.name.split(" (")[0] for m in all_methods], rows)


def checks(month: Month, all_methods: list[Method]) -> list[tuple[str, bool]]:
    baseline, _, model, shipped = all_methods
    out = []
    for method in (model, shipped):
        s, b = summary(month, method), summary(month, baseline)
        caught = [per_kind(month, method, k) for k in ABUSE_KINDS]
        out += [
            (
                f"{method.name}: every abuse kind caught (>= {CAUGHT_BAR:.0%} of its customers "
                "held at least once)",
                all(c["customers"] and c["caught"] / c["customers"] >= CAUGHT_BAR for c in caught),
            ),
            (
                f"{method.name}: review share within the 2% budget (+/- 0.5 point)",
                s["review_share"] <= 0.025,
            ),
            (
                f"{method.name}: false-hold rate on honest purchases under {FALSE_HOLD_BAR:.0%}",
                s["false_hold"] < FALSE_HOLD_BAR,
            ),
            (
                f"{method.name}: beats the rules baseline on recall, PR-AUC and cashback kept",
                s["recall"] > b["recall"] and s["pr_auc"] > b["pr_auc"] and s["kept"] > b["kept"],
            ),
        ]
    return out


def report(
    month: Month,
    traffic: Traffic,
    scorer: Scorer,
    all_methods: list[Method],
    stress: list[StressResult] | None,
    max_difference: tuple[float, float | None],
    issue11: list[str] | None = None,
) -> str:
    meta = scorer.metadata
    limits = Thresholds.from_metadata(meta)
    training = meta["training_data"]
    lines = [
        "# Refund-abuse model: evaluation",
        "",
        "Generated by `python -m models.refund_abuse.evaluate`; do not edit by hand.",
        "",
        f"Model `{scorer.model_version}`: {meta['estimator']['n_estimators']} trees of "
        f"{meta['estimator']['max_samples']} rows, {len(FEATURE_NAMES)} features, trained on "
        f"simulator seed {training['traffic']['seed']}. Held-out traffic: simulator seed "
        f"{traffic.seed}, last month ({month.data.X.shape[0]:,} purchases, "
        f"{month.abusive.mean():.1%} of them by abusers, "
        f"{len(set(month.data.customer_ids)):,} customers); its earlier months only build "
        "the aggregates.",
        "",
        f"Thresholds (from the analysts' capacity, on the training traffic"
        f"{', tuned by their labels' if 'from_labels' in meta['thresholds'] else ''}): review "
        f"at risk >= {limits.review:.4f} ({meta['thresholds']['review_share']:.1%} of "
        f"purchases at most), block at >= {limits.block:.4f} "
        f"({meta['thresholds']['block_share']:.1%}). Risk: {meta['score']}.",
        "",
        *(issue11 or []),
        "## Overall",
        "",
        "Held = share of all purchases sent to review or blocked (Blocked: of which "
        "blocked). Precision, recall and "
        "PR-AUC treat every purchase by an abuser as a positive. False-hold rate = honest "
        "purchases held / honest purchases. Cashback kept = cashback of abusers' purchases "
        "held or blocked instead of credited (minor units shown as amounts). For the "
        "PR-AUC of rule-based methods, purchases a rule fired on rank first (the shipped "
        "decision then ranks by risk).",
        "",
        *headline_table(month, all_methods),
        "",
        "## Per abuse kind",
        "",
        "Caught = customers of that kind with at least one purchase held in the month; "
        "recall is per purchase (an abuser's first purchases often look like anyone's). "
        "PR-AUC per kind ranks that kind's purchases against honest ones.",
        "",
        *kinds_table(month, all_methods),
        "",
        "## The hard honest cases",
        "",
        "Share of each honest kind's purchases held:",
        "",
        *honest_table(month, all_methods),
        "",
        "## Quality bar (issue 3)",
        "",
        *[f"- [{'x' if ok else ' '}] {text}" for text, ok in checks(month, all_methods)],
        "",
        "## Plots",
        "",
        "![Risk score distribution](score_distribution.png)",
        "",
        "![Precision-recall curves](pr_curve.png)",
        "",
        "## Features (lean on purpose)",
        "",
        "An isolation forest picks a random feature at every split, so each irrelevant "
        "feature dilutes the splits that matter. Every feature below names a behaviour an "
        "analyst would check; counts and ages go through log1p so random splits land where "
        "differences matter. Refund behaviour is counted (refunds within 3 days, refunds "
        "after the cashback became spendable) rather than given as a median delay or a "
        "share alone: one late return of one order would otherwise look exactly like a "
        "habit, and 'no refunds' would need an arbitrary fill value for the median.",
        "",
        *_table(
            ["Feature", "Meaning"],
            [[f"`{name}`", FEATURE_DESCRIPTIONS[name]] for name in FEATURE_NAMES],
        ),
        "",
        "## Guarding against masking",
        "",
        "A fraud ring or a bot repeating one abusive pattern makes it dense in the "
        "training data, and an isolation forest then learns it as normal. Training guards:",
        "",
        f"- train on data believed clean: purchases of customers analysts already confirmed "
        f"as abusers are left out ({training['left_out_known_abuser_rows']:,} rows here);",
        f"- near-identical rows of one customer (features rounded to one decimal) count once "
        f"({training['near_duplicates_dropped']:,} dropped);",
        f"- caps: {training['guards']['per_customer']} rows per customer, "
        f"{training['guards']['per_customer_day']} per customer per day, "
        f"{training['guards']['per_identity']} per device or payment fingerprint "
        f"({training['capped_rows_dropped']:,} dropped);",
        f"- each tree sees only {meta['estimator']['max_samples']} of the "
        f"{training['sample_rows']:,} sample rows.",
        "",
    ]
    if stress:
        lines += [
            f"Stress test: the training traffic flooded with {stress[0].flooded_rows:,} "
            "copies of unconfirmed serial refunders' and velocity bursters' rows, then "
            "trained with and without the guards (same thresholds rule, same held-out "
            "month). Caught customers and purchase recall per kind:",
            "",
            *_table(
                ["Training", "Sample rows"]
                + [k.replace("_", " ") for k in ABUSE_KINDS]
                + ["False-hold rate"],
                [
                    [r.name, f"{r.sample_rows:,}"]
                    + [
                        f"{caught}/{total} ({_pct(recall, 0)})"
                        for recall, caught, total in r.per_kind.values()
                    ]
                    + [_pct(r.false_hold, 2)]
                    for r in stress
                ],
            ),
            "",
        ]
    lines += [
        "## Runtime scorer",
        "",
        "The numpy scorer (`cashback.domain.risk.load_scorer()`) against sklearn's "
        "`score_samples` "
        f"on the skops-saved estimator, over the {month.data.X.shape[0]:,} evaluated rows: "
        f"largest difference {max_difference[0]:.1e}"
        + (
            "."
            if max_difference[1] is None
            else "; its supervised layer's risk against the skops-saved classifier's "
            f"`predict_proba`: largest difference {max_difference[1]:.1e}."
        ),
        "",
        f"Libraries: {', '.join(f'{k} {v}' for k, v in meta['libraries'].items())}; "
        f"evaluated on {platform.platform()}.",
        "",
        "## Reproduce",
        "",
        "```",
        "python -m models.refund_abuse.train",
        "python -m models.refund_abuse.evaluate",
        "```",
        "",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace, progress: Callable[[str], None] = print) -> int:
    model_dir, artifacts = args.model_dir or MODEL_LAYER, args.artifacts or ARTIFACTS
    clear_cache()
    scorer = load_scorer(model_dir)
    traffic = simulate(
        SimulationConfig(seed=args.seed, months=args.months, honest_customers=args.customers)
    )
    progress(f"held-out traffic: {traffic.summary()['events']}")
    month = evaluated_month(traffic, scorer)
    max_difference = runtime_differences(scorer, artifacts, month.data.X)
    all_methods = methods(month, scorer)
    stress = None
    if not args.skip_stress:
        progress("masking stress test (two extra fits)...")
        meta = scorer.metadata
        config = TrainConfig(
            seed=meta["estimator"]["random_state"],
            months=args.months,
            customers=args.customers,
            trees=meta["estimator"]["n_estimators"],
            max_samples=meta["estimator"]["max_samples"],
        )
        stress = stress_test(month, config)
    artifacts.mkdir(parents=True, exist_ok=True)
    plot_scores(
        month, Thresholds.from_metadata(scorer.metadata), artifacts / "score_distribution.png"
    )
    plot_pr(month, all_methods, artifacts / "pr_curve.png")
    issue11 = None
    if not args.skip_goal:
        issue11 = issue11_section(args, scorer, artifacts, progress)
    text = report(month, traffic, scorer, all_methods, stress, max_difference, issue11)
    (artifacts / "report.md").write_text(text)
    progress(text)
    return 0 if all(ok for _, ok in checks(month, all_methods)) else 1


def runtime_differences(
    scorer: Scorer, artifacts: Path, X: np.ndarray
) -> tuple[float, float | None]:
    """The numpy scorer against the skops-saved scikit-learn estimators: the forest's
    score, and the supervised layer's probability when the model has one."""
    from models.refund_abuse.supervised import probability
    from models.refund_abuse.train import SUPERVISED_FILE

    estimator = load_estimator(artifacts / "estimator.skops")
    forest = float(np.abs(estimator.score_samples(X) - scorer.score_samples(X)).max())
    if not scorer.supervised:
        return forest, None
    layer = load_estimator(artifacts / SUPERVISED_FILE)
    reference = probability(layer, -estimator.score_samples(X), X)
    return forest, float(np.abs(reference - scorer.risk_samples(X)).max())


def issue11_section(
    args: argparse.Namespace, scorer: Scorer, artifacts: Path, progress: Callable[[str], None]
) -> list[str]:
    """The Goal on unseen and shifted periods (and the current model's, to compare), the
    agreement with held-out labels and the queue's precision."""
    scorers = [scorer]
    if args.compare_model_dir:
        clear_cache()
        scorers.append(load_scorer(args.compare_model_dir))
    periods, *others = goal_report.measure_periods(scorers, args.months, args.customers, progress)
    compared = others[0] if others else None
    labels = labelled.load(args.labels) if args.labels else None
    lines, _ = goal_report.section(scorer, periods, compared, labels, artifacts)
    return lines


def main(argv: list[str] | None = None) -> int:
    return run(parser_for("evaluate").parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
