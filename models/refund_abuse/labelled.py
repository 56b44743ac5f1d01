"""Analysts' labels for training: read, split into training and held-out cases, and the
rule that tunes the thresholds from them (issue 11).

Threshold rule (the review threshold; the block threshold likewise with its own share and
target): start at the capacity threshold, the risk above which `review_share` of the
training traffic falls (the analysts cannot review more). If the labelled cases at or
above it were rejected at least `precision_target` of the time, keep it. Otherwise raise
it, one labelled score at a time, to the lowest threshold whose labelled cases meet the
target; stop raising when fewer than `MIN_LABELS` labelled cases remain above (too few to
judge). So labels can only shrink a queue that wastes the analysts' time, never push it
past their capacity.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cashback.domain.risk.features import FEATURE_NAMES
from cashback_tools.labels import read_labels

HELD_OUT_SHARE = 0.2  # of the labels, kept out of training for the report's agreement
MIN_LABELS = 20
BLOCK_PRECISION = 0.9


@dataclass(frozen=True)
class Labels:
    """Decided cases with features, as arrays."""

    X: np.ndarray
    rejected: np.ndarray  # bool
    order_ids: list[str]
    reasons: list[str | None]
    skipped: int = 0  # rows without stored features

    def __len__(self) -> int:
        return len(self.order_ids)

    def rows(self, mask: np.ndarray) -> Labels:
        index = np.flatnonzero(mask)
        return Labels(
            self.X[index],
            self.rejected[index],
            [self.order_ids[i] for i in index],
            [self.reasons[i] for i in index],
        )


def labels_from_rows(rows: Iterable[Mapping[str, Any]]) -> Labels:
    """Rows of the labels format; those without features are counted and left out; a case
    decided twice (two exports) counts once, the later decision winning."""
    latest: dict[str, Mapping[str, Any]] = {}
    skipped = 0
    for row in rows:
        if not row.get("features"):
            skipped += 1
            continue
        key = f"{row.get('tenant')}/{row['order_id']}"
        if key not in latest or str(row.get("decided_at")) >= str(latest[key].get("decided_at")):
            latest[key] = row
    chosen = sorted(latest.values(), key=lambda row: str(row["order_id"]))
    X = np.asarray(
        [[float(row["features"][name]) for name in FEATURE_NAMES] for row in chosen],
        dtype=np.float64,
    ).reshape(-1, len(FEATURE_NAMES))
    return Labels(
        X,
        np.asarray([row["decision"] == "reject" for row in chosen], dtype=bool),
        [str(row["order_id"]) for row in chosen],
        [row.get("reason") for row in chosen],
        skipped,
    )


def load(paths: Iterable[Path]) -> Labels:
    return labels_from_rows(row for path in paths for row in read_labels(path))


def held_out(order_ids: list[str]) -> np.ndarray:
    """The held-out cases: a stable fifth by a hash of the order id (the same split in
    training and in the report, whatever order the files list them in)."""
    cut = int(HELD_OUT_SHARE * 2**32)
    return np.asarray(
        [int(hashlib.sha256(o.encode()).hexdigest()[:8], 16) < cut for o in order_ids],
        dtype=bool,
    )


@dataclass(frozen=True)
class Tuned:
    threshold: float
    capacity: float
    precision: float | None  # of the labelled cases at or above the threshold
    labelled_above: int
    rule: str


def tune(
    traffic_risk: np.ndarray,
    label_risk: np.ndarray,
    rejected: np.ndarray,
    share: float,
    target: float,
) -> Tuned:
    """The threshold rule of this module's docstring."""
    capacity = float(np.quantile(traffic_risk, 1.0 - share))
    candidates = [capacity, *sorted(set(label_risk[label_risk > capacity].tolist()))]
    last: tuple[float, float | None, int] = (capacity, None, 0)
    for threshold in candidates:
        above = label_risk >= threshold
        count = int(above.sum())
        if count < MIN_LABELS:
            reason = (
                "too few labelled cases above to judge"
                if last[1] is None
                else ("target not met: too few labelled cases above to raise it further")
            )
            return Tuned(last[0], capacity, last[1], last[2], reason)
        precision = float(rejected[above].mean())
        if precision >= target:
            rule = "capacity" if threshold == capacity else "raised to meet the precision target"
            return Tuned(threshold, capacity, precision, count, rule)
        last = (threshold, precision, count)
    return Tuned(last[0], capacity, last[1], last[2], "target not met")


def tuned_thresholds(
    traffic_risk: np.ndarray,
    label_risk: np.ndarray,
    rejected: np.ndarray,
    review_share: float,
    block_share: float,
    precision_target: float,
) -> dict[str, Any]:
    """The metadata's thresholds, tuned by the labels (see the module's rule)."""
    review = tune(traffic_risk, label_risk, rejected, review_share, precision_target)
    block = tune(traffic_risk, label_risk, rejected, block_share, BLOCK_PRECISION)
    return {
        "review": review.threshold,
        "block": max(block.threshold, review.threshold),
        "review_share": review_share,
        "block_share": block_share,
        "computed_on_purchases": int(len(traffic_risk)),
        "from_labels": {
            "rule": "lowest threshold within capacity whose labelled cases meet the "
            "precision target (models/refund_abuse/labelled.py)",
            "labels": int(len(label_risk)),
            "review": _describe(review, precision_target),
            "block": _describe(block, BLOCK_PRECISION),
        },
    }


def _describe(tuned: Tuned, target: float) -> dict[str, Any]:
    return {
        "capacity_threshold": tuned.capacity,
        "precision_target": target,
        "precision": tuned.precision,
        "labelled_above": tuned.labelled_above,
        "outcome": tuned.rule,
    }
