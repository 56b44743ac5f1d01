"""A storefront's own risk statistics: per-purchase counts folded into daily histograms, and
what follows from them (thresholds at the storefront's shares, backtests, percentiles).

Scores sit in a narrow band (an isolation forest's risks mostly fall between 0.35 and
0.8), so they are bucketed on the log-odds scale in steps of SCORE_STEP: about 0.0025 of
score near 0.5, finer towards both ends, where the thresholds live. Features are bucketed
on the model's own training quantiles (0th..100th percentile, in its metadata), so a
bucket is "between the k-th and (k+1)-th training percentile".

Each purchase adds one to its (score bucket, floor) cell, its cashback to the cell's sum,
and one to each feature's bucket. The floor is what the lists and readable rules asked for
whatever the score: a backtest applies new thresholds to the score and keeps the floor,
so a purchase a rule sent to review stays at least review.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Literal

from cashback.domain.risk.features import FEATURE_NAMES
from cashback.domain.risk.policy import SEVERITY, Action, Thresholds
from cashback.domain.risk.reasons import RULES
from cashback.domain.tenants import RiskThresholds

SCORE_STEP = 0.01  # log-odds per score bucket
SCORE_CLAMP = 1e-9  # scores of exactly 0 or 1 go into the outermost buckets
DAYS = 30  # the window thresholds, backtests and percentiles read
# Thresholds follow the storefront's own scores once it recorded this many scored
# purchases in the window: at the default block share (0.002) that is one purchase above
# the block threshold, the least a quantile can rest on; fewer, and one unusual day would
# move the thresholds, so the model's (set on ~80 000 training purchases) stay.
MIN_PURCHASES = 500
SHARDS = 8  # stats items per day and model: purchases spread over them, never contend
UNSCORED = "x"  # the score bucket of purchases no model scored

# The floor a purchase's lists and rules set, whatever its score:
# a: allow-listed (always allowed); n: nothing fired; r: a rule asked for review;
# b: a rule asked to block; d: deny-listed (blocked even in shadow mode).
Floor = Literal["a", "n", "r", "b", "d"]
Mode = Literal["off", "shadow", "enforce"]
RULE_ACTIONS: Mapping[str, Action] = {rule.name: rule.action for rule in RULES}
# Stats item attributes: s<bucket>_<floor> (count), c<bucket>_<floor> (cashback),
# f<feature index>_<bucket> (count); n (purchases) and cb (their cashback).
_CELL = re.compile(rf"^([sc])(-?[0-9]+|{UNSCORED})_([anrbd])$")
_FEATURE = re.compile(r"^f([0-9]+)_([0-9]+)$")


def score_bucket(score: float) -> int:
    p = min(max(score, SCORE_CLAMP), 1 - SCORE_CLAMP)
    return math.floor(math.log(p / (1 - p)) / SCORE_STEP)


def bucket_edge(bucket: int) -> float:
    """The lowest score in `bucket` (every score in it is at least this)."""
    return 1 / (1 + math.exp(-bucket * SCORE_STEP))


def feature_bucket(quantiles: Sequence[float], value: float) -> int:
    """How many of the training percentiles are at or below `value` (0..len)."""
    return bisect.bisect_right(quantiles, value)


def floor_of(rules_fired: Iterable[str]) -> Floor:
    """What the lists and rules asked for; a rule this code does not know asks review."""
    fired = list(rules_fired)
    if any(name.startswith("deny_list") for name in fired):
        return "d"
    if any(name.startswith("allow_list") for name in fired):
        return "a"
    actions = [RULE_ACTIONS.get(name, "review") for name in fired]
    if "block" in actions:
        return "b"
    return "r" if actions else "n"


def fold(
    record: Mapping[str, Any], cashback: int, quantiles: Mapping[str, Sequence[float]]
) -> dict[str, int]:
    """The counts one screened purchase adds (its order's risk record, its cashback): the
    attributes of its day's stats item, all ADDed."""
    score = record.get("score")
    bucket = UNSCORED if score is None else str(score_bucket(float(score)))
    cell = f"{bucket}_{floor_of(record.get('rules_fired', ()))}"
    counts = {"n": 1, "cb": cashback, f"s{cell}": 1}
    if cashback:
        counts[f"c{cell}"] = cashback
    # Records written before features were kept have none (strict=False).
    row = record.get("features", ())
    for index, (name, text) in enumerate(zip(FEATURE_NAMES, row, strict=False)):
        edges = quantiles.get(name)
        if edges:
            counts[f"f{index}_{feature_bucket(edges, float(text))}"] = 1
    return counts


@dataclass
class Histogram:
    """The sum of stats items: purchases, (score bucket, floor) cells [count, cashback],
    and per feature index its buckets' counts."""

    purchases: int = 0
    cells: dict[tuple[int | None, str], list[int]] = field(default_factory=dict)
    features: dict[int, dict[int, int]] = field(default_factory=dict)

    @classmethod
    def of(cls, items: Iterable[Mapping[str, Any]]) -> Histogram:
        found = cls()
        for item in items:
            found.add(item)
        return found

    def add(self, item: Mapping[str, Any]) -> None:
        self.purchases += int(item.get("n", 0))
        for name, value in item.items():
            cell = _CELL.match(name)
            if cell:
                kind, bucket, floor = cell.groups()
                key = (None if bucket == UNSCORED else int(bucket), floor)
                self.cells.setdefault(key, [0, 0])[kind == "c"] += int(value)
                continue
            feature = _FEATURE.match(name)
            if feature:
                counts = self.features.setdefault(int(feature.group(1)), {})
                bucket_of = int(feature.group(2))
                counts[bucket_of] = counts.get(bucket_of, 0) + int(value)

    def score_counts(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for (bucket, _), (count, _) in self.cells.items():
            if bucket is not None:
                counts[bucket] = counts.get(bucket, 0) + count
        return counts

    @property
    def scored(self) -> int:
        return sum(self.score_counts().values())


def share_edge(counts: Mapping[int, int], share: Decimal) -> float:
    """The lowest bucket edge with at most `share` of the counted scores at or above it:
    the (1 - share) quantile, never sending more than the share."""
    limit = int((share * sum(counts.values())).to_integral_value(ROUND_FLOOR))
    ranked = sorted(counts, reverse=True)
    edge = ranked[0] + 1 if ranked else 0
    above = 0
    for bucket in ranked:
        above += counts[bucket]
        if above > limit:
            break
        edge = bucket
    return bucket_edge(edge)


def thresholds_at(
    histogram: Histogram,
    review_share: Decimal,
    block_share: Decimal,
    model: Thresholds | None,
    model_version: str,
    now: str,
) -> RiskThresholds:
    """The storefront's thresholds at its shares, or the model's while it recorded fewer
    than MIN_PURCHASES scored purchases (no model: nothing is held on a score)."""
    scored = histogram.scored
    if scored >= MIN_PURCHASES:
        counts = histogram.score_counts()
        review, block = share_edge(counts, review_share), share_edge(counts, block_share)
        source: Literal["storefront", "model"] = "storefront"
    else:
        review, block = (model.review, model.block) if model else (1.0, 1.0)
        source = "model"
    return RiskThresholds(
        review=repr(review),
        block=repr(max(block, review)),
        source=source,
        purchases=scored,
        model_version=model_version,
        computed_at=now,
    )


def in_force(stored: RiskThresholds | None, model_version: str | None) -> Thresholds | None:
    """What a purchase compares its score with: the stored thresholds when the model that
    scores it is the one they were computed for (None: the model's own)."""
    if stored is None or model_version is None or stored.model_version != model_version:
        return None
    return Thresholds(review=float(stored.review), block=float(stored.block))


@dataclass(frozen=True)
class Outcome:
    count: int = 0
    cashback: int = 0

    def plus(self, count: int, cashback: int) -> Outcome:
        return Outcome(self.count + count, self.cashback + cashback)


@dataclass(frozen=True)
class Backtest:
    purchases: int
    held: Outcome
    blocked: Outcome
    allowed: Outcome


def cell_action(bucket: int | None, floor: str, limits: Thresholds, mode: Mode) -> Action:
    """What a purchase in this cell would get: deny lists block in every mode but off,
    shadow holds nothing else, allow lists allow, else the strictest of floor and score.
    A score is judged by its bucket's lowest edge (exact for storefront thresholds, which
    are bucket edges; within one bucket for the model's)."""
    if mode == "off":
        return "allow"
    if floor == "d":
        return "block"
    if mode == "shadow" or floor == "a":
        return "allow"
    rule: Action = "review" if floor == "r" else "block" if floor == "b" else "allow"
    model: Action = "allow" if bucket is None else limits.action(bucket_edge(bucket))
    return rule if SEVERITY[rule] >= SEVERITY[model] else model


def backtest(histogram: Histogram, limits: Thresholds, mode: Mode) -> Backtest:
    """What the recorded purchases would have got under `limits` and `mode`."""
    outcomes = {"allow": Outcome(), "review": Outcome(), "block": Outcome()}
    for (bucket, floor), (count, cashback) in histogram.cells.items():
        action = cell_action(bucket, floor, limits, mode)
        outcomes[action] = outcomes[action].plus(count, cashback)
    return Backtest(
        purchases=sum(count for count, _ in histogram.cells.values()),
        held=outcomes["review"],
        blocked=outcomes["block"],
        allowed=outcomes["allow"],
    )


def percentile(counts: Mapping[int, int], bucket: int) -> float:
    """The mid-rank percentile (0..100) of a value in `bucket` among the counted ones."""
    total = sum(counts.values())
    below = sum(count for b, count in counts.items() if b < bucket)
    return round(100 * (below + counts.get(bucket, 0) / 2) / total, 1) if total else 0.0


def feature_percentiles(
    histogram: Histogram, quantiles: Mapping[str, Sequence[float]], row: Sequence[float]
) -> list[tuple[str, float, float | None]]:
    """Each feature's value with its percentile among the recorded purchases (None when
    fewer than MIN_PURCHASES were recorded, or the model has no quantiles for it)."""
    found = []
    for index, (name, value) in enumerate(zip(FEATURE_NAMES, row, strict=True)):
        counts = histogram.features.get(index, {})
        edges = quantiles.get(name) or ()
        enough = bool(edges) and sum(counts.values()) >= MIN_PURCHASES
        found.append(
            (name, value, percentile(counts, feature_bucket(edges, value)) if enough else None)
        )
    return found


def window(now: datetime) -> tuple[str, str]:
    """The first and last day (UTC, YYYY-MM-DD) of the DAYS days that end with `now`'s."""
    last = now.date()
    return (last - timedelta(days=DAYS - 1)).isoformat(), last.isoformat()
