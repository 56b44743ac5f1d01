"""A lot: the cashback of one order, its buckets, its status and its dates (when it ripens,
when the customer is reminded, when it expires)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# The deadline of cashback that never expires: sorts after every real date.
NEVER = "9999-12-31T23:59:59Z"

LotStatus = Literal["PENDING", "AVAILABLE", "HELD", "CLAWED_BACK", "CONSUMED", "EXPIRED", "VOIDED"]


@dataclass(frozen=True)
class Lot:
    """The cashback of one order. `gross` is what the rules gave; `netted` of it repaid
    debt at once; the rest was credited and now sits in exactly one of the buckets."""

    tenant: str
    customer_id: str
    order_id: str
    gross: int
    netted: int
    pending: int
    available: int
    spent: int  # drawn by redemptions and payouts (held or final), less what came back
    expired: int
    clawed_back: int
    debited: int  # debt recorded against this lot's consumed part by refunds
    status: LotStatus
    available_at: str
    expires_at: str
    version: int = 1
    remind_at: str | None = None  # when to tell the customer the deadline is near
    reminded: bool = False
    # Expiry after inactivity: the deadline moves with the customer's activity. expires_at
    # stays the first deadline (the lot's sort key); `deadline` is the one in force.
    inactivity_days: int | None = None
    time_zone: str | None = None
    deadline: str | None = None
    # The local month whose cap this lot's cashback counts towards (under a program).
    month: str | None = None
    # What refunds let go of this lot's consumed part (claw_back_unspent, or what the
    # balance could not cover under claw_back_within_balance): if that cashback comes back
    # (a reversal, a failed payout), it goes where the refund would have taken it.
    forgiven: int = 0
    # When the purchase that earned it happened: its cohort in the breakage report.
    earned_at: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """What names the lot among the customer's: its first deadline and its order."""
        return self.expires_at, self.order_id

    @property
    def cohort(self) -> str:
        """The month it was earned in (the storefront's local month under a program)."""
        return self.month or (self.earned_at or self.available_at)[:7]

    @property
    def credited(self) -> int:
        return self.gross - self.netted

    @property
    def ends_at(self) -> str:
        """The deadline in force."""
        return self.deadline or self.expires_at

    @property
    def holds_cashback(self) -> bool:
        """Whether cashback still sits on this lot (pending or available): the lots a balance,
        a refund or a redemption reads. Depleted, expired, held, blocked and voided lots are
        history, and what they cost must not grow with it."""
        return self.status in ("PENDING", "AVAILABLE") and bool(self.pending or self.available)

    @property
    def due_at(self) -> str | None:
        """When the scheduled job next has work on this lot (ripen, remind, expire), if ever."""
        if self.status == "PENDING" and self.pending:
            return self.available_at
        if self.status == "AVAILABLE" and self.available and self.ends_at != NEVER:
            if self.remind_at and not self.reminded and self.remind_at < self.ends_at:
                return self.remind_at
            return self.ends_at
        return None
