"""Refunds that name lines take back what those lines earned (issue 8, finding 5): the
purchase's cashback attributed to its lines (rules.lines), and what each refund of an
order's lines, or of no line, takes back (ledger.refund_clawback)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashback.domain.ledger import clawback_for, kept_after_refunds, refund_clawback
from cashback.domain.rules.engine import Context, Line, Purchase, evaluate
from cashback.domain.rules.lines import allocate, line_cashback
from cashback.domain.rules.ruleset import RuleSet

T = datetime(2026, 11, 10, 18, 0, tzinfo=UTC)


def _rules(**changes: Any) -> RuleSet:
    return RuleSet.model_validate(
        {
            "currency": "BRL",
            "time_zone": "America/Sao_Paulo",
            "effective_from": "2026-01-01T00:00:00Z",
            "base_rate": "0.01",
            "category_rates": {"tech": "0.20"},
            **changes,
        }
    )


def _buy(*lines: Line) -> Purchase:
    return Purchase(sum(line.amount for line in lines), "BRL", T, "online", lines)


PHONE, SHIRT = Line("phone", "tech", 10000), Line("shirt", "apparel", 10000)


def test_the_phone_and_the_shirt() -> None:
    evaluation = evaluate(_rules(), _buy(PHONE, SHIRT), Context(), version=1)
    assert evaluation.cashback == 2100 and line_cashback(evaluation) == [2000, 100]
    lines = {"phone": (10000, 2000, 0), "shirt": (10000, 100, 0)}
    taken, after = refund_clawback(2100, 20000, lines, 0, 10000, {"phone": 10000})
    assert taken == 2000 and after["phone"] == (10000, 2000, 10000)
    assert refund_clawback(2100, 20000, after, 10000, 10000, {"shirt": 10000})[0] == 100
    assert refund_clawback(2100, 20000, lines, 0, 10000)[0] == 1050  # naming no line


def test_cuts_come_off_the_lines_they_cut() -> None:
    capped = evaluate(_rules(caps={"per_order": 1000}), _buy(PHONE, SHIRT), Context(), version=1)
    assert capped.cashback == 1000 and line_cashback(capped) == [952, 48]
    campaign = {
        "id": "tech-week",
        "name": "Tech week",
        "starts_at": "2026-11-01T00:00:00",
        "ends_at": "2026-12-01T00:00:00",
        "rate": "0.10",
        "categories": ["tech"],
        "budget": 500,
    }
    cut = evaluate(_rules(campaigns=[campaign]), _buy(PHONE, SHIRT), Context(), version=1)
    assert cut.cashback == 2000 + 500 + 100
    assert line_cashback(cut) == [2500, 100]  # the budget cut only the phone's campaign
    bonus = evaluate(
        _rules(base_rate="0", category_rates={}, first_purchase={"fixed": 301}),
        _buy(PHONE, Line("gift", "misc", 20000)),
        Context(first_purchase=True),
        version=1,
    )
    assert line_cashback(bonus) == [100, 201]  # a fixed bonus alone: by amount


@settings(deadline=None, max_examples=300)
@given(
    total=st.integers(0, 10**12), weights=st.lists(st.integers(0, 10**9), min_size=1, max_size=30)
)
def test_allocation_adds_up_exactly_and_stays_within_a_unit(total: int, weights: list[int]) -> None:
    if not any(weights):
        weights[0] = 1
    shares = allocate(total, weights)
    assert sum(shares) == total
    for share, weight in zip(shares, weights, strict=True):
        exact = Fraction(total * weight, sum(weights))
        assert exact - 1 < share < exact + 1 and (weight or not share)


@settings(deadline=None, max_examples=200)
@given(
    amounts=st.lists(st.integers(1, 10**6), min_size=1, max_size=8),
    rates=st.lists(
        st.sampled_from(["0", "0.01", "0.05", "0.2", "0.333333"]), min_size=8, max_size=8
    ),
    cap=st.none() | st.integers(0, 10**5),
)
def test_line_shares_add_up_to_the_cashback(
    amounts: list[int], rates: list[str], cap: int | None
) -> None:
    rules = _rules(
        category_rates={f"c{i}": rate for i, rate in enumerate(rates)},
        caps={"per_order": cap},
        first_purchase={"fixed": 7},
    )
    lines = tuple(Line(f"s{i}", f"c{i}", amount) for i, amount in enumerate(amounts))
    evaluation = evaluate(rules, _buy(*lines), Context(first_purchase=True), version=1)
    shares = line_cashback(evaluation)
    assert sum(shares) == evaluation.cashback and min(shares) >= 0


def _split(total: int, cuts: list[int]) -> list[int]:
    points = sorted({min(max(c, 1), total) for c in cuts} | {total})
    return [b - a for a, b in zip([0, *points], points, strict=False) if b > a]


Order = st.lists(
    st.tuples(st.integers(1, 10**6), st.integers(0, 10**5)), min_size=1, max_size=5
).map(lambda lines: {f"s{i}": line for i, line in enumerate(lines)})


@settings(deadline=None, max_examples=300)
@given(order=Order, cuts=st.lists(st.integers(0, 10**6), max_size=6), which=st.integers(0, 4))
def test_partial_refunds_of_a_line_add_up_to_what_it_earned(
    order: dict[str, tuple[int, int]], cuts: list[int], which: int
) -> None:
    lines = {sku: (amount, earned, 0) for sku, (amount, earned) in order.items()}
    cashback, total = sum(e for _, e, _ in lines.values()), sum(a for a, _, _ in lines.values())
    sku = sorted(lines)[which % len(lines)]
    refunded, taken = 0, []
    for part in _split(lines[sku][0], cuts):
        amount, lines = refund_clawback(cashback, total, lines, refunded, part, {sku: part})
        refunded += part
        assert amount >= 0
        taken.append(amount)
    assert sum(taken) == order[sku][1]  # all it earned, never more, never less


@settings(deadline=None, max_examples=300)
@given(
    order=Order,
    steps=st.lists(st.tuples(st.integers(0, 4), st.integers(1, 10**6), st.booleans()), max_size=10),
)
def test_any_mix_of_refunds_never_takes_more_than_was_credited(
    order: dict[str, tuple[int, int]], steps: list[tuple[int, int, bool]]
) -> None:
    lines = {sku: (amount, earned, 0) for sku, (amount, earned) in order.items()}
    cashback, total = sum(e for _, e, _ in lines.values()), sum(a for a, _, _ in lines.values())
    refunded = taken = 0
    for which, size, named in steps:
        sku = sorted(lines)[which % len(lines)]
        line_left = lines[sku][0] - lines[sku][2]
        part = min(size, total - refunded, line_left if named else total)
        if part <= 0:
            continue
        amount, lines = refund_clawback(
            cashback, total, lines, refunded, part, {sku: part} if named else None
        )
        refunded += part
        taken += amount
        assert amount >= 0 and taken <= cashback
        assert taken == cashback - kept_after_refunds(cashback, total, lines, refunded)
    rest, lines = refund_clawback(cashback, total, lines, refunded, total - refunded)
    assert taken + rest == cashback  # a full refund takes back exactly what was credited


@settings(deadline=None, max_examples=300)
@given(
    cashback=st.integers(0, 10**6),
    amount=st.integers(1, 10**6),
    parts=st.lists(st.integers(1, 10**6), max_size=5),
)
def test_naming_no_line_is_in_proportion_as_before(
    cashback: int, amount: int, parts: list[int]
) -> None:
    refunded = 0
    for part in parts:
        part = min(part, amount - refunded)
        if not part:
            break
        for lines in ({}, {"only": (amount, cashback, 0)}):
            assert refund_clawback(cashback, amount, lines, refunded, part)[0] == clawback_for(
                cashback, amount, refunded, part
            )
        refunded += part


def test_allocation_refuses_what_has_no_proportion() -> None:
    with pytest.raises(ValueError):
        allocate(5, [0, 0])
    with pytest.raises(ValueError):
        allocate(5, [Decimal(-1), Decimal(2)])
    assert allocate(0, [0, 0]) == [0, 0]
