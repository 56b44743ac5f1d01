"""What a customer has, as the ledger reads it: the account's balances with the next
deadlines that have cashback on them, and a page of the entry history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cashback.domain.ledger import Account, Entry
from cashback.domain.rules import deadlines, ruleset
from cashback.domain.rules.growth import Towards
from cashback.domain.rules.ruleset import RuleSet

# How many of the next deadlines a balance shows: what expires when, at a glance.
DEADLINES_SHOWN = 3


@dataclass(frozen=True)
class NextExpiry:
    at: str  # the earliest deadline in force with cashback still on it
    amount: int  # how much falls due then


@dataclass(frozen=True)
class MonthlyCap:
    """The program's cap on what one customer earns in a calendar month, and what of it is
    left this month (the month local to the program's time zone, as accrual counts it)."""

    month: str  # "2026-11"
    cap: int
    left: int


def monthly_cap(rules: RuleSet | None, account: Account, now: datetime) -> MonthlyCap | None:
    """None when no program is in force or it has no per-customer monthly cap. What counts
    is what accrual counts (Account.earned_months): credited and held cashback, less what
    analysts rejected."""
    if rules is None or rules.caps.per_customer_month is None:
        return None
    month = deadlines.month_key(now, ruleset.zone(rules.time_zone))
    cap = rules.caps.per_customer_month
    return MonthlyCap(month, cap, max(cap - account.earned_months.get(month, 0), 0))


@dataclass(frozen=True)
class Balance:
    account: Account
    deadlines: tuple[NextExpiry, ...]  # the next few, earliest first (DEADLINES_SHOWN)
    cap: MonthlyCap | None = None  # this month's, where the program in force has one
    # Growth (issue 12): the milestones reached (id, reached_at), earliest first, and the
    # program's milestones still ahead with the customer's progress.
    milestones: tuple[tuple[str, str], ...] = ()
    next_milestones: tuple[Towards, ...] = ()

    @property
    def next_expiry(self) -> NextExpiry | None:
        return self.deadlines[0] if self.deadlines else None


@dataclass(frozen=True)
class History:
    """Entries newest first, and the cursor of the next page (None: the last page)."""

    entries: list[Entry]
    next_cursor: str | None
