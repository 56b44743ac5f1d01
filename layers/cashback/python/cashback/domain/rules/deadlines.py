"""The dates of a lot, in the storefront's time zone.

A return window is counted in local calendar days at the same wall-clock time (30 days
after 14:05 is 14:05, whatever daylight saving did in between). Deadlines fall on local
midnight: "rolling 180 days" and "180 days without activity" end when the 180th local day
after the purchase (or the last activity) ends, "end of month" when the local month ends.
Local times that do not exist (a daylight-saving gap) or occur twice are resolved as
PEP 495 does with fold=0. Every result is returned in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cashback.domain.rules.expiry import EndOfMonth, EndOfYear, Expiry, Inactivity, Never, Rolling


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The instant a local day starts."""
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def local_day(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


def month_key(at: datetime, tz: ZoneInfo) -> str:
    """The local calendar month of an instant ("2026-11"): the key of the monthly cap."""
    return at.astimezone(tz).strftime("%Y-%m")


def available_at(occurred_at: datetime, return_window_days: int, tz: ZoneInfo) -> datetime:
    wall = occurred_at.astimezone(tz).replace(tzinfo=None) + timedelta(days=return_window_days)
    return wall.replace(tzinfo=tz).astimezone(UTC)


def _first_of_month(year: int, month: int) -> date:
    """The first day of a month counted from January of `year` (month may exceed 12)."""
    years, index = divmod(month - 1, 12)
    return date(year + years, index + 1, 1)


def expires_at(expiry: Expiry, occurred_at: datetime, tz: ZoneInfo) -> datetime | None:
    """The deadline of a lot earned at `occurred_at`; None when it never expires.

    Under the inactivity policy this is the deadline if the customer does nothing more;
    every later activity moves it (see `inactivity_deadline`)."""
    day = local_day(occurred_at, tz)
    match expiry:
        case Rolling(days=days) | Inactivity(days=days):
            return local_midnight(day + timedelta(days=days + 1), tz)
        case EndOfMonth(months_after=months):
            return local_midnight(_first_of_month(day.year, day.month + 1 + months), tz)
        case EndOfYear(years_after=years):
            return local_midnight(date(day.year + 1 + years, 1, 1), tz)
        case Never():
            return None
    raise TypeError(f"unknown expiry policy {expiry!r}")


def inactivity_deadline(expiry: Inactivity, last_activity_at: datetime, tz: ZoneInfo) -> datetime:
    """When a customer's lots expire if nothing happens after `last_activity_at`.

    Storage keeps the customer's last activity (the latest occurred_at of a purchase or a
    redemption) and the expiry job expires the customer's available lots once this
    deadline has passed; any newer activity moves it for all of them."""
    return local_midnight(local_day(last_activity_at, tz) + timedelta(days=expiry.days + 1), tz)
