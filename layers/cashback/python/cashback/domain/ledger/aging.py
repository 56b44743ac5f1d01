"""A lot as time passes: it ripens when its return window ends, the customer is reminded
before its deadline, what is left expires at it; each step a notice for the customer."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any, Literal

from cashback.domain.clock import from_iso, to_iso
from cashback.domain.ledger.accounts import Account
from cashback.domain.ledger.entries import Entry, append
from cashback.domain.ledger.lots import Lot

NoticeKind = Literal[
    "cashback.available", "cashback.expiring", "cashback.expired", "milestone.reached"
]


@dataclass(frozen=True)
class Notice:
    """Something the storefront should tell the customer about one lot."""

    kind: NoticeKind
    tenant: str
    customer_id: str
    order_id: str
    amount: int
    at: str  # when the cashback became available / expires / expired
    # milestone.reached (issue 12): the purchase's milestones (the amount is what their
    # bonuses added to its cashback, before caps; `at` the purchase's time).
    milestones: tuple[str, ...] = ()

    def detail(self) -> dict[str, Any]:
        """What an event says: the notice's fields (milestones only where there are)."""
        fields = asdict(self)
        if not self.milestones:
            del fields["milestones"]
        else:
            fields["milestones"] = list(self.milestones)
        return fields

    @property
    def id(self) -> str:
        """Stable across retries, so consumers can drop duplicates (a deadline moved by the
        customer's activity is a new reminder)."""
        return f"{self.kind}:{self.tenant}:{self.customer_id}:{self.order_id}:{self.at}"


@dataclass(frozen=True)
class Advance:
    lot: Lot
    entries: tuple[Entry, ...]
    account: Account
    notices: tuple[Notice, ...]

    changed: bool


@dataclass(frozen=True)
class Ripened:
    lot: Lot
    entry: Entry
    account: Account
    notice: Notice


def ripen(account: Account, lot: Lot, now: str, *, dated: str | None = None) -> Ripened | None:
    """Make a pending lot's cashback available if its return window has ended by `now`
    (None: nothing to ripen). The entry and the `cashback.available` notice are dated
    `dated`, by default the lot's available_at (when the window ended, however late the
    job runs); a purchase or an approval that ripens its lot at once dates them at its own
    moment. The lot's version is the caller's to bump (one per transaction)."""
    if not (lot.status == "PENDING" and lot.pending and lot.available_at <= now):
        return None
    at, amount = dated or lot.available_at, lot.pending
    entry, account = append(
        account, "ripen", lot.order_id, lot.order_id, at, {"pending": -amount, "available": amount}
    )
    lot = replace(lot, pending=0, available=lot.available + amount, status="AVAILABLE")
    notice = Notice("cashback.available", lot.tenant, lot.customer_id, lot.order_id, amount, at)
    return Ripened(lot, entry, account, notice)


def advance(account: Account, lot: Lot, now: datetime) -> Advance:
    """Move a lot forward to `now`: ripen when its return window has ended, remind before
    its deadline, expire what remains at the deadline. Only what is due happens; calling
    it again at the same `now` changes nothing."""
    moment, before = to_iso(now), lot
    entries: list[Entry] = []
    notices: list[Notice] = []
    lot = _follow_activity(account, lot)

    def notice(kind: NoticeKind, amount: int, at: str) -> None:
        notices.append(Notice(kind, lot.tenant, lot.customer_id, lot.order_id, amount, at))

    ripened = ripen(account, lot, moment)
    if ripened is not None:
        lot, account = ripened.lot, ripened.account
        entries.append(ripened.entry)
        notices.append(ripened.notice)
    if (
        lot.status == "AVAILABLE"
        and lot.available
        and lot.remind_at
        and not lot.reminded
        and lot.remind_at <= moment
    ):
        # Past the deadline already (the job was down): the expiry notice says it all.
        if moment < lot.ends_at:
            notice("cashback.expiring", lot.available, lot.ends_at)
        lot = replace(lot, reminded=True)
    if lot.status == "AVAILABLE" and lot.available and lot.ends_at <= moment:
        amount = lot.available
        entry, account = append(
            account,
            "expire",
            lot.order_id,
            lot.order_id,
            lot.ends_at,
            {"available": -amount, "expired": amount},
        )
        entries.append(entry)
        lot = replace(lot, available=0, expired=lot.expired + amount, status="EXPIRED")
        notice("cashback.expired", amount, lot.ends_at)
    changed = lot != before
    if changed:
        lot = replace(lot, version=lot.version + 1)
    return Advance(lot, tuple(entries), account, tuple(notices), changed)


def _follow_activity(account: Account, lot: Lot) -> Lot:
    """Move an inactivity lot's deadline after the customer's latest activity (and its
    reminder with it, to be sent again before the new deadline)."""
    if (
        not lot.inactivity_days
        or not lot.time_zone
        or not account.last_activity_at
        or lot.status not in ("PENDING", "AVAILABLE")
    ):
        return lot
    from cashback.domain.rules.deadlines import inactivity_deadline
    from cashback.domain.rules.expiry import Inactivity
    from cashback.domain.rules.ruleset import zone

    policy = Inactivity(kind="inactivity", days=lot.inactivity_days)
    deadline = to_iso(
        inactivity_deadline(policy, from_iso(account.last_activity_at), zone(lot.time_zone))
    )
    if deadline <= lot.ends_at:
        return lot
    remind_at = lot.remind_at
    if remind_at:
        lead = from_iso(lot.ends_at) - from_iso(remind_at)
        remind_at = max(to_iso(from_iso(deadline) - lead), lot.available_at)
    return replace(lot, deadline=deadline, remind_at=remind_at, reminded=False)
