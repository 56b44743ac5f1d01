"""Redemptions at checkout: what a storefront asks (spend now, or hold until the order is
paid), the record the ledger keeps of each (its state, what it drew from which lots, and
its first reply for retries), and how a hold may move: it resolves once.

    captured                                (spent at once)
    reserved --capture--> captured          (all, or less: the rest comes back at once)
             --cancel---> canceled
             --expires--> expired           (never capturable; the money comes back)
    failed                                  (nothing changed; a retry gets the same answer)
    captured --reversals--> what was spent comes back, up to all of it
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Literal

from cashback.domain.clock import to_iso
from cashback.domain.errors import Conflict
from cashback.domain.ledger import Account, Draw
from cashback.domain.orders import request_hash

RedemptionStatus = Literal["captured", "reserved", "canceled", "expired", "failed"]


@dataclass(frozen=True)
class NewRedemption:
    """A redemption as the storefront asks for it (validated at the edge)."""

    redemption_id: str
    customer_id: str
    amount: int
    order_id: str
    occurred_at: datetime
    channel: str
    capture: bool = True
    order_amount: int | None = None

    def fingerprint(self) -> str:
        return request_hash({**asdict(self), "occurred_at": to_iso(self.occurred_at)})


@dataclass(frozen=True)
class Redemption:
    """The ledger's record of a redemption: its idempotency record and its state."""

    tenant: str
    redemption_id: str
    customer_id: str
    order_id: str
    channel: str
    amount: int  # what was asked for
    status: RedemptionStatus
    occurred_at: str
    request_hash: str
    reply: str  # the first reply (JSON), returned to every retry of the same request
    status_code: int
    captured: int = 0
    reversed: int = 0
    hold_expires_at: str | None = None
    # What is still drawn from each lot: [expires_at, order_id, amount].
    draws: list[list[object]] = field(default_factory=list)
    resolved_at: str | None = None
    version: int = 1

    @property
    def drawn(self) -> tuple[Draw, ...]:
        return tuple(Draw(str(e), str(o), int(str(a))) for e, o, a in self.draws)

    def is_open_hold(self) -> bool:
        return self.status == "reserved"

    def hold_over(self, now: str) -> bool:
        """A hold past its life, whether or not the sweep has released it yet."""
        return self.status == "expired" or (
            self.status == "reserved"
            and self.hold_expires_at is not None
            and self.hold_expires_at <= now
        )

    def check_resolvable(self, now: str) -> None:
        """A hold resolves once, and never after it expired."""
        if self.hold_over(now):
            raise Conflict(
                f"the hold {self.redemption_id} expired at {self.hold_expires_at}",
                code="hold_expired",
            )
        if self.status != "reserved":
            raise Conflict(
                f"redemption {self.redemption_id} is {self.status}, not an open hold",
                code="hold_already_resolved",
                details={"status": self.status},
            )


@dataclass(frozen=True)
class RedemptionView:
    """A redemption as the storefront sees it, with the balance after it."""

    redemption: Redemption
    account: Account
    currency: str
    unit: str  # money | points
    value: int  # what the amount is worth in minor units (points: by the program's rate)


def draws_list(draws: tuple[Draw, ...]) -> list[list[object]]:
    return [[d.expires_at, d.order_id, d.amount] for d in draws]


@dataclass(frozen=True)
class NewReversal:
    """Cashback spent on an order coming back because goods came back."""

    reversal_id: str
    amount: int
    occurred_at: datetime

    def fingerprint(self, redemption_id: str) -> str:
        return request_hash(
            {**asdict(self), "occurred_at": to_iso(self.occurred_at), "of": redemption_id}
        )


@dataclass(frozen=True)
class Reversal:
    tenant: str
    reversal_id: str
    redemption_id: str
    request_hash: str
    reply: str
    status_code: int
