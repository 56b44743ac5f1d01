"""A refund on the ledger: what it takes back of an order's cashback (in proportion, or by
the lines it names), from which buckets, and what the customer had already used.

Rounding favours the program, never the customer: a refund claws back enough that what
the customer keeps never exceeds the rate applied to what they kept of the purchase.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from cashback.domain.clock import to_iso
from cashback.domain.ledger.accounts import Account
from cashback.domain.ledger.entries import Entry, append
from cashback.domain.ledger.lots import Lot, LotStatus


def clawback_for(cashback: int, order_amount: int, refunded_before: int, refund: int) -> int:
    """What a refund takes back of an order's cashback.

    The customer keeps floor(cashback * kept / order_amount) after each refund, so the
    clawbacks of successive partial refunds add up to exactly the cashback at a full refund.
    """
    kept_before = cashback * (order_amount - refunded_before) // order_amount
    kept_after = cashback * (order_amount - refunded_before - refund) // order_amount
    return kept_before - kept_after


# An order's line as the ledger keeps it for refunds: (amount, cashback, refunded), one per
# SKU (lines of one SKU add up), whose cashback adds up to the order's.
OrderLine = tuple[int, int, int]


def kept_after_refunds(
    cashback: int, order_amount: int, lines: Mapping[str, OrderLine], refunded: int
) -> int:
    """What the customer keeps of an order's cashback once `refunded` of it came back.

    Each line keeps floor(its cashback x its amount not refunded / its amount), so the
    refunds that named a line take back what that line earned, never more, and all of it
    once the line is fully refunded. Refunds that named no line (`refunded` beyond what
    the lines were refunded) take the rest in proportion to the amount the lines have
    left, rounded down. With no lines known (or none named), this is `clawback_for`'s
    proportion: floor(cashback x amount left / amount)."""
    if not lines:
        lines = {"": (order_amount, cashback, 0)}
    left = sum(amount - done for amount, _, done in lines.values())
    unnamed = refunded - (order_amount - left)
    if left <= 0:
        return 0
    by_lines = sum(earned * (amount - done) // amount for amount, earned, done in lines.values())
    return by_lines * (left - unnamed) // left


def refund_clawback(
    cashback: int,
    order_amount: int,
    lines: Mapping[str, OrderLine],
    refunded_before: int,
    refund: int,
    named: Mapping[str, int] | None = None,
) -> tuple[int, dict[str, OrderLine]]:
    """What a refund of `refund` takes back (what the customer kept before, less what they
    keep after), and the lines after it. `named`: the amount refunded per SKU when the
    refund names lines (the caller checked every SKU is a line with that much left)."""
    after = dict(lines)
    for sku, amount in (named or {}).items():
        line_amount, earned, done = after[sku]
        after[sku] = (line_amount, earned, done + amount)
    before_kept = kept_after_refunds(cashback, order_amount, lines, refunded_before)
    after_kept = kept_after_refunds(cashback, order_amount, after, refunded_before + refund)
    return before_kept - after_kept, after


@dataclass(frozen=True)
class Clawback:
    lot: Lot | None
    entry: Entry
    account: Account
    taken_pending: int
    taken_available: int
    debt: int
    taken_held: int = 0
    from_balance: int = 0  # taken from the customer's other available cashback
    other_lots: tuple[tuple[Lot, Lot], ...] = ()  # (before, after) of those lots

    @property
    def used(self) -> int:
        """What the customer had already used of the lot and this refund charges for."""
        return self.debt + self.from_balance


RefundPolicy = Literal["record_debt", "claw_back_unspent", "claw_back_within_balance"]


def chargeable(lot: Lot | None, amount: int) -> int:
    """Of `amount` to claw back from a lot, the part the customer already used (spent,
    or netted against debt) and has not been charged for or let go yet (none, when what
    was spent came back to the lot since)."""
    if lot is None or lot.status == "HELD":
        return 0
    owed = amount - min(amount, lot.pending + lot.available)
    return max(0, min(owed, lot.spent + lot.netted - lot.debited - lot.forgiven))


def claw_back(
    account: Account,
    lot: Lot | None,
    *,
    refund_id: str,
    order_id: str,
    amount: int,
    occurred_at: datetime,
    policy: RefundPolicy = "record_debt",
    balance_lots: tuple[Lot, ...] = (),
) -> Clawback:
    """Take `amount` of an order's cashback back: pending first, then available. What the
    customer already used of this lot (spent, or netted against debt) becomes debt under
    the default policy; is let go under `claw_back_unspent`; under
    `claw_back_within_balance` it is taken from the customer's other available cashback
    (`balance_lots`, earliest deadline first) as far as it reaches, and the rest let go.
    What expired was never the customer's to keep, so it is not charged again."""
    if lot is not None and lot.status == "HELD":
        return _claw_back_held(account, lot, refund_id, order_id, amount, occurred_at)
    from_pending = from_available = debt = 0
    after_lot = lot
    from_balance, others = 0, list[tuple[Lot, Lot]]()
    if lot is not None and amount:
        from_pending = min(amount, lot.pending)
        from_available = min(amount - from_pending, lot.available)
        used = chargeable(lot, amount)
        if policy == "record_debt":
            debt = used
        elif policy == "claw_back_within_balance":
            from_balance, others = _take_from_balance(lot, balance_lots, used)
        after_lot = _lot_after(lot, from_pending, from_available, debited=debt + from_balance)
        after_lot = replace(after_lot, forgiven=lot.forgiven + used - debt - from_balance)
    taken = from_pending + from_available + from_balance
    entry, after = append(
        account,
        "refund",
        refund_id,
        order_id,
        to_iso(occurred_at),
        {
            "pending": -from_pending,
            "available": -(from_available + from_balance),
            "clawed_back": taken,
            "debt": debt,
        },
    )
    return Clawback(
        after_lot,
        entry,
        after,
        from_pending,
        from_available,
        debt,
        from_balance=from_balance,
        other_lots=tuple(others),
    )


def _claw_back_held(
    account: Account,
    lot: Lot,
    refund_id: str,
    order_id: str,
    amount: int,
    occurred_at: datetime,
) -> Clawback:
    """Never earned: the refund takes it out of review, and the case closes with it."""
    taken = min(amount, lot.pending)
    left = lot.pending - taken
    after_lot = replace(
        lot,
        pending=left,
        clawed_back=lot.clawed_back + taken,
        status="HELD" if left else "CLAWED_BACK",
        version=lot.version + 1,
    )
    entry, after = append(
        account, "refund", refund_id, order_id, to_iso(occurred_at), {"held": -taken}
    )
    return Clawback(after_lot, entry, after, 0, 0, 0, taken_held=taken)


def _lot_after(lot: Lot, from_pending: int, from_available: int, *, debited: int) -> Lot:
    """The lot once a refund took `from_pending` and `from_available` of it and charged the
    customer `debited` for what they had used of it."""
    pending, available = lot.pending - from_pending, lot.available - from_available
    status: LotStatus = lot.status
    if not pending and not available and lot.status in ("PENDING", "AVAILABLE"):
        status = "CLAWED_BACK"
    return replace(
        lot,
        pending=pending,
        available=available,
        status=status,
        clawed_back=lot.clawed_back + from_pending + from_available,
        debited=lot.debited + debited,
        version=lot.version + 1,
    )


def _take_from_balance(
    lot: Lot, balance_lots: tuple[Lot, ...], used: int
) -> tuple[int, list[tuple[Lot, Lot]]]:
    """Under claw_back_within_balance: `used` taken from the customer's other available
    cashback, earliest deadline first, as far as it reaches; (taken, (before, after) lots)."""
    from_balance, others = 0, []
    for other in sorted(balance_lots, key=lambda each: each.expires_at):
        take = min(used - from_balance, other.available)
        if take <= 0 or other.order_id == lot.order_id:
            continue
        from_balance += take
        left = other.available - take
        others.append(
            (
                other,
                replace(
                    other,
                    available=left,
                    clawed_back=other.clawed_back + take,
                    status="CLAWED_BACK" if not left and not other.pending else other.status,
                    version=other.version + 1,
                ),
            )
        )
    return from_balance, others
