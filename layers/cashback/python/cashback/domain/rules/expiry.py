"""When a program's cashback ripens and expires: the expiry policies (rolling, end of month
or year, never, after inactivity) and the lifecycle a program, or a campaign, sets."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StrictInt, model_validator

from cashback.domain.rules.fields import Days, LedgerAmount, PositiveDays, Rate, Rules, fail


class Rolling(Rules):
    """Expires at the end of the Nth local day after the purchase."""

    kind: Literal["rolling"]
    days: PositiveDays


class EndOfMonth(Rules):
    """Expires when the month of the purchase ends (local time), or N months later."""

    kind: Literal["end_of_month"]
    months_after: Annotated[StrictInt, Field(ge=0, le=120)] = 0


class EndOfYear(Rules):
    """Expires when the year of the purchase ends (local time), or N years later."""

    kind: Literal["end_of_year"]
    years_after: Annotated[StrictInt, Field(ge=0, le=10)] = 0


class Never(Rules):
    """Never expires."""

    kind: Literal["never"]


class Inactivity(Rules):
    """Expires at the end of the Nth local day after the customer's last activity
    (a purchase or a redemption): any activity extends every lot of the customer."""

    kind: Literal["inactivity"]
    days: PositiveDays


Expiry = Annotated[
    Rolling | EndOfMonth | EndOfYear | Never | Inactivity, Field(discriminator="kind")
]


def shortest_life_days(expiry: Rolling | EndOfMonth | EndOfYear | Never | Inactivity) -> int | None:
    """The fewest whole days a lot can live under a policy (None: forever)."""
    match expiry:
        case Rolling(days=days) | Inactivity(days=days):
            return days
        case EndOfMonth(months_after=months):
            return 28 * months  # bought in the last second of a month
        case EndOfYear(years_after=years):
            return 365 * years
    return None


def expiry_problem(
    window: int, expiry: Rolling | EndOfMonth | EndOfYear | Never | Inactivity
) -> str | None:
    """Why a return window and an expiry policy cannot go together, if they cannot: a lot
    must never expire before (or as) it becomes available."""
    life = shortest_life_days(expiry)
    if life is None or window < life or (life == 0 and window == 0):
        return None
    return (
        f"a lot could expire before its {window}-day return window ends: the policy "
        f"'{expiry.kind}' can leave as little as {life} days"
    )


class Lifecycle(Rules):
    """How cashback ripens, expires and may be used, for the whole program."""

    return_window_days: Annotated[StrictInt, Field(ge=0, le=365)] = 30
    """Days a lot stays pending (refundable) before it becomes available."""
    expiry: Expiry = Rolling(kind="rolling", days=180)
    """When available cashback expires, in the storefront's time zone."""
    backdate_days: Days = 7
    """How far in the past a purchase's occurred_at is accepted."""
    max_redeem_share: Rate = Decimal(1)
    """The largest share of an order that cashback may pay at checkout."""
    payout_minimum: LedgerAmount = 0
    """The smallest withdrawal, in ledger units."""

    @model_validator(mode="after")
    def _expiry_after_window(self) -> Lifecycle:
        problem = expiry_problem(self.return_window_days, self.expiry)
        fail("Lifecycle", [(("expiry",), problem, self.expiry.kind)] if problem else [])
        return self


class CampaignLifecycle(Rules):
    """Overrides for the lot of an order the campaign credited (an order has one lot: the
    first such campaign in stacking order decides). The back-dating window, the checkout
    share and the payout minimum concern the request or the balance, not a lot, so they
    are the program's alone."""

    return_window_days: Annotated[StrictInt, Field(ge=0, le=365)] | None = None
    expiry: Expiry | None = None
