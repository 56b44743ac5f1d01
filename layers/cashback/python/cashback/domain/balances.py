"""What a customer has, as the ledger reads it: the account's balances with the next
deadlines that have cashback on them, and a page of the entry history."""

from __future__ import annotations

from dataclasses import dataclass

from cashback.domain.ledger import Account, Entry

# How many of the next deadlines a balance shows: what expires when, at a glance.
DEADLINES_SHOWN = 3


@dataclass(frozen=True)
class NextExpiry:
    at: str  # the earliest deadline in force with cashback still on it
    amount: int  # how much falls due then


@dataclass(frozen=True)
class Balance:
    account: Account
    deadlines: tuple[NextExpiry, ...]  # the next few, earliest first (DEADLINES_SHOWN)

    @property
    def next_expiry(self) -> NextExpiry | None:
        return self.deadlines[0] if self.deadlines else None


@dataclass(frozen=True)
class History:
    """Entries newest first, and the cursor of the next page (None: the last page)."""

    entries: list[Entry]
    next_cursor: str | None
