"""The balance's monthly cap left: this month's room under the program in force, the month
local to the program's time zone, counted as accrual counts it (Account.earned_months)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cashback.domain import ledger
from cashback.domain.balances import MonthlyCap, monthly_cap
from cashback.domain.rules.ruleset import RuleSet

CAP = 30000


def program(**changes: Any) -> RuleSet:
    return RuleSet.model_validate(
        {
            "currency": "BRL",
            "time_zone": "America/Sao_Paulo",
            "effective_from": "2026-01-01T00:00:00Z",
            "base_rate": "0.10",
            "caps": {"per_customer_month": CAP},
            **changes,
        }
    )


def account(**earned: int) -> ledger.Account:
    months = {key.replace("_", "-").removeprefix("m"): v for key, v in earned.items()}
    return ledger.Account("t", "c", earned_months=months)


def test_no_program_or_no_cap_shows_none() -> None:
    now = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
    assert monthly_cap(None, account(m2026_11=100), now) is None
    assert monthly_cap(program(caps={}), account(m2026_11=100), now) is None


def test_left_is_the_cap_less_what_this_month_earned() -> None:
    now = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
    found = monthly_cap(program(), account(m2026_10=29000, m2026_11=12345), now)
    assert found == MonthlyCap("2026-11", CAP, CAP - 12345)
    assert monthly_cap(program(), account(), now) == MonthlyCap("2026-11", CAP, CAP)


def test_never_below_zero() -> None:
    now = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
    assert monthly_cap(program(), account(m2026_11=CAP + 1), now) == MonthlyCap("2026-11", CAP, 0)


def test_the_month_is_local_to_the_programs_time_zone() -> None:
    # 02:00 UTC on 1 December is still 30 November, 23:00, in Sao Paulo (UTC-3)...
    now = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    earned = account(m2026_11=10000, m2026_12=500)
    assert monthly_cap(program(), earned, now) == MonthlyCap("2026-11", CAP, CAP - 10000)
    # ... and already December in Tokyo.
    tokyo = program(time_zone="Asia/Tokyo")
    assert monthly_cap(tokyo, earned, now) == MonthlyCap("2026-12", CAP, CAP - 500)
