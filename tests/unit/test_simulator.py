"""The behaviour simulator: reproducible, every kind present, money that adds up."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import pytest

from models.refund_abuse.simulator import (
    ABUSE_KINDS,
    KINDS,
    Purchase,
    Redemption,
    Refund,
    SimulationConfig,
    Traffic,
    read_jsonl,
    simulate,
    write_jsonl,
)

CONFIG = SimulationConfig.small(seed=3)


@pytest.fixture(scope="module")
def traffic() -> Traffic:
    return simulate(CONFIG)


def _by_type(traffic: Traffic) -> tuple[list[Purchase], list[Refund], list[Redemption]]:
    purchases = [e for e in traffic.events if isinstance(e, Purchase)]
    refunds = [e for e in traffic.events if isinstance(e, Refund)]
    redemptions = [e for e in traffic.events if isinstance(e, Redemption)]
    return purchases, refunds, redemptions


def test_same_seed_gives_the_same_traffic(traffic: Traffic) -> None:
    again = simulate(CONFIG)
    assert again.customers == traffic.customers
    assert again.events == traffic.events


def test_another_seed_gives_other_traffic(traffic: Traffic) -> None:
    other = simulate(SimulationConfig.small(seed=4))
    assert other.events != traffic.events


def test_every_kind_has_customers_and_purchases(traffic: Traffic) -> None:
    kinds = traffic.kinds()
    purchases, _, _ = _by_type(traffic)
    customers = Counter(c.kind for c in traffic.customers)
    bought = Counter(kinds[p.customer_id] for p in purchases)
    assert set(customers) == set(KINDS)
    assert all(bought[kind] > 0 for kind in KINDS), bought


def test_events_are_in_time_order_inside_the_period(traffic: Traffic) -> None:
    times = [e.at for e in traffic.events]
    assert times == sorted(times)
    assert traffic.start <= times[0] and times[-1] < traffic.end


def test_money_is_integer_minor_units_and_lines_add_up(traffic: Traffic) -> None:
    purchases, refunds, redemptions = _by_type(traffic)
    for p in purchases:
        assert isinstance(p.amount, int) and isinstance(p.cashback, int)
        assert p.amount == sum(line.amount for line in p.lines) > 0
        assert p.cashback >= 0
    for event in (*refunds, *redemptions):
        assert isinstance(event.amount, int) and event.amount > 0


def test_refunds_follow_their_purchase_and_split_clawback_into_unspent_and_debt(
    traffic: Traffic,
) -> None:
    purchases = {p.order_id: p for p in _by_type(traffic)[0]}
    for refund in _by_type(traffic)[1]:
        order = purchases[refund.order_id]
        assert order.at < refund.at <= order.at + timedelta(days=CONFIG.store_return_days)
        assert 0 < refund.amount <= order.amount
        assert 0 <= refund.debt <= refund.clawed_back <= order.cashback


def test_redemptions_never_spend_more_than_was_spendable(traffic: Traffic) -> None:
    """Replaying each customer's lots: what is redeemed was earned and ripe."""
    earned: dict[str, list[Purchase]] = defaultdict(list)
    spent: dict[str, int] = defaultdict(int)
    for event in traffic.events:
        if isinstance(event, Purchase):
            earned[event.customer_id].append(event)
        elif isinstance(event, Redemption):
            spent[event.customer_id] += event.amount
            ripe = sum(p.cashback for p in earned[event.customer_id] if p.spendable_at <= event.at)
            assert spent[event.customer_id] <= ripe


def test_abuse_patterns_show_their_signature(traffic: Traffic) -> None:
    kinds = traffic.kinds()
    purchases, refunds, _ = _by_type(traffic)
    orders = {p.order_id: p for p in purchases}
    debt = Counter()
    for refund in refunds:
        debt[kinds[refund.customer_id]] += refund.debt
    assert debt["redeem_then_refund"] > 0
    churn = [r for r in refunds if kinds[r.customer_id] == "refund_churn"]
    assert churn and all(r.at >= orders[r.order_id].spendable_at for r in churn)
    farming_devices = Counter(
        p.device_id for p in purchases if kinds[p.customer_id] == "account_farming"
    )
    sharers = defaultdict(set)
    for p in purchases:
        if p.device_id in farming_devices:
            sharers[p.device_id].add(p.customer_id)
    assert max(len(c) for c in sharers.values()) >= 3
    assert all(kind in kinds.values() for kind in ABUSE_KINDS)


def test_traffic_round_trips_through_json_lines(traffic: Traffic, tmp_path: Path) -> None:
    path = tmp_path / "traffic.jsonl"
    write_jsonl(traffic, path)
    again = read_jsonl(path)
    assert again.customers == traffic.customers
    assert again.events == traffic.events
    assert (again.start, again.end) == (traffic.start, traffic.end)
