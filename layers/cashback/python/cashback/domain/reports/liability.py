"""The liability roll-forward: what the program owed at the start of each period, what it
issued and what left it (spent at checkout, paid out, expired, clawed back, voided), and
what it owes at the end, by state. Every number is a sum of ledger entries' deltas, so it
reconciles with the ledger to the minor unit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date
from typing import Literal

from cashback.domain.errors import Unprocessable

Granularity = Literal["day", "month"]
# What the program owes a customer, by state: cashback waiting out the return window,
# spendable, held for a risk analyst, reserved by a checkout hold or a payout request.
STATES = ("pending", "available", "held", "reserved")
# Held cashback that leaves without being earned: rejected by an analyst, or its purchase
# refunded while it waited.
VOIDING = ("reject", "refund")
MOVEMENTS = ("issued", "spent", "paid_out", "expired", "clawed_back", "voided")


@dataclass(frozen=True)
class Period:
    start: str
    end: str
    opening: int
    issued: int
    spent: int
    paid_out: int
    expired: int
    clawed_back: int
    voided: int
    closing: int
    closing_by_state: dict[str, int]
    # Customers' debt to the program (refunds of cashback already spent): not a liability.
    debt: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def movements(counters: Mapping[str, int]) -> dict[str, int]:
    """A day's (or any run of days') roll-forward terms and state changes from its
    `<kind>.<field>` sums. Issued is what was earned or held (approving held cashback moves
    it between the two and issues nothing); voided is held cashback that was rejected or
    refunded before anyone decided."""
    field_sums: dict[str, int] = {}
    issued = voided = 0
    for name, value in counters.items():
        kind, _, field_name = name.partition(".")
        if field_name == "n":
            continue
        field_sums[field_name] = field_sums.get(field_name, 0) + value
        if kind in VOIDING and field_name == "held":
            voided -= value
        elif field_name in ("earned", "held"):
            issued += value
    moved = {
        "issued": issued,
        "voided": voided,
        **{name: field_sums.get(name, 0) for name in ("spent", "paid_out", "expired")},
        "clawed_back": field_sums.get("clawed_back", 0),
    }
    moved.update({f"state.{state}": field_sums.get(state, 0) for state in (*STATES, "debt")})
    return moved


MAX_DAYS = 366  # a daily report covers at most a year, a monthly one ten
MAX_MONTHS = 120
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)


def check_range(start: date, end: date, granularity: Granularity) -> None:
    """A report's range: in order, within the program's era, and a readable length."""
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    if not FIRST_DAY <= start <= end <= LAST_DAY:
        raise Unprocessable(
            "from must not be after to, both between 2000-01-01 and 2999-12-31",
            code="report_range",
        )
    if granularity == "day" and (end - start).days >= MAX_DAYS:
        raise Unprocessable("a daily report covers up to 366 days", code="report_range")
    if months > MAX_MONTHS:
        raise Unprocessable("a monthly report covers up to 120 months", code="report_range")


def period_of(day: str, granularity: Granularity) -> str:
    return day if granularity == "day" else day[:7]


def roll_forward(
    days: Iterable[tuple[str, Mapping[str, int]]],
    start: date,
    end: date,
    granularity: Granularity,
) -> list[Period]:
    """Periods from `start` to `end` (inclusive, ISO days), from every day's counters up to
    `end` (days before `start` make the opening balance). Periods with no movement are
    listed too, so a chart has no gaps."""
    first, last = start.isoformat(), end.isoformat()
    balance = dict.fromkeys((*STATES, "debt"), 0)
    within: dict[str, dict[str, int]] = {}
    for day, counters in days:
        if day > last:
            continue
        moved = movements(counters)
        if day < first:
            for state in balance:
                balance[state] += moved[f"state.{state}"]
            continue
        summed = within.setdefault(period_of(day, granularity), {})
        for name, value in moved.items():
            summed[name] = summed.get(name, 0) + value
    periods = []
    for label, (period_start, period_end) in _periods(start, end, granularity):
        moved = within.get(label, {})
        opening = sum(balance[state] for state in STATES)
        for state in balance:
            balance[state] += moved.get(f"state.{state}", 0)
        periods.append(
            Period(
                start=period_start,
                end=period_end,
                opening=opening,
                **{name: moved.get(name, 0) for name in MOVEMENTS},
                closing=sum(balance[state] for state in STATES),
                closing_by_state={state: balance[state] for state in STATES},
                debt=balance["debt"],
            )
        )
    return periods


def _periods(
    start: date, end: date, granularity: Granularity
) -> Iterable[tuple[str, tuple[str, str]]]:
    day = start
    while day <= end:
        if granularity == "day":
            yield day.isoformat(), (day.isoformat(), day.isoformat())
            day = date.fromordinal(day.toordinal() + 1)
            continue
        following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        last = min(end, date.fromordinal(following.toordinal() - 1))
        yield day.isoformat()[:7], (day.isoformat(), last.isoformat())
        day = following
