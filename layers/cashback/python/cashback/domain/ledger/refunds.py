"""The ledger's domain: balances, cashback lots, immutable hash-chained entries.

Pure functions over value objects. Nothing here touches AWS or reads a clock; the store
(cashback.adapters.dynamodb.store) turns a plan into one conditional DynamoDB transaction.

Money is integer minor units. Rounding always favours the program, never the customer:
cashback is rounded down, and a refund claws back enough that what the customer keeps
never exceeds the rate applied to what they kept of the purchase.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Literal

from cashback.domain.clock import from_iso, to_iso

# Balances a customer sees, and running totals that make conservation checkable.
BALANCES = ("pending", "available", "held", "reserved", "debt")
TOTALS = ("earned", "spent", "paid_out", "expired", "clawed_back")
FIELDS = BALANCES + TOTALS

GENESIS = "0" * 64

# The deadline of cashback that never expires: sorts after every real date.
NEVER = "9999-12-31T23:59:59Z"

LotStatus = Literal["PENDING", "AVAILABLE", "HELD", "CLAWED_BACK", "CONSUMED", "EXPIRED", "VOIDED"]
RiskAction = Literal["allow", "review", "block"]
EntryKind = Literal["purchase", "refund", "ripen", "expire", "approve", "reject"]
NoticeKind = Literal["cashback.available", "cashback.expiring", "cashback.expired"]


def cashback_for(amount: int, rate: Decimal) -> int:
    """Cashback on an amount at a rate, rounded down to the minor unit."""
    return int((Decimal(amount) * rate).to_integral_value(rounding=ROUND_FLOOR))


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
class Account:
    tenant: str
    customer_id: str
    seq: int = 0
    head: str = GENESIS
    values: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))
    # What the rules need to know, kept current in the same transactions: net spend per
    # day (tiers look back over a window) and cashback earned per month (monthly caps).
    spend_days: dict[str, int] = field(default_factory=dict)
    earned_months: dict[str, int] = field(default_factory=dict)
    last_activity_at: str = ""  # the latest purchase (or, later, redemption); "" for none
    # The risk model's aggregates of this customer (cashback.domain.risk.features), opaque here.
    risk: dict[str, Any] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return self.seq > 0

    def __getitem__(self, name: str) -> int:
        return self.values[name]

    def conserved(self) -> bool:
        """Promise 4: everything earned is somewhere."""
        v = self.values
        accounted = (
            v["pending"]
            + v["available"]
            + v["reserved"]
            + v["spent"]
            + v["paid_out"]
            + v["expired"]
            + v["clawed_back"]
        )
        return v["earned"] == accounted


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
    spent: int
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

    @property
    def credited(self) -> int:
        return self.gross - self.netted

    @property
    def ends_at(self) -> str:
        """The deadline in force."""
        return self.deadline or self.expires_at

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


@dataclass(frozen=True)
class Entry:
    tenant: str
    customer_id: str
    seq: int
    kind: EntryKind
    ref: str
    order_id: str
    occurred_at: str
    deltas: dict[str, int]
    prev_hash: str
    hash: str = ""
    # The rules' breakdown of a purchase's cashback (compact JSON), under the hash too.
    detail: str | None = None

    def body(self) -> dict[str, object]:
        extra = {"detail": self.detail} if self.detail is not None else {}
        return {
            **extra,
            "tenant": self.tenant,
            "customer_id": self.customer_id,
            "seq": self.seq,
            "kind": self.kind,
            "ref": self.ref,
            "order_id": self.order_id,
            "occurred_at": self.occurred_at,
            "deltas": {k: v for k, v in sorted(self.deltas.items()) if v},
            "prev_hash": self.prev_hash,
        }

    def computed_hash(self) -> str:
        canonical = json.dumps(self.body(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def _append(
    account: Account,
    kind: EntryKind,
    ref: str,
    order_id: str,
    occurred_at: str,
    deltas: dict[str, int],
    detail: str | None = None,
) -> tuple[Entry, Account]:
    """Chain a new entry onto the account and apply its deltas."""
    unknown = set(deltas) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown ledger fields {unknown}")
    entry = Entry(
        account.tenant,
        account.customer_id,
        account.seq + 1,
        kind,
        ref,
        order_id,
        occurred_at,
        {k: v for k, v in deltas.items() if v},
        account.head,
        detail=detail,
    )
    entry = replace(entry, hash=entry.computed_hash())
    values = {k: account.values[k] + deltas.get(k, 0) for k in FIELDS}
    if values["available"] < 0 or values["pending"] < 0 or values["debt"] < 0:
        raise ValueError("a ledger entry may not drive a balance below zero")
    return entry, replace(account, seq=entry.seq, head=entry.hash, values=values)


@dataclass(frozen=True)
class Accrual:
    lot: Lot | None
    entry: Entry
    account: Account


def accrue(
    account: Account,
    *,
    order_id: str,
    cashback: int,
    occurred_at: datetime,
    return_window: timedelta | None = None,
    expiry: timedelta | None = None,
    reminder: timedelta | None = None,
    available_at: datetime | None = None,
    expires_at: datetime | None = None,
    never_expires: bool = False,
    detail: str | None = None,
    risk: RiskAction = "allow",
    inactivity: tuple[int, str] | None = None,
    month: str | None = None,
) -> Accrual:
    """Credit an order's cashback as a pending lot, first repaying any debt from it.

    A purchase sent to review is HELD: its cashback shows as `held`, is not earned, repays
    no debt and does not ripen until an analyst decides. A blocked purchase credits
    nothing; its entry records that it happened. `inactivity` (days, time zone) makes the
    deadline follow the customer's activity (see `advance`).

    The lot's dates are given (the rules engine computes them in the storefront's zone) or
    follow from a return window and a rolling expiry. The customer is reminded `reminder`
    before the deadline, but never before the cashback is spendable (a reminder about
    money they cannot use yet would only confuse)."""
    if risk == "block":
        entry, after = _append(
            account, "purchase", order_id, order_id, to_iso(occurred_at), {}, detail
        )
        return Accrual(None, entry, after)
    held = risk == "review"
    netted = 0 if held else min(cashback, account["debt"])
    credited = cashback - netted
    lot = None
    if cashback:
        if available_at is None:
            assert return_window is not None, "give available_at or a return window"
            available_at = occurred_at + return_window
        if expires_at is None and not never_expires:
            assert expiry is not None, "give expires_at, an expiry, or never_expires"
            expires_at = occurred_at + expiry
        remind_at = max(expires_at - reminder, available_at) if reminder and expires_at else None
        lot = Lot(
            account.tenant,
            account.customer_id,
            order_id,
            gross=cashback,
            netted=netted,
            pending=credited,
            available=0,
            spent=0,
            expired=0,
            clawed_back=0,
            debited=0,
            status="HELD" if held else "PENDING" if credited else "CONSUMED",
            available_at=to_iso(available_at),
            expires_at=to_iso(expires_at) if expires_at else NEVER,
            remind_at=to_iso(remind_at) if remind_at else None,
            inactivity_days=inactivity[0] if inactivity else None,
            time_zone=inactivity[1] if inactivity else None,
            month=month,
        )
    deltas = (
        {"held": cashback}
        if held
        else {"earned": cashback, "pending": credited, "debt": -netted, "clawed_back": netted}
    )
    entry, after = _append(
        account, "purchase", order_id, order_id, to_iso(occurred_at), deltas, detail
    )
    return Accrual(lot, entry, after)


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
    or netted against debt) and has not been charged for yet."""
    if lot is None or lot.status == "HELD":
        return 0
    owed = amount - min(amount, lot.pending + lot.available)
    return min(owed, lot.spent + lot.netted - lot.debited)


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
    from_pending = from_available = debt = 0
    after_lot = lot
    if lot is not None and lot.status == "HELD":
        # Never earned: the refund takes it out of review, and the case closes with it.
        taken = min(amount, lot.pending)
        left = lot.pending - taken
        after_lot = replace(
            lot,
            pending=left,
            clawed_back=lot.clawed_back + taken,
            status="HELD" if left else "CLAWED_BACK",
            version=lot.version + 1,
        )
        entry, after = _append(
            account, "refund", refund_id, order_id, to_iso(occurred_at), {"held": -taken}
        )
        return Clawback(after_lot, entry, after, 0, 0, 0, taken_held=taken)
    from_balance, others = 0, []
    if lot is not None and amount:
        from_pending = min(amount, lot.pending)
        from_available = min(amount - from_pending, lot.available)
        used = chargeable(lot, amount)
        if policy == "record_debt":
            debt = used
        elif policy == "claw_back_within_balance":
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
                            status="CLAWED_BACK"
                            if not left and not other.pending
                            else other.status,
                            version=other.version + 1,
                        ),
                    )
                )
        pending, available = lot.pending - from_pending, lot.available - from_available
        status: LotStatus = lot.status
        if not pending and not available and lot.status in ("PENDING", "AVAILABLE"):
            status = "CLAWED_BACK"
        after_lot = replace(
            lot,
            pending=pending,
            available=available,
            status=status,
            clawed_back=lot.clawed_back + from_pending + from_available,
            debited=lot.debited + debt + from_balance,
            version=lot.version + 1,
        )
    taken = from_pending + from_available + from_balance
    entry, after = _append(
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


@dataclass(frozen=True)
class Decided:
    lot: Lot
    entry: Entry
    account: Account


def approve(account: Account, lot: Lot, *, order_id: str, decided_at: datetime) -> Decided:
    """An analyst clears held cashback: it is earned now, repays debt first like any
    cashback, and ripens as the purchase would have."""
    if lot.status != "HELD":
        raise ValueError("only held cashback can be approved")
    amount = lot.pending
    netted = min(amount, account["debt"])
    entry, after = _append(
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
    return Decided(
        replace(
            lot,
            pending=amount - netted,
            netted=lot.netted + netted,
            status="PENDING" if amount - netted else "CONSUMED",
            version=lot.version + 1,
        ),
        entry,
        after,
    )


def reject(account: Account, lot: Lot, *, order_id: str, decided_at: datetime) -> Decided:
    """An analyst rejects held cashback: it was never earned and never will be, so what it
    counted towards its month's cap (all of it, from the moment it was held) is free
    again."""
    if lot.status != "HELD":
        raise ValueError("only held cashback can be rejected")
    amount = lot.pending
    entry, after = _append(
        account, "reject", order_id, order_id, to_iso(decided_at), {"held": -amount}
    )
    counted = after.earned_months.get(lot.month or "")
    if counted is not None:
        after = replace(
            after, earned_months={**after.earned_months, lot.month: max(0, counted - lot.gross)}
        )
    return Decided(
        replace(
            lot,
            pending=0,
            clawed_back=lot.clawed_back + amount,
            status="VOIDED",
            version=lot.version + 1,
        ),
        entry,
        after,
    )


@dataclass(frozen=True)
class Notice:
    """Something the storefront should tell the customer about one lot."""

    kind: NoticeKind
    tenant: str
    customer_id: str
    order_id: str
    amount: int
    at: str  # when the cashback became available / expires / expired

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

    if lot.status == "PENDING" and lot.pending and lot.available_at <= moment:
        amount = lot.pending
        entry, account = _append(
            account,
            "ripen",
            lot.order_id,
            lot.order_id,
            lot.available_at,
            {"pending": -amount, "available": amount},
        )
        entries.append(entry)
        lot = replace(lot, pending=0, available=lot.available + amount, status="AVAILABLE")
        notice("cashback.available", amount, lot.available_at)
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
        entry, account = _append(
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
    from cashback.domain.rules.ruleset import Inactivity, zone

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


def verify_chain(account: Account, entries: list[Entry]) -> list[str]:
    """Problems with an account's history (oldest entry first); empty when it is intact."""
    problems: list[str] = []
    head, sums = GENESIS, dict.fromkeys(FIELDS, 0)
    for expected_seq, entry in enumerate(entries, start=1):
        where = f"{account.customer_id} entry {entry.seq}"
        if entry.seq != expected_seq:
            problems.append(f"{where}: expected sequence {expected_seq} (an entry is missing)")
        if entry.prev_hash != head:
            problems.append(f"{where}: does not point at the previous entry's hash")
        if entry.computed_hash() != entry.hash:
            problems.append(f"{where}: content does not match its hash (edited)")
        head = entry.hash
        for name, delta in entry.deltas.items():
            sums[name] += delta
    if account.seq != len(entries) or account.head != head:
        problems.append(f"{account.customer_id}: account head does not match the last entry")
    for name in FIELDS:
        if sums[name] != account.values[name]:
            problems.append(
                f"{account.customer_id}: {name} is {account.values[name]} but its "
                f"entries sum to {sums[name]}"
            )
    if not account.conserved():
        problems.append(f"{account.customer_id}: earned does not equal where it went")
    return problems
