"""What the engine evaluates: a purchase and its lines (anything shaped like one), and what
storage knows of the customer and the campaigns at it (the Context)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol


class LineLike(Protocol):
    @property
    def sku(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def amount(self) -> int: ...
    @property
    def eco(self) -> bool: ...


class PurchaseLike(Protocol):
    """What the engine reads of a purchase; `cashback.api.payloads.PurchaseRequest` is one."""

    @property
    def amount(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def channel(self) -> str: ...
    @property
    def lines(self) -> Sequence[LineLike]: ...
    @property
    def segments(self) -> Sequence[str]: ...


@dataclass(frozen=True, slots=True)
class Line:
    sku: str
    category: str
    amount: int
    eco: bool = False


@dataclass(frozen=True, slots=True)
class Purchase:
    amount: int
    currency: str
    occurred_at: datetime
    channel: str
    lines: tuple[Line, ...]
    segments: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Birthday:
    month: int
    day: int

    def __post_init__(self) -> None:
        date(2000, self.month, self.day)  # a leap year: 29 February is a birthday

    def is_on(self, day: date) -> bool:
        if (self.month, self.day) == (2, 29) and not _leap(day.year):
            return (day.month, day.day) == (2, 28)
        return (day.month, day.day) == (self.month, self.day)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


@dataclass(frozen=True, slots=True)
class Context:
    """What storage knows about the customer and the campaigns at the purchase.

    trailing_spend: the customer's purchases (minor units, net of refunds) in the tiers'
        window ending at occurred_at. earned_this_month: cashback credited to the customer,
        or held for review, for purchases in the same local calendar month
        (`Evaluation.month`), in ledger units. budget_remaining: per campaign id, what
        its budget has left; absent or None means unknown, and only the campaign's total
        budget bounds the purchase (storage's conditional decrement of the shards is what
        enforces the remainder; see budget.py)."""

    trailing_spend: int = 0
    earned_this_month: int = 0
    first_purchase: bool = False
    birthday: Birthday | None = None
    budget_remaining: Mapping[str, int | None] = field(default_factory=dict)
    # (tenant, customer id): whom experiments assign to a variant (rules.experiments).
    # None: experiments do not apply (the program as written; nothing recorded).
    customer: tuple[str, str] | None = None
    # Growth rules (issue 12; rules.growth reads them off the account): the customer's top
    # category before the purchase, their lifetime spend (net of refunds) before it, and
    # the ids of the program's milestones this purchase reaches.
    favourite_category: str | None = None
    lifetime_spend: int = 0
    milestones: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.trailing_spend < 0 or self.earned_this_month < 0:
            raise ValueError("trailing_spend and earned_this_month cannot be negative")


class CurrencyMismatch(ValueError):
    pass
