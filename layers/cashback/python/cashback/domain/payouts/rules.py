"""A storefront's payout rules (minimum, daily and monthly limits, return window, review),
and the check of a requested payout against them and the customer's standing.

Days and months are the storefront's local ones. What a customer paid out is kept as a
tally by local day and local month (as the account keeps spend by day): a payout counts
from its request, and a failed or canceled one counts no more once its money is back; a
returned one keeps counting (it left, and abuse of returns should not refill the limit)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cashback.domain.errors import Unprocessable
from cashback.domain.money import MAX_AMOUNT
from cashback.domain.payouts.status import DEFAULT_RETURN_WINDOW_DAYS

DEFAULT_MINIMUM = 2000  # R$ 20,00
Limit = Literal["daily_limit", "monthly_limit"]


class PayoutSettings(BaseModel):
    """A storefront's payout settings. Amounts in minor units of its currency."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    minimum: int = Field(default=DEFAULT_MINIMUM, ge=1, le=MAX_AMOUNT)
    """The smallest payout a customer may request."""
    daily_limit: int | None = Field(default=None, ge=1, le=MAX_AMOUNT)
    """The most one customer may pay out in a local day; None: no limit."""
    monthly_limit: int | None = Field(default=None, ge=1, le=MAX_AMOUNT)
    """The most one customer may pay out in a local calendar month; None: no limit."""
    return_window_days: int = Field(default=DEFAULT_RETURN_WINDOW_DAYS, ge=0, le=365)
    """How long after `paid` a bank's return is still taken back into the balance."""
    hold_free: bool = True
    """Pay out only to a customer free of holds: none of their purchases in review (an
    open review case). False pays out what is available regardless."""

    @model_validator(mode="after")
    def _limits_fit(self) -> PayoutSettings:
        limits = [limit for limit in (self.daily_limit, self.monthly_limit) if limit]
        if any(limit < self.minimum for limit in limits):
            raise ValueError("a daily or monthly limit below the minimum allows no payout")
        if self.daily_limit and self.monthly_limit and self.daily_limit > self.monthly_limit:
            raise ValueError("daily_limit cannot exceed monthly_limit")
        return self


def day_key(at: datetime, tz: ZoneInfo) -> str:
    """The local day of an instant ("2026-11-30")."""
    return at.astimezone(tz).strftime("%Y-%m-%d")


def month_key(at: datetime, tz: ZoneInfo) -> str:
    """The local month of an instant ("2026-11")."""
    return at.astimezone(tz).strftime("%Y-%m")


@dataclass(frozen=True)
class PaidOutTally:
    """What a customer's payouts took out, by local day and by local month."""

    days: Mapping[str, int] = field(default_factory=dict)
    months: Mapping[str, int] = field(default_factory=dict)

    def today(self, now: datetime, tz: ZoneInfo) -> int:
        return self.days.get(day_key(now, tz), 0)

    def this_month(self, now: datetime, tz: ZoneInfo) -> int:
        return self.months.get(month_key(now, tz), 0)

    def counted(self, requested_at: datetime, amount: int, tz: ZoneInfo) -> PaidOutTally:
        """With a payout requested at `requested_at` counted; a negative amount uncounts a
        failed or canceled one on the day and month it was requested. Only the newest
        month is kept (no limit looks further back), so uncounting in an older one is a
        no-op."""
        day, month = day_key(requested_at, tz), month_key(requested_at, tz)
        if month < max(self.months, default=month):
            return self
        days = {d: v for d, v in self.days.items() if d.startswith(month)}
        days[day] = max(0, days.get(day, 0) + amount)
        return PaidOutTally(days, {month: max(0, self.months.get(month, 0) + amount)})


@dataclass(frozen=True)
class Standing:
    """What the rules need to know about the customer asking for a payout."""

    debt: int = 0
    under_review: bool = False
    paid_out: PaidOutTally = PaidOutTally()


def check_payout(
    settings: PayoutSettings, amount: int, standing: Standing, now: datetime, tz: ZoneInfo
) -> None:
    """Refuse a payout of `amount` requested at `now` that the rules do not allow, with the
    first reason in this order: debt, review, minimum, daily limit, monthly limit."""
    if standing.debt > 0:
        raise Unprocessable(
            f"no payout while the customer owes {standing.debt} (debt is settled first)",
            code="customer_has_debt",
            details={"debt": standing.debt},
        )
    if standing.under_review and settings.hold_free:
        raise Unprocessable(
            "no payout while the customer has a purchase in review",
            code="customer_under_review",
        )
    if amount < settings.minimum:
        raise Unprocessable(
            f"a payout is at least {settings.minimum}; {amount} was asked for",
            code="payout_below_minimum",
            details={"minimum": settings.minimum, "amount": amount},
        )
    tally = standing.paid_out
    _within("daily_limit", settings.daily_limit, tally.today(now, tz), amount)
    _within("monthly_limit", settings.monthly_limit, tally.this_month(now, tz), amount)


def _within(limit: Limit, most: int | None, paid_out: int, amount: int) -> None:
    if most is None or paid_out + amount <= most:
        return
    left = max(0, most - paid_out)
    period = "today" if limit == "daily_limit" else "this month"
    raise Unprocessable(
        f"a payout of {amount} exceeds the {limit.replace('_', ' ')} of {most}: "
        f"{paid_out} already paid out {period}, {left} left",
        code=f"payout_{limit}",
        details={"limit": limit, "limit_amount": most, "paid_out": paid_out, "left": left},
    )
