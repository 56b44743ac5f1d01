"""The rules engine: every program feature to the minor unit, time-zone edges, stacking
determinism, and properties over random programs (hypothesis)."""

from __future__ import annotations

import json
import math
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashback.api.payloads import PurchaseRequest
from cashback.domain.rules import deadlines, growth
from cashback.domain.rules.checkout import redeemable
from cashback.domain.rules.engine import (
    Birthday,
    Context,
    CurrencyMismatch,
    Evaluation,
    Line,
    Purchase,
    customer_explanation,
    evaluate,
)
from cashback.domain.rules.expiry import Inactivity
from cashback.domain.rules.ruleset import RuleSet, zone

from .programs import T, campaign_with, rules_with

ROOT = Path(__file__).resolve().parents[2]
SAO_PAULO = zone("America/Sao_Paulo")


def _buy(
    *lines: Line, at: datetime = T, channel: str = "online", currency: str = "BRL"
) -> Purchase:

    return Purchase(sum(line.amount for line in lines), currency, at, channel, lines)


def _eval(rules: RuleSet, purchase: Purchase, context: Context | None = None) -> Evaluation:
    return evaluate(rules, purchase, context or Context(), version=7)


def _line(amount: int, category: str = "misc", sku: str = "sku", eco: bool = False) -> Line:
    return Line(sku, category, amount, eco)


def _kinds(evaluation: Evaluation, index: int = 0) -> list[tuple[str, str, str]]:
    return [(item.kind, item.rule, str(item.value)) for item in evaluation.lines[index].items]


# --- base, categories, rounding ---------------------------------------------------------


def test_base_rate_rounds_down_to_the_minor_unit() -> None:
    result = _eval(rules_with(), _buy(_line(12990)))
    assert (result.cashback, result.gross, result.rounding) == (
        649,
        Decimal("649.5"),
        Decimal("0.5"),
    )
    assert result.version == 7 and result.unit == "money" and result.currency == "BRL"


def test_rounding_happens_once_for_the_order_not_per_line() -> None:
    result = _eval(rules_with(), _buy(_line(10, sku="a"), _line(10, sku="b"), _line(10, sku="c")))
    assert result.cashback == 1  # 0.5 + 0.5 + 0.5 = 1.5 -> 1; per line it would be 0


def test_category_rates_apply_per_line_in_a_mixed_basket() -> None:
    rules = rules_with(category_rates={"fashion": "0.08", "electronics": "0.02"})
    result = _eval(
        rules, _buy(_line(19990, "fashion"), _line(249900, "electronics"), _line(4590, "books"))
    )
    # 1599.2 + 4998 + 229.5 = 6826.7
    assert result.cashback == 6826
    assert [line.rate for line in result.lines] == [
        Decimal("0.08"),
        Decimal("0.02"),
        Decimal("0.05"),
    ]
    assert _kinds(result, 0) == [("category", "fashion", "1599.20")]
    assert _kinds(result, 2) == [("base", "base", "229.50")]


def test_excluded_category_earns_nothing() -> None:
    rules = rules_with(excluded_categories=["gift-cards"], first_purchase={"fixed": 1000})
    result = _eval(
        rules, _buy(_line(10000, "gift-cards"), _line(10000, "shoes")), Context(first_purchase=True)
    )
    assert result.cashback == 500 + 1000
    assert result.lines[0].excluded and result.lines[0].items == ()


def test_fixed_bonus_needs_a_line_that_can_earn() -> None:
    rules = rules_with(excluded_categories=["gift-cards"], first_purchase={"fixed": 1000})
    result = _eval(rules, _buy(_line(10000, "gift-cards")), Context(first_purchase=True))
    assert result.cashback == 0 and result.order_items == ()


def test_zero_base_rate_adds_no_item() -> None:
    assert _eval(rules_with(base_rate="0"), _buy(_line(10000))).lines[0].items == ()


# --- tiers -------------------------------------------------------------------------------

TIERS = {
    "window_days": 365,
    "levels": [
        {"name": "Bronze", "min_spend": 0, "extra_rate": "0"},
        {"name": "Silver", "min_spend": 200000, "extra_rate": "0.01"},
        {"name": "Gold", "min_spend": 1000000, "extra_rate": "0.02"},
    ],
}


@pytest.mark.parametrize(
    ("spend", "tier", "cashback"),
    [
        (0, "Bronze", 500),
        (199999, "Bronze", 500),
        (200000, "Silver", 600),
        (999999, "Silver", 600),
        (1000000, "Gold", 700),
    ],
)
def test_tier_in_force_is_the_highest_reached_by_trailing_spend(
    spend: int, tier: str, cashback: int
) -> None:
    result = _eval(rules_with(tiers=TIERS), _buy(_line(10000)), Context(trailing_spend=spend))
    assert (result.tier, result.cashback) == (tier, cashback)


def test_no_tier_below_the_lowest_level() -> None:
    tiers = {"levels": [{"name": "Gold", "min_spend": 1000, "extra_rate": "0.02"}]}
    result = _eval(rules_with(tiers=tiers), _buy(_line(10000)), Context(trailing_spend=999))
    assert (result.tier, result.cashback) == (None, 500)


def test_refunds_lower_the_tier_through_the_spend_storage_reports() -> None:
    rules, purchase = rules_with(tiers=TIERS), _buy(_line(10000))
    before = _eval(rules, purchase, Context(trailing_spend=210000))
    after_refund = _eval(rules, purchase, Context(trailing_spend=210000 - 20000))
    assert (before.tier, after_refund.tier) == ("Silver", "Bronze")


# --- campaigns ---------------------------------------------------------------------------


def test_add_campaign_adds_to_the_line_rate() -> None:
    result = _eval(rules_with(campaigns=[campaign_with(rate="0.03")]), _buy(_line(10000)))
    assert result.cashback == 800 and result.campaigns == ("c1",)
    assert _kinds(result) == [("base", "base", "500.00"), ("campaign_add", "c1", "300.00")]


def test_replace_campaign_replaces_the_category_rate_but_keeps_extras() -> None:
    rules = rules_with(
        category_rates={"tv": "0.02"},
        green={"extra_rate": "0.01"},
        campaigns=[campaign_with(stacking="replace", rate="0.10", categories=["tv"])],
    )
    result = _eval(rules, _buy(_line(10000, "tv", eco=True), _line(10000, "radio")))
    assert _kinds(result, 0) == [
        ("campaign_replace", "c1", "1000.00"),
        ("green", "green", "100.00"),
    ]
    assert _kinds(result, 1) == [("base", "base", "500.00")]
    assert result.cashback == 1600


def test_exclusive_campaign_is_the_lines_only_rate() -> None:
    rules = rules_with(
        tiers=TIERS,
        green={"extra_rate": "0.02"},
        campaigns=[
            campaign_with(
                "excl", stacking="exclusive", priority=1, rate="0.01", categories=["sale"]
            ),
            campaign_with("more", rate="0.05"),
        ],
    )
    result = _eval(
        rules,
        _buy(_line(10000, "sale", eco=True), _line(10000, "new")),
        Context(trailing_spend=1000000),
    )
    assert _kinds(result, 0) == [("campaign_exclusive", "excl", "100.00")]
    assert [kind for kind, _, _ in _kinds(result, 1)] == ["base", "tier", "campaign_add"]
    assert result.cashback == 100 + 500 + 200 + 500


def test_highest_priority_exclusive_wins_then_the_lowest_id() -> None:
    campaigns = [
        campaign_with("b", stacking="exclusive", priority=5, rate="0.07"),
        campaign_with("a", stacking="exclusive", priority=5, rate="0.06"),
        campaign_with("z", stacking="exclusive", priority=1, rate="0.20"),
    ]
    result = _eval(rules_with(campaigns=campaigns), _buy(_line(10000)))
    assert _kinds(result) == [("campaign_exclusive", "a", "600.00")]


def test_first_replace_campaign_in_stacking_order_wins() -> None:
    campaigns = [
        campaign_with("low", stacking="replace", rate="0.20"),
        campaign_with("high", stacking="replace", priority=3, rate="0.10"),
    ]
    result = _eval(rules_with(campaigns=campaigns), _buy(_line(10000)))
    assert _kinds(result) == [("campaign_replace", "high", "1000.00")]


def test_stacking_does_not_depend_on_the_order_campaigns_are_written() -> None:
    campaigns = [
        campaign_with(
            f"c{i}",
            stacking=mode,
            priority=i % 3,
            rate=f"0.0{i}",
            categories=["a"] if i % 2 else [],
        )
        for i, mode in enumerate(
            ["add", "replace", "exclusive", "add", "replace", "exclusive", "add"], start=1
        )
    ]
    purchase = _buy(_line(1234, "a", "s1"), _line(5678, "b", "s2"))
    results = set()
    for seed in range(5):
        shuffled = campaigns[:]
        random.Random(seed).shuffle(shuffled)
        results.add(json.dumps(_eval(rules_with(campaigns=shuffled), purchase).to_json()))
    assert len(results) == 1


def test_campaign_targets_categories_skus_and_channels() -> None:
    rules = rules_with(
        campaigns=[
            campaign_with("cat", categories=["shoes"], rate="0.01"),
            campaign_with("sku", skus=["TENIS-42"], rate="0.02"),
            campaign_with("app", channels=["app"], rate="0.04"),
        ]
    )
    lines = (
        _line(10000, "shoes", "BOTA-1"),
        _line(10000, "fashion", "TENIS-42"),
        _line(10000, "fashion", "CAMISA"),
    )
    online = _eval(rules, _buy(*lines))
    assert [item.rule for item in online.lines[0].items] == ["base", "cat"]
    assert [item.rule for item in online.lines[1].items] == ["base", "sku"]
    assert [item.rule for item in online.lines[2].items] == ["base"]
    in_app = _eval(rules, _buy(*lines, channel="app"))
    assert in_app.cashback == online.cashback + 3 * 400


def test_campaign_ending_at_midnight_sao_paulo_time() -> None:
    rules = rules_with(
        campaigns=[
            campaign_with("bf", starts_at="2026-11-27T00:00:00", ends_at="2026-11-30T00:00:00")
        ]
    )
    last_second = datetime(2026, 11, 30, 2, 59, 59, tzinfo=UTC)  # 23:59:59 on the 29th
    midnight = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # 00:00 on the 30th, local
    first_second = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    assert _eval(rules, _buy(_line(10000), at=last_second)).campaigns == ("bf",)
    assert _eval(rules, _buy(_line(10000), at=midnight)).campaigns == ()
    assert _eval(rules, _buy(_line(10000), at=first_second)).campaigns == ("bf",)
    assert _eval(rules, _buy(_line(10000), at=first_second - timedelta(seconds=1))).campaigns == ()


def test_campaign_window_is_the_same_instant_whatever_offset_the_purchase_uses() -> None:
    rules = rules_with(campaigns=[campaign_with(ends_at="2026-11-30T00:00:00")])
    utc_plus_9 = datetime(2026, 11, 30, 11, 59, 59, tzinfo=zone("Asia/Tokyo"))
    assert _eval(rules, _buy(_line(10000), at=utc_plus_9)).campaigns == ("c1",)


def test_campaign_threshold_is_inclusive_and_reports_the_shortfall() -> None:
    rules = rules_with(campaigns=[campaign_with(min_order_amount=20000, rate="0.10")])
    short = _eval(rules, _buy(_line(19990)))
    assert short.cashback == 999 and short.campaigns == ()
    assert [tuple(m) for m in short.missed] == [("c1", "C1", 10)]
    assert _eval(rules, _buy(_line(20000))).cashback == 3000


# --- thresholds, bonuses, channels -------------------------------------------------------


def test_order_below_the_program_threshold_earns_nothing() -> None:
    rules = rules_with(min_order_amount=20000)
    below = _eval(rules, _buy(_line(19999)))
    assert below.cashback == 0
    assert [tuple(cut) for cut in below.cuts] == [("threshold", None, Decimal("999.95"), 20000)]
    assert _eval(rules, _buy(_line(20000))).cashback == 1000


def test_green_bonus_applies_to_eco_lines_only() -> None:
    rules = rules_with(green={"extra_rate": "0.02"})
    result = _eval(rules, _buy(_line(10000, eco=True), _line(10000, sku="x")))
    assert result.cashback == 700 + 500
    assert _kinds(result, 0)[-1] == ("green", "green", "200.00")


def test_birthday_bonus_in_the_birthday_month_in_local_time() -> None:
    rules = rules_with(birthday={"extra_rate": "0.05", "fixed": 300})
    birthday = Context(birthday=Birthday(11, 25))
    assert _eval(rules, _buy(_line(10000)), birthday).cashback == 500 + 500 + 300
    # 1 December 01:00 UTC is still 30 November in São Paulo.
    late = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    assert _eval(rules, _buy(_line(10000), at=late), birthday).cashback == 1300
    assert _eval(rules, _buy(_line(10000), at=late + timedelta(hours=3)), birthday).cashback == 500
    assert _eval(rules, _buy(_line(10000))).cashback == 500  # no birthday sent


def test_birthday_bonus_on_the_day_and_29_february_in_a_common_year() -> None:
    rules = rules_with(birthday={"extra_rate": "0.05", "scope": "day"})
    on_day = datetime(2027, 2, 28, 15, 0, tzinfo=UTC)
    assert (
        _eval(rules, _buy(_line(10000), at=on_day), Context(birthday=Birthday(2, 29))).cashback
        == 1000
    )
    assert (
        _eval(rules, _buy(_line(10000), at=on_day), Context(birthday=Birthday(2, 27))).cashback
        == 500
    )
    with pytest.raises(ValueError):
        Birthday(2, 30)


def test_first_purchase_bonus_rate_and_fixed_amount() -> None:
    rules = rules_with(first_purchase={"extra_rate": "0.05", "fixed": 1000})
    first = _eval(rules, _buy(_line(10000)), Context(first_purchase=True))
    assert first.cashback == 500 + 500 + 1000
    assert [tuple(item) for item in first.order_items] == [
        ("first_purchase", "first_purchase", "First-purchase bonus", Decimal(0), Decimal(1000))
    ]
    assert _eval(rules, _buy(_line(10000))).cashback == 500


def test_channel_rules_for_an_omnichannel_program() -> None:
    rules = rules_with(channels={"store": {"earns": False}, "app": {"extra_rate": "0.01"}})
    store = _eval(rules, _buy(_line(10000), channel="store"))
    assert store.cashback == 0
    assert [tuple(cut) for cut in store.cuts] == [("channel", "store", Decimal("500.00"), 0)]
    assert _eval(rules, _buy(_line(10000), channel="app")).cashback == 600
    assert _eval(rules, _buy(_line(10000), channel="online")).cashback == 500


def test_segment_rates_add_for_each_segment_the_purchase_carries() -> None:
    rules = rules_with(segments={"vip": {"extra_rate": "0.02"}, "b2b": {"extra_rate": "0.01"}})
    plain = _buy(_line(10000))
    assert _eval(rules, plain).cashback == 500
    vip = _eval(rules, replace(plain, segments=("vip",)))
    assert vip.cashback == 700
    assert ("segment", "vip", "200.00") in _kinds(vip)
    # Both segments add; a segment named twice counts once; one without a rule adds nothing.
    both = replace(plain, segments=("vip", "b2b", "vip", "students"))
    assert _eval(rules, both).cashback == 800
    explained = customer_explanation(_eval(rules, replace(plain, segments=("vip",))))
    assert "Bonus of 2% for vip customers on 1 item: BRL 2.00." in explained


# --- caps and budgets -------------------------------------------------------------------


def test_per_order_cap() -> None:
    result = _eval(rules_with(caps={"per_order": 2000}), _buy(_line(100000)))
    assert result.cashback == 2000
    assert [tuple(cut) for cut in result.cuts] == [("order_cap", None, Decimal("3000.00"), 2000)]


def test_monthly_cap_counts_what_was_earned_this_month() -> None:
    rules = rules_with(caps={"per_customer_month": 5000})
    assert _eval(rules, _buy(_line(100000)), Context(earned_this_month=4200)).cashback == 800
    assert _eval(rules, _buy(_line(100000)), Context(earned_this_month=6000)).cashback == 0
    result = _eval(rules, _buy(_line(10000)), Context(earned_this_month=4200))
    assert result.cashback == 500 and result.cuts == ()


def test_monthly_cap_month_is_the_local_calendar_month() -> None:
    at = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 30 November, 23:00 in São Paulo
    assert _eval(rules_with(), _buy(_line(100), at=at)).month == "2026-11"
    assert _eval(rules_with(), _buy(_line(100), at=at + timedelta(hours=1))).month == "2026-12"


def test_budget_cuts_the_campaign_to_what_remains() -> None:
    rules = rules_with(campaigns=[campaign_with(budget=1_000_000, rate="0.10")])
    purchase = _buy(_line(10000))
    plenty = _eval(rules, purchase, Context(budget_remaining={"c1": 5000}))
    assert (plenty.cashback, dict(plenty.budget_consumption)) == (1500, {"c1": 1000})
    nearly = _eval(rules, purchase, Context(budget_remaining={"c1": 250}))
    assert (nearly.cashback, dict(nearly.budget_consumption)) == (750, {"c1": 250})
    assert [tuple(cut) for cut in nearly.cuts] == [("budget", "c1", Decimal("750.00"), 250)]
    spent = _eval(rules, purchase, Context(budget_remaining={"c1": 0}))
    assert (spent.cashback, dict(spent.budget_consumption)) == (500, {})
    unknown = _eval(rules, purchase, Context(budget_remaining={"c1": None}))
    assert (unknown.cashback, dict(unknown.budget_consumption)) == (1500, {"c1": 1000})


def test_campaign_without_budget_consumes_nothing() -> None:
    result = _eval(rules_with(campaigns=[campaign_with()]), _buy(_line(10000)))
    assert result.campaigns == ("c1",) and dict(result.budget_consumption) == {}


def test_cap_comes_out_of_the_lowest_ranked_campaign_first() -> None:
    rules = rules_with(
        caps={"per_order": 1200},
        campaigns=[
            campaign_with("top", priority=2, rate="0.05", budget=10**6),
            campaign_with("low", priority=1, rate="0.05", budget=10**6),
        ],
    )
    result = _eval(rules, _buy(_line(10000)))
    assert result.cashback == 1200
    assert dict(result.budget_consumption) == {"top": 500, "low": 200}


def test_budget_shares_add_up_to_the_cashback_despite_rounding() -> None:
    rules = rules_with(
        base_rate="0.0333",
        campaigns=[
            campaign_with("a", priority=2, rate="0.0333", budget=10**6),
            campaign_with("b", priority=1, rate="0.0333", budget=10**6),
        ],
    )
    result = _eval(rules, _buy(_line(1001)))  # 33.3333 x 3 = 99.9999 -> 99
    assert result.cashback == 99
    assert dict(result.budget_consumption) == {"a": 34, "b": 31}  # base takes 34


# --- points ------------------------------------------------------------------------------


def test_points_mode_credits_points_per_currency_unit_rounded_once() -> None:
    rules = rules_with(
        points={"points_per_currency_unit": "10", "minor_units_per_point": "1"},
        first_purchase={"fixed": 50},
        caps={"per_order": 1000},
    )
    result = _eval(rules, _buy(_line(12990)), Context(first_purchase=True))
    # R$ 129.90 x 5% = R$ 6.495 of value = 64.95 points, + 50 fixed points
    assert (result.unit, result.gross, result.cashback) == ("points", Decimal("114.95"), 114)
    capped = _eval(rules, _buy(_line(10_000_000)))
    assert capped.cashback == 1000


def test_points_mode_in_a_currency_without_minor_units() -> None:
    rules = RuleSet.model_validate(
        {
            "currency": "CLP",
            "time_zone": "America/Santiago",
            "effective_from": "2026-01-01T00:00:00Z",
            "base_rate": "0.01",
            "points": {"points_per_currency_unit": "0.1", "minor_units_per_point": "10"},
        }
    )
    purchase = Purchase(59990, "CLP", T, "online", (_line(59990),))
    assert _eval(rules, purchase).cashback == 59  # 599.9 pesos of value x 0.1


# --- lifecycle ---------------------------------------------------------------------------


def _local(y: int, mo: int, d: int, h: int = 0, tz: str = "America/Sao_Paulo") -> datetime:
    return datetime(y, mo, d, h, tzinfo=zone(tz)).astimezone(UTC)


@pytest.mark.parametrize(
    ("expiry", "expires"),
    [
        ({"kind": "rolling", "days": 180}, _local(2027, 5, 10)),
        ({"kind": "end_of_month", "months_after": 2}, _local(2027, 2, 1)),
        ({"kind": "end_of_year", "years_after": 1}, _local(2028, 1, 1)),
        ({"kind": "inactivity", "days": 365}, _local(2027, 11, 11)),
        ({"kind": "never"}, None),
    ],
)
def test_lot_dates_follow_the_expiry_policy_in_local_time(
    expiry: dict[str, Any], expires: datetime | None
) -> None:
    rules = rules_with(lifecycle={"return_window_days": 30, "expiry": expiry})
    result = _eval(rules, _buy(_line(10000)))
    assert result.available_at == _local(2026, 12, 10, 15)
    assert result.expires_at == expires


def test_end_of_month_expiry_uses_the_local_month() -> None:
    rules = rules_with(lifecycle={"return_window_days": 0, "expiry": {"kind": "end_of_month"}})
    at = datetime(2027, 1, 1, 2, 0, tzinfo=UTC)  # 31 December, 23:00 in São Paulo
    assert _eval(rules, _buy(_line(10000), at=at)).expires_at == _local(2027, 1, 1)


def test_rolling_expiry_lands_on_local_midnight_across_daylight_saving() -> None:
    rules = RuleSet.model_validate(
        {
            "currency": "USD",
            "time_zone": "America/New_York",
            "effective_from": "2026-01-01T00:00:00Z",
            "base_rate": "0.05",
            "lifecycle": {"return_window_days": 7, "expiry": {"kind": "rolling", "days": 30}},
        }
    )
    at = datetime(2026, 10, 30, 16, 0, tzinfo=UTC)  # 12:00 EDT, before clocks go back
    result = evaluate(
        rules, Purchase(100, "USD", at, "online", (_line(100),)), Context(), version=1
    )
    assert result.available_at == datetime(2026, 11, 6, 17, 0, tzinfo=UTC)  # 12:00 EST
    assert result.expires_at == datetime(2026, 11, 30, 5, 0, tzinfo=UTC)  # midnight EST


def test_campaign_lifecycle_overrides_the_programs_for_its_lot() -> None:
    rules = rules_with(
        lifecycle={"return_window_days": 30},
        campaigns=[
            campaign_with(
                lifecycle={"return_window_days": 7, "expiry": {"kind": "rolling", "days": 60}},
                categories=["promo"],
            )
        ],
    )
    with_campaign = _eval(rules, _buy(_line(10000, "promo")))
    assert with_campaign.available_at == _local(2026, 11, 17, 15)
    assert with_campaign.expires_at == _local(2027, 1, 10)
    without = _eval(rules, _buy(_line(10000, "other")))
    assert without.available_at == _local(2026, 12, 10, 15)


def test_inactivity_deadline_moves_with_the_last_activity() -> None:
    policy = Inactivity(kind="inactivity", days=90)
    assert deadlines.inactivity_deadline(policy, T, SAO_PAULO) == _local(2027, 2, 9)
    later = T + timedelta(days=10)
    assert deadlines.inactivity_deadline(policy, later, SAO_PAULO) == _local(2027, 2, 19)


# --- inputs, determinism, breakdown ------------------------------------------------------


def test_purchase_in_another_currency_is_refused() -> None:
    with pytest.raises(CurrencyMismatch):
        _eval(rules_with(), _buy(_line(100), currency="USD"))


def test_naive_occurred_at_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        _eval(rules_with(), _buy(_line(100), at=datetime(2026, 11, 10, 12)))


def test_api_purchase_request_is_evaluated_directly() -> None:
    request = PurchaseRequest.model_validate(
        {
            "order_id": "o1",
            "customer_id": "c1",
            "amount": 12990,
            "currency": "BRL",
            "occurred_at": "2026-11-10T15:00:00-03:00",
            "channel": "online",
            "lines": [{"sku": "s1", "category": "misc", "amount": 12990}],
        }
    )
    assert evaluate(rules_with(), request, Context(), version=1).cashback == 649


def _example() -> RuleSet:
    text = (ROOT / "docs" / "rules.example.json").read_text(encoding="utf-8")
    return RuleSet.model_validate_json(text)


BLACK_FRIDAY = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
BASKET = _buy(
    _line(20000, "fashion", "CAMISA-1"),
    _line(15000, "shoes", "TENIS-RUN-42", True),
    _line(15000, "electronics", "TV-1"),
    _line(5000, "gift-cards", "GC-50"),
    _line(5000, "clearance", "BLUSA-9"),
    at=BLACK_FRIDAY,
    channel="app",
)
CUSTOMER = Context(
    trailing_spend=300000,
    first_purchase=True,
    birthday=Birthday(11, 3),
    budget_remaining={"black-friday-2026": 1000},
)


def test_example_program_on_black_friday_to_the_centavo() -> None:
    result = evaluate(_example(), BASKET, CUSTOMER, version=3)
    assert (result.gross, result.cashback, result.tier) == (Decimal(9850), 8350, "Prata")
    assert result.campaigns == ("liquida-verao", "black-friday-2026", "app-em-dobro")
    assert dict(result.budget_consumption) == {"black-friday-2026": 1000}
    assert [line.value for line in result.lines] == [
        Decimal(3400),
        Decimal(3300),
        Decimal(2100),
        0,
        Decimal(50),
    ]
    assert result.expires_at == _local(2027, 2, 27)  # Black Friday's own 90-day expiry


def test_same_purchase_same_version_same_result_and_breakdown_round_trips() -> None:
    first = evaluate(_example(), BASKET, CUSTOMER, version=3)
    again = evaluate(_example(), BASKET, CUSTOMER, version=3)
    assert first == again
    stored = json.loads(json.dumps(first.to_json()))
    assert Evaluation.from_json(stored) == first


def test_customer_explanation_in_plain_words() -> None:
    sentences = customer_explanation(evaluate(_example(), BASKET, CUSTOMER, version=3))
    assert sentences[0] == "This order earns BRL 83.50 in cashback."
    assert "Fashion rate of 5% on 1 item: BRL 10.00." in sentences
    assert "Prata tier bonus of 1% on 3 items: BRL 5.00." in sentences
    assert "Liquida Verão: 1% on 1 item (not combined with other offers): BRL 0.50." in sentences
    assert "First-purchase bonus: BRL 10.00." in sentences
    assert "1 item in categories that do not earn." in sentences
    assert "The Black Friday budget is almost used up, so it gave BRL 15.00 less." in sentences
    assert sentences[-1] == (
        "It becomes available on 28 Dec 2026 and can be used until the end of 26 Feb 2027."
    )


def test_explanation_of_cuts_and_missed_campaigns() -> None:
    rules = rules_with(min_order_amount=5000, campaigns=[campaign_with(min_order_amount=30000)])
    sentences = customer_explanation(_eval(rules, _buy(_line(4990))))
    assert sentences == [
        "This order earns no cashback.",
        "Base rate of 5% on 1 item: BRL 2.49.",
        "Orders under BRL 50.00 do not earn.",
        "Spend BRL 250.10 more to get C1.",
    ]
    capped = rules_with(
        caps={"per_order": 100, "per_customer_month": 150},
        lifecycle={"expiry": {"kind": "inactivity", "days": 90}},
        points={"points_per_currency_unit": "100", "minor_units_per_point": "1"},
    )
    sentences = customer_explanation(
        _eval(capped, _buy(_line(10000)), Context(earned_this_month=90))
    )
    assert sentences == [
        "This order earns 60 points.",
        "Base rate of 5% on 1 item: 500 points.",
        "Each order earns at most 100 points, so this one got 400 points less.",
        "The monthly limit had 60 points left this month, so this order got 40 points less.",
        "It becomes available on 10 Dec 2026 and expires after 90 days without activity.",
    ]


# --- properties --------------------------------------------------------------------------

CATEGORIES = ["a", "b", "c", "gift"]
SKUS = ["s1", "s2", "s3", "s4"]
rates = st.integers(0, 2000).map(lambda n: f"0.{n:04d}")
amounts = st.integers(1, 10**7)


@st.composite
def campaigns(draw: st.DrawFn, index: int, limits: bool) -> dict[str, Any]:
    stacking = draw(st.sampled_from(["add", "replace", "exclusive"]))
    running = draw(st.booleans()) or index == 0
    campaign = campaign_with(
        f"c{index}",
        rate=draw(rates),
        stacking=stacking,
        priority=draw(st.integers(-2, 2))
        if stacking == "exclusive" or draw(st.booleans())
        else None,
        categories=draw(st.lists(st.sampled_from(CATEGORIES[:3]), max_size=2, unique=True)),
        skus=draw(st.lists(st.sampled_from(SKUS), max_size=2, unique=True)),
        channels=draw(
            st.lists(st.sampled_from(["online", "store", "app"]), max_size=2, unique=True).filter(
                lambda channels: channels != ["store"]
            )
        ),
    )
    if not running:
        campaign.update(starts_at="2027-01-01T00:00:00", ends_at="2027-02-01T00:00:00")
    if limits:
        campaign["min_order_amount"] = draw(st.sampled_from([0, 0, 5000, 10**6]))
        if draw(st.booleans()):
            campaign["budget"] = draw(st.integers(0, 10**6))
    return campaign


@st.composite
def programs(draw: st.DrawFn, limits: bool = True) -> RuleSet:
    program: dict[str, Any] = {
        "base_rate": draw(rates),
        "excluded_categories": ["gift"],
        "category_rates": draw(st.dictionaries(st.sampled_from(CATEGORIES[:3]), rates, max_size=3)),
        "tiers": {
            "levels": [
                {"name": "T0", "min_spend": 0, "extra_rate": draw(rates)},
                {"name": "T1", "min_spend": 10**6, "extra_rate": draw(rates)},
            ]
        },
        "green": {"extra_rate": draw(rates)},
        "birthday": {"extra_rate": draw(rates), "fixed": draw(st.integers(0, 1000))},
        "first_purchase": {"extra_rate": draw(rates), "fixed": draw(st.integers(0, 1000))},
        "channels": {
            "app": {"extra_rate": draw(rates)},
            "store": {"earns": draw(st.booleans()) or not limits},
        },
        "segments": {"vip": {"extra_rate": draw(rates)}, "b2b": {"extra_rate": draw(rates)}},
        "favourite_category": {"extra_rate": draw(rates)},
        "cumulative": {
            "steps": [
                {"min_spend": 0, "extra_rate": "0"},
                {"min_spend": 10**6, "extra_rate": draw(rates.filter(lambda r: r != "0.0000"))},
            ]
        },
        "milestones": [
            {
                "id": "m1",
                "kind": "nth_purchase",
                "n": 3,
                "bonus": {"extra_rate": draw(rates), "fixed": draw(st.integers(0, 1000))},
            },
            {"id": "m2", "kind": "spend", "amount": 10**6, "bonus": {"extra_rate": draw(rates)}},
        ],
        "campaigns": [draw(campaigns(i, limits)) for i in range(draw(st.integers(0, 6)))],
    }
    if limits:
        program["min_order_amount"] = draw(st.sampled_from([0, 0, 1000, 10**5]))
        program["caps"] = {
            "per_order": draw(st.none() | st.integers(0, 10**5)),
            "per_customer_month": draw(st.none() | st.integers(0, 10**5)),
        }
    if draw(st.booleans()):
        program["points"] = {
            "points_per_currency_unit": draw(st.sampled_from(["1", "10", "0.5"])),
            "minor_units_per_point": "1",
        }
    return rules_with(**program)


@st.composite
def purchases(draw: st.DrawFn) -> Purchase:
    lines = draw(
        st.lists(
            st.builds(
                Line, st.sampled_from(SKUS), st.sampled_from(CATEGORIES), amounts, st.booleans()
            ),
            min_size=1,
            max_size=6,
        )
    )
    bought = _buy(*lines, channel=draw(st.sampled_from(["online", "store", "app"])))
    segments = draw(st.lists(st.sampled_from(["vip", "b2b", "unknown"]), max_size=3))
    return replace(bought, segments=tuple(segments))


@st.composite
def contexts(draw: st.DrawFn) -> Context:
    return Context(
        trailing_spend=draw(st.integers(0, 2 * 10**6)),
        earned_this_month=draw(st.integers(0, 2 * 10**5)),
        first_purchase=draw(st.booleans()),
        birthday=draw(st.none() | st.just(Birthday(11, 1)) | st.just(Birthday(3, 1))),
        budget_remaining={f"c{i}": draw(st.none() | st.integers(-5, 10**5)) for i in range(6)},
        favourite_category=draw(st.none() | st.sampled_from(CATEGORIES)),
        lifetime_spend=draw(st.integers(0, 2 * 10**6)),
        milestones=tuple(draw(st.lists(st.sampled_from(["m1", "m2", "gone"]), unique=True))),
    )


def _upper_bound(rules: RuleSet, purchase: Purchase) -> Decimal:
    """The most any line could earn: the largest base-like rate plus every extra and every
    add campaign, whether it applies or not; plus every fixed bonus."""
    extras = sum(
        (
            Decimal(r)
            for r in [
                *(tier.extra_rate for tier in (rules.tiers.levels if rules.tiers else ())),
                *(rule.extra_rate for rule in rules.channels.values()),
                *(rule.extra_rate for rule in rules.segments.values()),
                rules.green.extra_rate if rules.green else 0,
                rules.birthday.extra_rate if rules.birthday else 0,
                rules.first_purchase.extra_rate if rules.first_purchase else 0,
                *(c.rate for c in rules.campaigns if c.stacking == "add"),
                growth.most_extra(rules)[0],
            ]
        ),
        Decimal(0),
    )
    base = max(
        [rules.base_rate, *rules.category_rates.values(), *(c.rate for c in rules.campaigns)]
    )
    factor = Decimal(1)
    if rules.points:
        factor = rules.points.points_per_currency_unit / 100
    fixed = sum(bonus.fixed for bonus in (rules.birthday, rules.first_purchase) if bonus)
    fixed += growth.most_extra(rules)[1]
    return sum(line.amount for line in purchase.lines) * (base + extras) * factor + fixed


@settings(max_examples=100, deadline=None)
@given(rules=programs(), purchase=purchases(), context=contexts())
def test_cashback_is_never_negative_nor_above_a_cap_a_budget_or_the_rates(
    rules: RuleSet, purchase: Purchase, context: Context
) -> None:
    result = evaluate(rules, purchase, context, version=1)
    assert result.cashback >= 0
    if rules.caps.per_order is not None:
        assert result.cashback <= rules.caps.per_order
    if rules.caps.per_customer_month is not None:
        assert result.cashback <= max(rules.caps.per_customer_month - context.earned_this_month, 0)
    budgets = {c.id: c.budget for c in rules.campaigns}
    for campaign, taken in result.budget_consumption.items():
        assert 0 < taken <= (budgets[campaign] or 0)
        remaining = context.budget_remaining.get(campaign)
        assert remaining is None or taken <= remaining
    assert sum(result.budget_consumption.values()) <= result.cashback
    line_rates = sum((line.amount * line.rate for line in result.lines), Decimal(0))
    factor = (rules.points.points_per_currency_unit / 100) if rules.points else 1
    fixed = sum((item.value for item in result.order_items), Decimal(0))
    assert result.cashback <= line_rates * factor + fixed
    assert result.cashback <= _upper_bound(rules, purchase)
    cuts = sum((cut.amount for cut in result.cuts), Decimal(0))
    assert result.cashback == math.floor(result.gross - cuts)
    assert 0 <= result.rounding < 1


@settings(max_examples=60, deadline=None)
@given(rules=programs(limits=False), purchase=purchases(), context=contexts(), data=st.data())
def test_cashback_is_monotone_in_the_order_amount_without_thresholds_or_caps(
    rules: RuleSet, purchase: Purchase, context: Context, data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(purchase.lines) - 1))
    more = data.draw(st.integers(1, 10**6))
    lines = list(purchase.lines)
    lines[index] = Line(
        lines[index].sku, lines[index].category, lines[index].amount + more, lines[index].eco
    )
    bigger = replace(_buy(*lines, channel=purchase.channel), segments=purchase.segments)
    assert (
        evaluate(rules, bigger, context, version=1).cashback
        >= evaluate(rules, purchase, context, version=1).cashback
    )


@settings(max_examples=40, deadline=None)
@given(rules=programs(), purchase=purchases(), context=contexts(), seed=st.integers(0, 99))
def test_stacking_is_deterministic_whatever_the_campaign_order(
    rules: RuleSet, purchase: Purchase, context: Context, seed: int
) -> None:
    shuffled = list(rules.campaigns)
    random.Random(seed).shuffle(shuffled)
    reordered = rules.model_copy(update={"campaigns": tuple(shuffled)})
    first = evaluate(rules, purchase, context, version=1)
    assert evaluate(reordered, purchase, context, version=1) == first
    assert Evaluation.from_json(json.loads(json.dumps(first.to_json()))) == first
    assert customer_explanation(first)[0].startswith("This order earns")


# --- checkout ----------------------------------------------------------------------------


def test_checkout_may_pay_at_most_the_programs_share_of_an_order() -> None:
    rules = rules_with(lifecycle={"max_redeem_share": "0.3"})
    assert redeemable(rules, 12990, 10000) == (3897, 3897)  # 30% of 129.90, rounded down
    assert redeemable(rules, 12990, 1000) == (1000, 1000)
    assert redeemable(rules, 0, 1000) == (0, 0)


def test_points_are_spent_whole_at_their_redemption_value() -> None:
    rules = rules_with(
        lifecycle={"max_redeem_share": "0.5"},
        points={"points_per_currency_unit": "100", "minor_units_per_point": "0.7"},
    )
    # At most R$ 50.00 of a R$ 100.00 order: 7142 points pay R$ 49.99 (7143 would be 50.001).
    assert redeemable(rules, 10000, 100_000) == (7142, 4999)
    assert redeemable(rules, 10000, 1000) == (1000, 700)
