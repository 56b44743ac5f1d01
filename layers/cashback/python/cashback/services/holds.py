"""Checkout holds: capture all or less (the rest comes back at once), cancel, and release
the ones that expired, exactly once each. A hold resolves once: the record's version and
the account's open holds are both conditions of the transaction that resolves it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from cashback.domain import ledger
from cashback.domain.changes import AccountMoved, AlreadyRecorded, RedemptionChange
from cashback.domain.clock import to_iso
from cashback.domain.errors import Conflict, Contention, NotFound, Unprocessable
from cashback.domain.redemptions import Redemption, RedemptionStatus, draws_list
from cashback.observability import logger
from cashback.services import screening
from cashback.services.ports import RedemptionStore
from cashback.services.recording import MAX_ATTEMPTS, backoff


def found(store: RedemptionStore, tenant: str, redemption_id: str) -> Redemption:
    record = store.get_redemption(tenant, redemption_id)
    if record is None:
        raise NotFound(f"no redemption {redemption_id}", code="redemption_not_found")
    return record


def _resolve(
    store: RedemptionStore,
    hold: Redemption,
    now: datetime,
    *,
    captured: int,
    status: RedemptionStatus,
    kind: ledger.EntryKind,
) -> tuple[Redemption, ledger.Account]:
    """Close an open hold: keep `captured` of it spent, give the rest back (latest
    deadlines first, so what stays spent is what expires soonest)."""
    account, lots = store.load_drawn(hold.tenant, hold.customer_id, hold.drawn)
    if hold.redemption_id not in account.holds:
        raise AccountMoved()  # resolved by another writer since the record was read
    back = ledger.latest_first(hold.drawn, hold.amount - captured)
    moment = to_iso(now)
    moved = ledger.give_back(
        account,
        ledger.to_lots(lots, back),
        out_of="reserved",
        kind=kind,
        ref=hold.redemption_id,
        order_id=hold.order_id,
        occurred_at=moment,
        finalize=("spent", captured),
    )
    holds = {k: v for k, v in moved.account.holds.items() if k != hold.redemption_id}
    after = replace(moved.account, holds=holds)
    if captured:  # spent now: the risk model sees it as it sees a captured redemption
        after = replace(after, risk=screening.after_redemption(after, captured, now))
    resolved = replace(
        hold,
        status=status,
        captured=captured,
        draws=draws_list(ledger.less(hold.drawn, back)),
        resolved_at=moment,
        version=hold.version + 1,
    )
    store.commit_redemption(
        RedemptionChange(resolved, hold.version, moved.lots, moved.entry, account, after, moment)
    )
    return resolved, after


def resolve(
    store: RedemptionStore,
    tenant: str,
    redemption_id: str,
    now: datetime,
    *,
    capture: int | None,
) -> tuple[Redemption, ledger.Account]:
    """Capture (`capture`: all of the hold when None, or less) or cancel (`capture` 0) an
    open hold; 409 when it was resolved already or expired, 422 capturing more than held."""
    moment = to_iso(now)
    for attempt in range(MAX_ATTEMPTS):
        hold = found(store, tenant, redemption_id)
        if hold.status == "failed":
            raise_failed(hold)
        if hold.hold_over(moment) and hold.status == "reserved":
            release(store, hold, now)  # expired: its cashback comes back now, then 409
            continue
        hold.check_resolvable(moment)
        captured = hold.amount if capture is None else capture
        if captured > hold.amount:
            raise Unprocessable(
                f"capture of {captured} exceeds the hold's {hold.amount}",
                code="capture_exceeds_hold",
                details={"held": hold.amount},
            )
        try:
            return _resolve(
                store,
                hold,
                now,
                captured=captured,
                status="captured" if captured else "canceled",
                kind="capture" if captured else "cancel",
            )
        except (AlreadyRecorded, AccountMoved):
            logger.debug("hold raced another writer", extra={"attempt": attempt})
            backoff(attempt)
    raise Contention("too many concurrent writes to this customer; retry the request")


def raise_failed(record: Redemption) -> None:
    raise Conflict(
        f"redemption {record.redemption_id} failed and stays failed",
        code="redemption_failed",
    )


def release(store: RedemptionStore, hold: Redemption, now: datetime) -> bool:
    """Release one expired hold, if nobody resolved it first: True when this call did."""
    try:
        _resolve(store, hold, now, captured=0, status="expired", kind="hold_expired")
    except (AlreadyRecorded, AccountMoved):
        return False
    return True


def release_expired_holds(store: RedemptionStore, account: ledger.Account, now: datetime) -> bool:
    """The customer's expired holds, released before anything else is spent: True when any
    was (the account changed)."""
    moment, released = to_iso(now), False
    for redemption_id, expires_at in sorted(account.holds.items()):
        if expires_at > moment:
            continue
        hold = store.get_redemption(account.tenant, redemption_id)
        if hold is not None and hold.status == "reserved":
            released = release(store, hold, now) or released
        else:
            released = True  # resolved meanwhile: the account read is stale
    return released


def sweep(store: RedemptionStore, now: datetime) -> int:
    """Release every hold that expired by `now` (yesterday's and today's buckets, so
    holds expiring around midnight are not missed): how many this run released."""
    moment, count = to_iso(now), 0
    for day in (to_iso(now - timedelta(days=1))[:10], moment[:10]):
        for hold in store.expired_holds(day, moment):
            count += release(store, hold, now)
    return count
