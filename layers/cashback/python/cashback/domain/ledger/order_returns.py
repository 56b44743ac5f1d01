"""What a refund of an order paid partly with cashback gives back of each redemption of it:
the refunded share of what the redemption spent, so a full refund gives back all of it.

`spent` is what the redemption captured less what the storefront reversed itself (through
`POST /v1/redemptions/{id}/reversals`): those returns were settled apart from the refunds,
so refunds share out what is left. Rounding is down on each refund's cumulative share, so
the returns of successive partial refunds add up to exactly `spent` at a full refund.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Paid:
    """A captured redemption of the order as read, and what refunds gave back of it."""

    redemption_id: str
    captured: int
    reversed: int  # by every route: the storefront's reversals and the refunds'
    by_refunds: int = 0  # what refunds' reversals gave back of it (landed)

    @property
    def spent(self) -> int:
        """What the redemption spent on the order, less the storefront's own reversals."""
        return self.captured - (self.reversed - self.by_refunds)

    @property
    def left(self) -> int:
        """What is still spent: no return may exceed it."""
        return self.captured - self.reversed


@dataclass(frozen=True)
class Return:
    """What one refund gives back of one redemption; `occurred_at` is the refund's."""

    refund_id: str
    redemption_id: str
    amount: int
    occurred_at: str

    def to_list(self) -> list[object]:
        return [self.refund_id, self.redemption_id, self.amount, self.occurred_at]

    @classmethod
    def from_list(cls, row: Iterable[object]) -> Return:
        refund_id, redemption_id, amount, occurred_at = row
        return cls(str(refund_id), str(redemption_id), int(str(amount)), str(occurred_at))


def returned_share(spent: int, order_amount: int, refunded_before: int, refunded_after: int) -> int:
    """floor(spent x refunded_after / order_amount) - floor(spent x refunded_before /
    order_amount): what a refund taking the order's refunded total from `refunded_before`
    to `refunded_after` gives back of `spent`."""
    if order_amount <= 0 or not 0 <= refunded_before <= refunded_after <= order_amount:
        raise ValueError("refunded totals must lie within the order's amount")
    if spent <= 0:
        return 0
    return spent * refunded_after // order_amount - spent * refunded_before // order_amount


def plan(
    paid: Iterable[Paid],
    order_amount: int,
    refunded_before: int,
    refund: int,
    *,
    refund_id: str,
    occurred_at: str,
) -> tuple[Return, ...]:
    """What a refund of `refund` gives back of each redemption (none of zero), never more
    than the redemption still has spent."""
    after = refunded_before + refund
    returns = []
    for each in sorted(paid, key=lambda p: p.redemption_id):
        share = returned_share(each.spent, order_amount, refunded_before, after)
        amount = min(share, max(0, each.left))
        if amount:
            returns.append(Return(refund_id, each.redemption_id, amount, occurred_at))
    return tuple(returns)


def landed_by_redemption(
    returns: Iterable[Return], landed: Mapping[Return, bool]
) -> dict[str, int]:
    """What refunds' reversals gave back of each redemption (those that landed)."""
    total: dict[str, int] = {}
    for each in returns:
        if landed.get(each):
            total[each.redemption_id] = total.get(each.redemption_id, 0) + each.amount
    return total


def reversal_id(refund_id: str, redemption_id: str) -> str:
    """The reversal a refund runs on a redemption: derived, so a retry runs the same one;
    '|' is outside the storefront's id alphabet, so it never meets a storefront's own."""
    return f"refund|{refund_id}|{redemption_id}"
