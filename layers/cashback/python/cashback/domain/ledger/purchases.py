"""A purchase's cashback on the ledger: rounded down to the minor unit, credited as a
pending lot (held for review, or nothing when blocked), repaying the customer's debt first;
available at once when the return window is zero."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Literal

from cashback.domain.clock import to_iso
from cashback.domain.ledger.accounts import Account
from cashback.domain.ledger.aging import Notice, ripen
from cashback.domain.ledger.entries import Entry, append
from cashback.domain.ledger.lots import NEVER, Lot, LotStatus

RiskAction = Literal["allow", "review", "block"]


def cashback_for(amount: int, rate: Decimal) -> int:
    """Cashback on an amount at a rate, rounded down to the minor unit."""
    return int((Decimal(amount) * rate).to_integral_value(rounding=ROUND_FLOOR))


@dataclass(frozen=True)
class Accrual:
    """The lot (None: nothing credited), the entries in chain order (the purchase's own,
    then its ripening when it is available at once), the account after them, and the
    notices for the customer."""

    lot: Lot | None
    entries: tuple[Entry, ...]
    account: Account
    notices: tuple[Notice, ...] = ()


def accrue(
    account: Account,
    *,
    order_id: str,
    cashback: int,
    occurred_at: datetime,
    return_window: timedelta | None = None,
    expiry: timedelta | None = None,
    reminder: timedelta | None = None,
    available_at: datetime | None = None,
    expires_at: datetime | None = None,
    never_expires: bool = False,
    detail: str | None = None,
    risk: RiskAction = "allow",
    inactivity: tuple[int, str] | None = None,
    month: str | None = None,
) -> Accrual:
    """Credit an order's cashback as a pending lot, first repaying any debt from it.

    A purchase sent to review is HELD: its cashback shows as `held`, is not earned, repays
    no debt and does not ripen until an analyst decides. A blocked purchase credits
    nothing; its entry records that it happened. `inactivity` (days, time zone) makes the
    deadline follow the customer's activity (see `advance`).

    The lot's dates are given (the rules engine computes them in the storefront's zone) or
    follow from a return window and a rolling expiry. The customer is reminded `reminder`
    before the deadline, but never before the cashback is spendable (a reminder about
    money they cannot use yet would only confuse).

    A return window of zero (the lot available by `occurred_at`) makes the cashback
    available at once: the lot's ripening is a second entry of the same transaction, with
    its `cashback.available` notice, just as the lifecycle job would have written them."""
    if risk == "block":
        entry, after = append(
            account, "purchase", order_id, order_id, to_iso(occurred_at), {}, detail
        )
        return Accrual(None, (entry,), after)
    held = risk == "review"
    netted = 0 if held else min(cashback, account["debt"])
    credited = cashback - netted
    lot = None
    if cashback:
        status: LotStatus = "HELD" if held else "PENDING" if credited else "CONSUMED"
        dates = _lot_dates(
            occurred_at, return_window, expiry, reminder, available_at, expires_at, never_expires
        )
        lot = _new_lot(account, order_id, cashback, netted, status, dates, inactivity, month)
        lot = replace(lot, earned_at=to_iso(occurred_at))
    deltas = (
        {"held": cashback}
        if held
        else {"earned": cashback, "pending": credited, "debt": -netted, "clawed_back": netted}
    )
    moment = to_iso(occurred_at)
    entry, after = append(account, "purchase", order_id, order_id, moment, deltas, detail)
    ripened = ripen(after, lot, moment, dated=moment) if lot is not None else None
    if ripened is None:
        return Accrual(lot, (entry,), after)
    return Accrual(ripened.lot, (entry, ripened.entry), ripened.account, (ripened.notice,))


def _lot_dates(
    occurred_at: datetime,
    return_window: timedelta | None,
    expiry: timedelta | None,
    reminder: timedelta | None,
    available_at: datetime | None,
    expires_at: datetime | None,
    never_expires: bool,
) -> tuple[str, str, str | None]:
    """When the lot ripens, expires (NEVER) and reminds the customer: given, or from a
    return window and a rolling expiry; never a reminder before it is spendable."""
    if available_at is None:
        assert return_window is not None, "give available_at or a return window"
        available_at = occurred_at + return_window
    if expires_at is None and not never_expires:
        assert expiry is not None, "give expires_at, an expiry, or never_expires"
        expires_at = occurred_at + expiry
    remind_at = max(expires_at - reminder, available_at) if reminder and expires_at else None
    return (
        to_iso(available_at),
        to_iso(expires_at) if expires_at else NEVER,
        to_iso(remind_at) if remind_at else None,
    )


def _new_lot(
    account: Account,
    order_id: str,
    cashback: int,
    netted: int,
    status: LotStatus,
    dates: tuple[str, str, str | None],
    inactivity: tuple[int, str] | None,
    month: str | None,
) -> Lot:
    available_at, expires_at, remind_at = dates
    return Lot(
        account.tenant,
        account.customer_id,
        order_id,
        gross=cashback,
        netted=netted,
        pending=cashback - netted,
        available=0,
        spent=0,
        expired=0,
        clawed_back=0,
        debited=0,
        status=status,
        available_at=available_at,
        expires_at=expires_at,
        remind_at=remind_at,
        inactivity_days=inactivity[0] if inactivity else None,
        time_zone=inactivity[1] if inactivity else None,
        month=month,
    )
