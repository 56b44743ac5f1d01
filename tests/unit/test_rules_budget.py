"""Sharded campaign budgets: exact splits, shard choice, what a purchase decrements, the
paper capacity of a layout, and racing purchases that never overspend."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashback.domain.rules import budget
from cashback.domain.rules.budget import (
    Plan,
    Take,
    first_take,
    layout,
    plan_take,
    shards_for,
    split,
)
from cashback.domain.rules.engine import Context, Line, Purchase, evaluate
from cashback.domain.rules.ruleset import RuleSet


@given(st.integers(0, 10**12), st.integers(1, 500))
def test_split_adds_up_exactly_and_is_even(total: int, shards: int) -> None:
    parts = split(total, shards)
    assert len(parts) == shards and sum(parts) == total
    assert max(parts) - min(parts) <= 1


def test_split_of_a_budget() -> None:
    assert split(10, 4) == (3, 3, 2, 2)
    with pytest.raises(ValueError):
        split(10, 0)


def test_start_shard_is_stable_and_spread() -> None:
    assert budget.start_shard("order-1", 16) == budget.start_shard("order-1", 16)
    counts = Counter(budget.start_shard(f"order-{i}", 16) for i in range(16000))
    assert set(counts) == set(range(16))
    assert max(counts.values()) < 1.15 * 1000  # within 15% of even


def test_first_take_asks_one_shard_for_everything() -> None:
    plan = first_take(700, "order-1", 8)
    assert plan == Plan((Take(budget.start_shard("order-1", 8), 700),), 0)
    assert first_take(0, "order-1", 8) == Plan((), 0)


def test_plan_take_probes_from_the_start_and_spans_shards() -> None:
    assert plan_take(500, [100, 0, 300, 1000], start=2) == Plan((Take(2, 300), Take(3, 200)), 0)
    assert plan_take(500, [100, 0, 300, 50], start=3) == Plan(
        (Take(3, 50), Take(0, 100), Take(2, 300)), 50
    )
    assert plan_take(0, [10], start=0) == Plan((), 0)


def test_layout_on_paper() -> None:
    one = layout(1)
    assert one.purchases_per_second == 500  # 1,000 WCU/s, 2 WCU per transactional write
    assert one.usd_per_million_purchases == Decimal("1.250")
    assert one.usd_per_month_provisioned == Decimal("474.50")
    assert layout(16).purchases_per_second == 8000
    assert layout(4, item_wcu_per_second=1000, wcu_per_write=1).purchases_per_second == 4000
    assert shards_for(10_000) == 29  # 350 a shard at 70% headroom
    assert shards_for(1) == 1


@dataclass
class Shards:
    """Budget shard items as DynamoDB keeps them: a take commits only if every shard it
    touches still has what it asks (all or nothing, like one transaction)."""

    remaining: list[int]

    def commit(self, plan: Plan) -> bool:
        if any(self.remaining[t.shard] < t.amount for t in plan.takes):
            return False
        for take in plan.takes:
            self.remaining[take.shard] -= take.amount
        return True


RULES = RuleSet.model_validate(
    {
        "currency": "BRL",
        "time_zone": "America/Sao_Paulo",
        "effective_from": "2026-01-01T00:00:00Z",
        "base_rate": "0.02",
        "campaigns": [
            {
                "id": "bf",
                "name": "Black Friday",
                "starts_at": "2026-11-27T00:00:00",
                "ends_at": "2026-11-30T00:00:00",
                "rate": "0.10",
                "budget": 5000,
            }
        ],
    }
)
AT = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)


def _purchase(amount: int) -> Purchase:
    return Purchase(amount, "BRL", AT, "online", (Line("s", "c", amount),))


def _buy(shards: Shards, order: str, amount: int, snapshot: list[int]) -> int:
    """One purchase through the protocol in budget.py, with a possibly stale read."""
    result = evaluate(RULES, _purchase(amount), Context(), version=1)
    want = result.budget_consumption.get("bf", 0)
    if shards.commit(first_take(want, order, len(snapshot))):
        return want
    for _ in range(10):
        plan = plan_take(want, snapshot, budget.start_shard(order, len(snapshot)))
        if plan.short:
            result = evaluate(
                RULES, _purchase(amount), Context(budget_remaining={"bf": sum(snapshot)}), version=1
            )
            want = result.budget_consumption.get("bf", 0)
            plan = plan_take(want, snapshot, budget.start_shard(order, len(snapshot)))
        if shards.commit(plan):
            return want
        snapshot = list(shards.remaining)  # lost a race: read again
    return 0


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 8),
    st.lists(st.tuples(st.integers(100, 200000), st.booleans()), min_size=1, max_size=40),
)
def test_racing_purchases_never_overspend_the_budget(
    shard_count: int, purchases: list[tuple[int, bool]]
) -> None:
    shards = Shards(list(split(5000, shard_count)))
    stale = list(shards.remaining)
    taken = 0
    for i, (amount, reads_stale) in enumerate(purchases):
        snapshot = stale if reads_stale else list(shards.remaining)
        taken += _buy(shards, f"order-{i}", amount, snapshot)
        assert min(shards.remaining) >= 0
    assert taken <= 5000
    assert sum(shards.remaining) == 5000 - taken


def test_a_nearly_spent_budget_is_used_to_the_last_centavo() -> None:
    shards = Shards([0, 3, 0, 2])
    assert _buy(shards, "order-x", 10000, list(shards.remaining)) == 5
    assert shards.remaining == [0, 0, 0, 0]
