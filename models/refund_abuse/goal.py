"""The issue 11 Goal, measured: honest customers held, abusive cashback stopped, and each
abuse kind's share stopped, on simulated periods training never saw; the analysts'
agreement with the model and the queue's precision at each threshold.

Two periods, each the last month of its own traffic (earlier months build the aggregates):

* *unseen*: another seed and another behaviour mix (more velocity bursters and serial
  refunders, fewer rings, more big spenders and campaign shoppers) than training;
* *shifted*: another seed again, the same mix as *unseen*, and every customer's behaviour
  parameters drawn outside the ranges training drew them from (`SimulationConfig.shift`).

"Stopped" is the cashback of abusers' purchases the shipped decision (lists, rules, model)
holds for review or blocks; "held" an honest customer with at least one purchase held in
the month, out of the honest customers who bought in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from cashback.domain.risk.decision import Thresholds
from cashback.domain.risk.scorer import Scorer
from models.refund_abuse.labelled import Labels
from models.refund_abuse.simulator import ABUSE_KINDS, SimulationConfig

HONEST_HELD_AT_MOST = 0.01
STOPPED_AT_LEAST = 0.90
EACH_KIND_AT_LEAST = 0.80
UNSEEN_SEED, SHIFTED_SEED = 29, 31
SHIFT = 1.0
MIX = {"regular": 0.62, "big_loyal": 0.08, "campaign_shopper": 0.18, "honest_returner": 0.12}
ABUSERS = {
    "serial_refunder": 30,
    "refund_churn": 15,
    "redeem_then_refund": 25,
    "velocity_burst": 60,
    "account_farming": 20,
}
QUEUE_SHARES = (0.005, 0.01, 0.015, 0.02, 0.03, 0.05)


def periods(months: int, customers: int) -> list[tuple[str, SimulationConfig]]:
    """The two Goal periods (see the module docstring)."""

    def config(seed: int, shift: float) -> SimulationConfig:
        return SimulationConfig(
            seed=seed,
            months=months,
            honest_customers=customers,
            honest_mix=MIX,
            abusers=ABUSERS,
            shift=shift,
        )

    return [
        (f"unseen (seed {UNSEEN_SEED}, other mix)", config(UNSEEN_SEED, 0.0)),
        (
            f"shifted (seed {SHIFTED_SEED}, parameters outside training ranges)",
            config(SHIFTED_SEED, SHIFT),
        ),
    ]


@dataclass(frozen=True)
class GoalResult:
    name: str
    honest_customers: int
    honest_held: int
    abusive_cashback: int
    stopped: int
    per_kind: Mapping[str, tuple[int, int, int, int]]  # stopped, cashback, caught, customers

    @property
    def honest_share(self) -> float:
        return self.honest_held / self.honest_customers if self.honest_customers else 0.0

    @property
    def stopped_share(self) -> float:
        return self.stopped / self.abusive_cashback if self.abusive_cashback else float("nan")

    def kind_share(self, kind: str) -> float:
        stopped, cashback, _, _ = self.per_kind[kind]
        return stopped / cashback if cashback else float("nan")

    def checks(self) -> list[tuple[str, bool]]:
        weakest = min(ABUSE_KINDS, key=self.kind_share)
        return [
            (
                f"{self.name}: at most {HONEST_HELD_AT_MOST:.0%} of honest customers held "
                f"({self.honest_share:.2%})",
                self.honest_share <= HONEST_HELD_AT_MOST,
            ),
            (
                f"{self.name}: at least {STOPPED_AT_LEAST:.0%} of the abusive cashback stopped "
                f"({self.stopped_share:.1%})",
                self.stopped_share >= STOPPED_AT_LEAST,
            ),
            (
                f"{self.name}: every abuse kind at least {EACH_KIND_AT_LEAST:.0%} stopped "
                f"(weakest: {weakest.replace('_', ' ')}, {self.kind_share(weakest):.1%})",
                all(self.kind_share(k) >= EACH_KIND_AT_LEAST for k in ABUSE_KINDS),
            ),
        ]


def measure(
    name: str, kinds: np.ndarray, customers: list[str], cashback: np.ndarray, held: np.ndarray
) -> GoalResult:
    """The Goal's numbers for one evaluated month (`held`: review or block, per purchase)."""
    ids = np.asarray(customers)
    abusive = np.isin(kinds, ABUSE_KINDS)
    honest = set(ids[~abusive & (kinds != "unknown")])
    per_kind = {}
    for kind in ABUSE_KINDS:
        mine = kinds == kind
        per_kind[kind] = (
            int(cashback[mine & held].sum()),
            int(cashback[mine].sum()),
            len(set(ids[mine & held])),
            len(set(ids[mine])),
        )
    return GoalResult(
        name,
        len(honest),
        len(set(ids[~abusive & held]) & honest),
        int(cashback[abusive].sum()),
        int(cashback[abusive & held].sum()),
        per_kind,
    )


def agreement(scorer: Scorer, labels: Labels) -> dict[str, Any]:
    """How often the model agrees with the analysts on held-out labelled cases: it agrees
    when it would hold (risk at or above its review threshold) a case the analyst rejected,
    or let through one the analyst approved."""
    if not len(labels):
        return {"cases": 0}
    held = scorer.risk_samples(labels.X) >= Thresholds.from_metadata(scorer.metadata).review
    rejected = labels.rejected
    return {
        "cases": len(labels),
        "agreement": float((held == rejected).mean()),
        "held_rejected": int((held & rejected).sum()),
        "held_approved": int((held & ~rejected).sum()),
        "passed_rejected": int((~held & rejected).sum()),
        "passed_approved": int((~held & ~rejected).sum()),
    }


def queue_precision(
    risk: np.ndarray,
    abusive: np.ndarray,
    cashback: np.ndarray,
    review: float,
    label_risk: np.ndarray,
    rejected: np.ndarray,
) -> list[dict[str, Any]]:
    """Per threshold (the queue shares of QUEUE_SHARES, and the model's own): the queue's
    share, its precision against the truth and against the held-out labels, and the
    abusive cashback it stops."""
    thresholds = [(f"{s:.1%} of purchases", float(np.quantile(risk, 1 - s))) for s in QUEUE_SHARES]
    thresholds.append(("the model's review threshold", review))
    out = []
    for name, threshold in sorted(thresholds, key=lambda t: -t[1]):
        queued, labelled = risk >= threshold, label_risk >= threshold
        out.append(
            {
                "name": name,
                "threshold": threshold,
                "share": float(queued.mean()),
                "precision": float(abusive[queued].mean()) if queued.any() else float("nan"),
                "label_precision": float(rejected[labelled].mean())
                if labelled.any()
                else float("nan"),
                "labelled": int(labelled.sum()),
                "stopped": float(
                    cashback[queued & abusive].sum() / max(1, cashback[abusive].sum())
                ),
            }
        )
    return out
