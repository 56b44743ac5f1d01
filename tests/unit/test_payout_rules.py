"""Payout rules (issue 10): the storefront's settings, and each refusal of a requested
payout with its exact code and details: debt, review, minimum, daily and monthly limits in
the storefront's time zone. Property: accepted payouts never exceed a limit."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from cashback.domain.errors import Unprocessable
from cashback.domain.payouts.rules import (
    PaidOutTally,
    PayoutSettings,
    Standing,
    check_payout,
    day_key,
    month_key,
)

SAO_PAULO = ZoneInfo("America/Sao_Paulo")  # UTC-3, no daylight saving since 2019
NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # 12:00 on 30 November in Sao Paulo
LIMITED = PayoutSettings(daily_limit=50_000, monthly_limit=200_000)


def refusal(
    amount: int,
    standing: Standing | None = None,
    settings: PayoutSettings = LIMITED,
    now: datetime = NOW,
) -> tuple[str, Any]:
    with pytest.raises(Unprocessable) as refused:
        check_payout(settings, amount, standing or Standing(), now, SAO_PAULO)
    return refused.value.code, refused.value.details


def paid(*payouts: tuple[datetime, int]) -> Standing:
    tally = PaidOutTally()
    for at, amount in payouts:
        tally = tally.counted(at, amount, SAO_PAULO)
    return Standing(paid_out=tally)


def test_the_defaults_are_a_minimum_of_r_20_no_limits_and_a_30_day_return_window() -> None:
    settings = PayoutSettings()
    assert settings.model_dump() == {
        "minimum": 2000,
        "daily_limit": None,
        "monthly_limit": None,
        "return_window_days": 30,
        "hold_free": True,
    }


@pytest.mark.parametrize(
    "fields",
    [
        {"minimum": 0},
        {"minimum": -1},
        {"daily_limit": 0},
        {"return_window_days": 366},
        {"minimum": 5000, "daily_limit": 4999},
        {"daily_limit": 10_000, "monthly_limit": 9_999},
        {"fee": 100},
    ],
)
def test_settings_that_allow_nothing_or_are_unknown_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        PayoutSettings(**fields)


def test_a_payout_at_the_minimum_is_accepted_and_one_below_is_refused() -> None:
    check_payout(PayoutSettings(), 2000, Standing(), NOW, SAO_PAULO)
    assert refusal(1999, settings=PayoutSettings()) == (
        "payout_below_minimum",
        {"minimum": 2000, "amount": 1999},
    )


def test_a_customer_with_debt_gets_no_payout_and_is_told_the_debt_first() -> None:
    assert refusal(100, Standing(debt=150)) == ("customer_has_debt", {"debt": 150})


def test_a_customer_with_a_purchase_in_review_gets_no_payout() -> None:
    assert refusal(5000, Standing(under_review=True)) == ("customer_under_review", None)


def test_a_storefront_that_does_not_require_hold_free_pays_during_a_review() -> None:
    check_payout(PayoutSettings(hold_free=False), 5000, Standing(under_review=True), NOW, SAO_PAULO)


def test_the_daily_limit_counts_what_was_paid_out_today_and_names_what_is_left() -> None:
    standing = paid((NOW - timedelta(hours=2), 30_000))
    check_payout(LIMITED, 20_000, standing, NOW, SAO_PAULO)
    code, details = refusal(20_001, standing)
    assert code == "payout_daily_limit"
    assert details == {
        "limit": "daily_limit",
        "limit_amount": 50_000,
        "paid_out": 30_000,
        "left": 20_000,
    }


def test_the_daily_limit_message_says_the_limit_and_what_is_left() -> None:
    with pytest.raises(Unprocessable) as refused:
        check_payout(LIMITED, 25_000, paid((NOW, 30_000)), NOW, SAO_PAULO)
    assert refused.value.message == (
        "a payout of 25000 exceeds the daily limit of 50000: "
        "30000 already paid out today, 20000 left"
    )


def test_the_day_is_the_storefronts_local_day() -> None:
    # 23:30 on 29 November in Sao Paulo is already 30 November in UTC.
    late_on_the_29th = datetime(2026, 11, 30, 2, 30, tzinfo=UTC)
    standing = paid((late_on_the_29th, 50_000))
    early_on_the_30th = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    check_payout(LIMITED, 50_000, standing, early_on_the_30th, SAO_PAULO)
    same_local_day = datetime(2026, 11, 30, 2, 59, tzinfo=UTC)
    assert refusal(2000, standing, now=same_local_day)[1]["left"] == 0


def test_the_monthly_limit_counts_the_local_calendar_month() -> None:
    standing = paid(
        (datetime(2026, 11, 2, 12, tzinfo=UTC), 45_000),
        (datetime(2026, 11, 10, 12, tzinfo=UTC), 45_000),
        (datetime(2026, 11, 20, 12, tzinfo=UTC), 45_000),
        (datetime(2026, 11, 25, 12, tzinfo=UTC), 45_000),
        # 22:00 on 30 November in Sao Paulo: November's, though December in UTC.
        (datetime(2026, 12, 1, 1, 0, tzinfo=UTC), 10_000),
    )
    on_the_30th = datetime(2026, 12, 1, 2, 59, tzinfo=UTC)
    assert refusal(10_001, standing, now=on_the_30th) == (
        "payout_monthly_limit",
        {"limit": "monthly_limit", "limit_amount": 200_000, "paid_out": 190_000, "left": 10_000},
    )
    on_december_1st = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    check_payout(LIMITED, 50_000, standing, on_december_1st, SAO_PAULO)


@pytest.mark.parametrize(
    ("standing", "amount", "code"),
    [
        (Standing(debt=1, under_review=True), 1, "customer_has_debt"),
        (Standing(under_review=True), 1, "customer_under_review"),
        (paid((NOW, 50_000)), 1, "payout_below_minimum"),
        (paid((NOW, 50_000)), 2000, "payout_daily_limit"),
    ],
)
def test_the_first_reason_is_given_debt_review_minimum_then_limits(
    standing: Standing, amount: int, code: str
) -> None:
    assert refusal(amount, standing)[0] == code


def test_a_failed_or_canceled_payout_is_uncounted_on_the_day_it_was_requested() -> None:
    requested_at = NOW - timedelta(hours=1)
    tally = PaidOutTally().counted(requested_at, 30_000, SAO_PAULO)
    tally = tally.counted(requested_at, -30_000, SAO_PAULO)
    assert tally == PaidOutTally({"2026-11-30": 0}, {"2026-11": 0})
    check_payout(LIMITED, 50_000, Standing(paid_out=tally), NOW, SAO_PAULO)


def test_the_tally_keeps_only_the_newest_month() -> None:
    october = datetime(2026, 10, 31, 12, tzinfo=UTC)
    tally = PaidOutTally().counted(october, 7000, SAO_PAULO).counted(NOW, 5000, SAO_PAULO)
    assert tally == PaidOutTally({"2026-11-30": 5000}, {"2026-11": 5000})
    # Uncounting October's payout now changes nothing any limit reads.
    assert tally.counted(october, -7000, SAO_PAULO) == tally


def test_day_and_month_keys_are_local() -> None:
    at = datetime(2027, 1, 1, 2, 0, tzinfo=UTC)  # 23:00 on 31 December 2026 in Sao Paulo
    assert (day_key(at, SAO_PAULO), month_key(at, SAO_PAULO)) == ("2026-12-31", "2026-12")


requests = st.lists(
    st.tuples(st.integers(min_value=0, max_value=60 * 24 * 70), st.integers(2000, 60_000)),
    max_size=30,
)


@given(requests=requests)
def test_accepted_payouts_never_exceed_a_daily_or_monthly_limit(
    requests: list[tuple[int, int]],
) -> None:
    standing = Standing()
    accepted: list[tuple[datetime, int]] = []
    start = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
    for minutes, amount in sorted(requests):
        at = start + timedelta(minutes=minutes)
        try:
            check_payout(LIMITED, amount, standing, at, SAO_PAULO)
        except Unprocessable as refused:
            assert refused.code in ("payout_daily_limit", "payout_monthly_limit")
            continue
        accepted.append((at, amount))
        standing = Standing(paid_out=standing.paid_out.counted(at, amount, SAO_PAULO))
    days: Counter[str] = Counter()
    months: Counter[str] = Counter()
    for at, amount in accepted:
        days[day_key(at, SAO_PAULO)] += amount
        months[month_key(at, SAO_PAULO)] += amount
    assert all(total <= 50_000 for total in days.values())
    assert all(total <= 200_000 for total in months.values())
