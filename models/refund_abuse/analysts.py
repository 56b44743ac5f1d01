"""Simulated analysts: they work the review queue of simulated months and decide each case
with some error, writing labels in the shape `cashback model labels` exports (issue 11).

The queue is what the given model and the readable rules would send to review (the
shipped decision, `would_be == "review"`); blocked purchases open no case. An analyst
rejects an abuser's case and approves an honest customer's, each wrong with probability
`error_rate`, and closes it with the reason an analyst would give for that kind of abuse
(`legitimate` when approving). So training with labels is testable and demonstrable without
a deployment:

    python -m models.refund_abuse.analysts --seed 7 --out labels.jsonl
    cashback model train --labels labels.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from cashback.domain.clock import to_iso
from cashback.domain.risk import clear_cache, load_scorer
from cashback.domain.risk.decision import decide
from cashback.domain.risk.scorer import Scorer
from cashback_tools.labels import label_row, write_labels
from models.refund_abuse import MODEL_LAYER
from models.refund_abuse.replay import Step, replay
from models.refund_abuse.simulator import MONTH, SimulationConfig, Traffic, simulate

CLOSE_REASONS: Mapping[str, str] = {
    "serial_refunder": "refund_abuse",
    "refund_churn": "refund_abuse",
    "redeem_then_refund": "refund_abuse",
    "velocity_burst": "velocity",
    "account_farming": "account_farming",
}
ANALYSTS = ("ana", "bo", "chen")
TENANT = "simulated"


@dataclass(frozen=True)
class Analysts:
    error_rate: float = 0.05
    months: int = 4  # the last N months of the traffic are reviewed
    seed: int = 0xA7
    tenant: str = TENANT


def queue(traffic: Traffic, scorer: Scorer, since: datetime) -> Iterator[tuple[Step, Any]]:
    """Purchases from `since` that the shipped decision sends to review, with the decision."""
    for step in replay(traffic):
        if step.now < since:
            continue
        decision = decide(step.facts, step.aggregates, step.shared, step.now, scorer)
        if decision.would_be == "review":
            yield step, decision


def _verdict(kind: str, rng: np.random.Generator, error_rate: float) -> tuple[str, str]:
    abusive = kind in CLOSE_REASONS
    if rng.random() < error_rate:
        abusive = not abusive
    if not abusive:
        return "approve", "legitimate"
    return "reject", CLOSE_REASONS.get(kind, "other")


def simulated_labels(traffic: Traffic, scorer: Scorer, analysts: Analysts) -> list[dict[str, Any]]:
    """One label per reviewed case, decided within two days of the purchase."""
    kinds = traffic.kinds()
    rng = np.random.default_rng([analysts.seed, traffic.seed or 0])
    rows = []
    for step, decision in queue(traffic, scorer, traffic.end - analysts.months * MONTH):
        p = step.purchase
        verdict, reason = _verdict(kinds.get(p.customer_id, "unknown"), rng, analysts.error_rate)
        analyst = str(rng.choice(ANALYSTS))
        decided = to_iso(p.at + timedelta(hours=float(rng.uniform(0.2, 48))))
        order = {
            "tenant": analysts.tenant,
            "order_id": p.order_id,
            "customer_id": p.customer_id,
            "occurred_at": to_iso(p.at),
            "amount": p.amount,
            "cashback": p.cashback,
            "risk": decision.to_record() | {"features": [f"{x:.6g}" for x in decision.features]},
            "decision": {"decision": verdict, "reason": reason, "by": analyst, "at": decided},
        }
        notes = []
        if rng.random() < 0.2:
            notes.append({"by": analyst, "at": decided, "text": f"closed as {reason}"})
        rows.append(label_row(order, notes))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.refund_abuse.analysts", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seed", type=int, default=7, help="simulator seed of the traffic")
    parser.add_argument("--months", type=int, default=5, help="months to simulate")
    parser.add_argument("--customers", type=int, default=10000, help="honest customers")
    parser.add_argument("--reviewed-months", type=int, default=4, help="last N months reviewed")
    parser.add_argument("--error-rate", type=float, default=0.05, help="share of wrong decisions")
    parser.add_argument("--model-dir", type=Path, help="the model that fills the queue")
    parser.add_argument("--out", type=Path, required=True, help="labels (JSON lines)")
    args = parser.parse_args(argv)
    clear_cache()
    scorer = load_scorer(args.model_dir or MODEL_LAYER)
    traffic = simulate(
        SimulationConfig(seed=args.seed, months=args.months, honest_customers=args.customers)
    )
    analysts = Analysts(error_rate=args.error_rate, months=args.reviewed_months)
    rows = simulated_labels(traffic, scorer, analysts)
    with args.out.open("w") as out:
        write_labels(rows, out)
    rejected = sum(row["decision"] == "reject" for row in rows)
    print(json.dumps({"labels": len(rows), "rejected": rejected, "out": str(args.out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
