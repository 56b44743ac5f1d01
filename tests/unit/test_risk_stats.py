"""The storefront's risk statistics: the histogram fold counts exactly, thresholds are the
quantiles of what was recorded, backtests keep the lists' and rules' floors, and feature
percentiles wait for enough purchases."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from cashback.domain.risk import stats
from cashback.domain.risk.features import FEATURE_NAMES
from cashback.domain.risk.policy import SEVERITY, Thresholds
from cashback.domain.tenants import RiskThresholds, TenantSettings

QUANTILES = {name: [i / 100 for i in range(101)] for name in FEATURE_NAMES}
FIRED = st.sampled_from(
    [
        [],
        ["serial_refunds"],
        ["watch_list"],
        ["deny_list:device"],
        ["allow_list:customer"],
        ["fresh_account_velocity", "shared_identity_ring"],
    ]
)
SCORES = st.floats(min_value=1e-6, max_value=1.0, allow_nan=False)  # risks are in (0, 1]


@st.composite
def records(draw: Any) -> tuple[dict[str, Any], int]:
    score = draw(st.none() | SCORES)
    row = draw(st.lists(st.floats(-1, 2), min_size=12, max_size=12))
    record = {
        "score": None if score is None else f"{score:.6f}",
        "rules_fired": draw(FIRED),
        "features": [f"{x:.6g}" for x in row],
        "model_version": "m1",
    }
    return record, draw(st.integers(0, 10_000))


def _histogram(purchases: list[tuple[dict[str, Any], int]], shards: int = 3) -> stats.Histogram:
    """Fold into a few shard items with ADD semantics, then read them back."""
    items: list[dict[str, int]] = [{} for _ in range(shards)]
    for i, (record, cashback) in enumerate(purchases):
        item = items[i % shards]
        for name, value in stats.fold(record, cashback, QUANTILES).items():
            item[name] = item.get(name, 0) + value
    return stats.Histogram.of([{"pk": "x", "sk": "y", "model": "m1", **i} for i in items])


@given(st.lists(records(), max_size=60))
def test_the_fold_counts_every_purchase_exactly_once(
    purchases: list[tuple[dict[str, Any], int]],
) -> None:
    found = _histogram(purchases)
    assert found.purchases == len(purchases)
    expected: dict[tuple[int | None, str], list[int]] = {}
    for record, cashback in purchases:
        score = record["score"]
        key = (
            None if score is None else stats.score_bucket(float(score)),
            stats.floor_of(record["rules_fired"]),
        )
        cell = expected.setdefault(key, [0, 0])
        cell[0] += 1
        cell[1] += cashback
    assert found.cells == expected
    for index in range(len(FEATURE_NAMES)):
        assert sum(found.features.get(index, {}).values()) == len(purchases)


def test_floors_follow_lists_then_rules() -> None:
    assert stats.floor_of([]) == "n"
    assert stats.floor_of(["serial_refunds"]) == "r"
    assert stats.floor_of(["watch_list"]) == "r"  # another room's rule: at least review
    assert stats.floor_of(["allow_list:customer"]) == "a"
    assert stats.floor_of(["deny_list:payment", "allow_list:customer"]) == "d"


@given(SCORES)
def test_a_score_lies_in_its_bucket(score: float) -> None:
    bucket = stats.score_bucket(score)
    assert stats.bucket_edge(bucket) <= max(score, stats.SCORE_CLAMP) * (1 + 1e-12)
    assert min(score, 1 - stats.SCORE_CLAMP) < stats.bucket_edge(bucket + 1) * (1 + 1e-12)


@given(
    st.lists(st.floats(0.3, 0.9), min_size=1, max_size=300),
    st.decimals(Decimal("0.001"), Decimal("0.5"), places=3),
)
def test_the_share_edge_sends_at_most_the_share_and_as_many_as_it_can(
    scores: list[float], share: Decimal
) -> None:
    counts: dict[int, int] = {}
    for score in scores:
        counts[stats.score_bucket(score)] = counts.get(stats.score_bucket(score), 0) + 1
    edge = stats.share_edge(counts, share)
    limit = int(share * len(scores))
    above = sum(c for b, c in counts.items() if stats.bucket_edge(b) >= edge)
    assert above <= limit
    lower = [b for b in counts if stats.bucket_edge(b) < edge]
    if lower:  # one more bucket would send more than the share
        assert above + counts[max(lower)] > limit


def _limits(histogram: stats.Histogram, review: str, block: str) -> RiskThresholds:
    model = Thresholds(review=0.6, block=0.7)
    return stats.thresholds_at(histogram, Decimal(review), Decimal(block), model, "m1", "now")


def test_thresholds_are_the_models_until_enough_purchases_were_recorded() -> None:
    few = _histogram([({"score": "0.5", "rules_fired": []}, 10)] * (stats.MIN_PURCHASES - 1))
    limits = _limits(few, "0.02", "0.002")
    assert (limits.source, limits.review, limits.block) == ("model", "0.6", "0.7")
    enough = _histogram(
        [({"score": f"{0.3 + i / 2000:.6f}", "rules_fired": []}, 10) for i in range(1000)]
    )
    limits = _limits(enough, "0.1", "0.01")
    assert limits.source == "storefront" and limits.purchases == 1000
    assert float(limits.review) <= float(limits.block)
    scores = [0.3 + i / 2000 for i in range(1000)]
    assert sum(s >= float(limits.review) for s in scores) <= 100
    assert sum(s >= float(limits.block) for s in scores) <= 10


@given(st.lists(records(), min_size=1, max_size=80), st.sampled_from(["enforce", "shadow", "off"]))
def test_the_backtest_is_what_each_purchase_would_have_got(
    purchases: list[tuple[dict[str, Any], int]], mode: stats.Mode
) -> None:
    found = _histogram(purchases)
    scored = sorted(found.score_counts())
    edge = stats.bucket_edge(scored[len(scored) // 2]) if scored else 0.5
    limits = Thresholds(
        review=edge, block=max(edge, stats.bucket_edge(scored[-1]) if scored else 0.9)
    )
    result = stats.backtest(found, limits, mode)
    expected = {"allow": [0, 0], "review": [0, 0], "block": [0, 0]}
    for record, cashback in purchases:
        floor = stats.floor_of(record["rules_fired"])
        action = "allow"
        if mode != "off" and floor == "d":
            action = "block"
        elif mode == "enforce" and floor != "a":
            rule = {"r": "review", "b": "block"}.get(floor, "allow")
            score = record["score"]
            model = "allow" if score is None else limits.action(float(score))
            action = rule if SEVERITY[rule] >= SEVERITY[model] else model
        expected[action][0] += 1
        expected[action][1] += cashback
    assert [result.held.count, result.held.cashback] == expected["review"]
    assert [result.blocked.count, result.blocked.cashback] == expected["block"]
    assert [result.allowed.count, result.allowed.cashback] == expected["allow"]
    assert result.purchases == len(purchases)


def test_feature_percentiles_need_enough_purchases() -> None:
    purchases = [
        ({"score": "0.5", "rules_fired": [], "features": [f"{(i % 100) / 100:.6g}"] * 12}, 0)
        for i in range(stats.MIN_PURCHASES)
    ]
    few = stats.feature_percentiles(_histogram(purchases[:-1]), QUANTILES, [0.5] * 12)
    assert [p for _, _, p in few] == [None] * 12
    found = stats.feature_percentiles(_histogram(purchases), QUANTILES, [0.505] * 12)
    assert [name for name, _, _ in found] == list(FEATURE_NAMES)
    assert all(p == 50.5 for _, _, p in found)  # 50 buckets below, one of 100 at half
    low = stats.feature_percentiles(_histogram(purchases), QUANTILES, [-1.0] * 12)
    assert all(p == 0.0 for _, _, p in low)


def test_stored_thresholds_apply_only_to_the_model_they_were_computed_for() -> None:
    stored = RiskThresholds(
        review="0.55",
        block="0.6",
        source="storefront",
        purchases=900,
        model_version="m1",
        computed_at="2026-11-30T00:00:00Z",
    )
    assert stats.in_force(stored, "m1") == Thresholds(review=0.55, block=0.6)
    assert stats.in_force(stored, "m2") is None
    assert stats.in_force(None, "m1") is None


def test_settings_keep_block_within_review() -> None:
    settings = TenantSettings(currency="BRL")
    assert (settings.review_share, settings.block_share) == (Decimal("0.02"), Decimal("0.002"))
    with pytest.raises(ValidationError):
        TenantSettings(currency="BRL", review_share=Decimal("0.01"), block_share=Decimal("0.02"))
    with pytest.raises(ValidationError):
        TenantSettings(currency="BRL", review_share=Decimal("0.6"))
