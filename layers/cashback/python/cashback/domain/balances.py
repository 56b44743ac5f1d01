"""What a customer has, as the ledger reads it: the account's balances with the next
deadline that has cashback on it, and a page of the entry history."""

from __future__ import annotations

from dataclasses import dataclass

from cashback.domain.ledger import Account, Entry


@dataclass(frozen=True)
class NextExpiry:
    at: str  # the earliest deadline in force with cashback still on it
    amount: int  # how much falls due then


@dataclass(frozen=True)
class Balance:
    account: Account
    next_expiry: NextExpiry | None


@dataclass(frozen=True)
class History:
    """Entries newest first, and the cursor of the next page (None: the last page)."""

    entries: list[Entry]
    next_cursor: str | None
