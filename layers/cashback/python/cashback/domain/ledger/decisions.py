"""An analyst's decision on held cashback: approved, it is earned and ripens as the purchase
would have; rejected, it is voided and frees what it counted towards its month's cap."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from cashback.domain.clock import to_iso
from cashback.domain.ledger.accounts import Account
from cashback.domain.ledger.aging import Notice, ripen
from cashback.domain.ledger.entries import Entry, append
from cashback.domain.ledger.lots import Lot


@dataclass(frozen=True)
class Decided:
    """The lot as decided, the entries in chain order (the decision's, then the lot's
    ripening when an approval finds its return window over), the account after them, and
    the notices for the customer."""

    lot: Lot
    entries: tuple[Entry, ...]
    account: Account
    notices: tuple[Notice, ...] = ()


def approve(account: Account, lot: Lot, *, order_id: str, decided_at: datetime) -> Decided:
    """An analyst clears held cashback: it is earned now, repays debt first like any
    cashback, and ripens as the purchase would have: at once, in the decision's own
    transaction, when its return window has ended by the decision."""
    if lot.status != "HELD":
        raise ValueError("only held cashback can be approved")
    amount = lot.pending
    netted = min(amount, account["debt"])
    entry, after = append(
        account,
        "approve",
        order_id,
        order_id,
        to_iso(decided_at),
        {
            "held": -amount,
            "earned": amount,
            "pending": amount - netted,
            "debt": -netted,
            "clawed_back": netted,
        },
    )
    approved = replace(
        lot,
        pending=amount - netted,
        netted=lot.netted + netted,
        status="PENDING" if amount - netted else "CONSUMED",
        version=lot.version + 1,
    )
    moment = to_iso(decided_at)
    ripened = ripen(after, approved, moment, dated=moment)
    if ripened is None:
        return Decided(approved, (entry,), after)
    return Decided(ripened.lot, (entry, ripened.entry), ripened.account, (ripened.notice,))


def reject(account: Account, lot: Lot, *, order_id: str, decided_at: datetime) -> Decided:
    """An analyst rejects held cashback: it was never earned and never will be, so what it
    counted towards its month's cap (all of it, from the moment it was held) is free
    again."""
    if lot.status != "HELD":
        raise ValueError("only held cashback can be rejected")
    amount = lot.pending
    entry, after = append(
        account, "reject", order_id, order_id, to_iso(decided_at), {"held": -amount}
    )
    month = lot.month or ""
    counted = after.earned_months.get(month)
    if counted is not None:
        after = replace(
            after, earned_months={**after.earned_months, month: max(0, counted - lot.gross)}
        )
    return Decided(
        replace(
            lot,
            pending=0,
            clawed_back=lot.clawed_back + amount,
            status="VOIDED",
            version=lot.version + 1,
        ),
        (entry,),
        after,
    )
