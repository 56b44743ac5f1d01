"""The reports as pictures (matplotlib, no display): liability over time by state, and
breakage by earning-month cohort."""

from __future__ import annotations

from pathlib import Path
from typing import Any

STATE_COLOURS = {
    "pending": "#9ecae1",
    "available": "#3182bd",
    "held": "#fdae6b",
    "reserved": "#756bb1",
}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def liability(report: dict[str, Any], path: Path) -> None:
    """What the program owes at the end of each period (bars), and by state (lines), in
    currency units; what it issued in each period (dashed)."""
    plt = _pyplot()
    periods = report["periods"]
    labels = [p["end"] if report["granularity"] == "day" else p["start"][:7] for p in periods]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.bar(labels, [p["closing"] / 100 for p in periods], color="#d9d9d9", label="owed (closing)")
    for state, colour in STATE_COLOURS.items():
        values = [p["closing_by_state"][state] / 100 for p in periods]
        ax.plot(labels, values, color=colour, marker=".", label=state)
    issued = [p["issued"] / 100 for p in periods]
    ax.plot(labels, issued, color="#31a354", linestyle="--", label="issued in the period")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_title(f"Cashback liability of {report['tenant']} at the end of each period")
    ax.set_ylabel("currency units")
    ax.legend(loc="upper right", fontsize=8)
    step = max(1, len(labels) // 12)
    ax.set_xticks(range(0, len(labels), step), labels[::step], rotation=30, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def breakage(report: dict[str, Any], path: Path) -> None:
    """Each earning month's cashback: redeemed, expired, taken back and outstanding, with
    its breakage rate."""
    plt = _pyplot()
    cohorts = report["breakage"]["cohorts"]
    months = [c["month"] for c in cohorts]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    bottom = [0.0] * len(cohorts)
    for part, colour in (
        ("redeemed", "#3182bd"),
        ("expired", "#de2d26"),
        ("clawed_back", "#969696"),
        ("outstanding", "#9ecae1"),
    ):
        values = [c[part] / 100 for c in cohorts]
        ax.bar(months, values, bottom=bottom, label=part.replace("_", " "), color=colour)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    rates = ax.twinx()
    rates.plot(
        months,
        [float(c["breakage_rate"] or 0) * 100 for c in cohorts],
        color="black",
        marker="o",
        label="breakage rate",
    )
    rates.set_ylabel("breakage rate (%)")
    expected = report["breakage"]["expected_rate"]
    title = "Breakage by earning month"
    if expected is not None:
        title += f" (closed cohorts: {float(expected) * 100:.1f}%)"
    ax.set_title(title)
    ax.set_ylabel("currency units")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def experiments(report: dict[str, Any], path: Path) -> None:
    """Each experiment's revenue per customer, variant by variant, and each variant's lift
    over the holdout with its 95% interval."""
    plt = _pyplot()
    shown = report["experiments"]
    fig, axes = plt.subplots(1, max(1, len(shown)), figsize=(4.5 * max(1, len(shown)), 4.5))
    for ax, experiment in zip(list(axes) if len(shown) > 1 else [axes], shown, strict=False):
        variants = experiment["variants"]
        names = [v["name"] for v in variants]
        values = [(v["revenue_per_customer"] or 0) / 100 for v in variants]
        colours = ["#969696" if v["holdout"] else "#3182bd" for v in variants]
        ax.bar(names, values, color=colours)
        holdout = next((v for v in variants if v["holdout"]), None)
        for lift in experiment["against_holdout"]:
            at = names.index(lift["variant"])
            base = (holdout["revenue_per_customer"] or 0) / 100 if holdout else 0
            low, high = (base + bound / 100 for bound in lift["interval_95"])
            ax.errorbar(
                at,
                values[at],
                yerr=[[values[at] - low], [high - values[at]]],
                color="black",
                capsize=6,
                label="holdout + lift, 95% interval",
            )
        ax.set_title(f"{experiment['id']}: revenue per customer")
        ax.set_ylabel("currency units")
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
