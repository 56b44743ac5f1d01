"""Withdraw cashback as money, exactly once: a requested payout takes its amount out of
`available` at once (it shows as `reserved`), and moves along the status machine
(domain.payouts.status) as the submission job, the provider's callbacks and its polled
status say; failed, canceled and returned payouts give the money back to the lots it came
from, exactly once (each step is conditional on the record's version).

Every status change is published on the event bus (`payout.<status>`, the destination
masked): the event is written to an outbox in the step's own transaction, published after
the commit, and published again by the payout job if the bus did not take it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cashback.domain import ledger
from cashback.domain.changes import (
    REDEMPTION_LOTS,
    AccountMoved,
    AlreadyRecorded,
    PayoutChange,
)
from cashback.domain.clock import from_iso, to_iso
from cashback.domain.errors import Contention, NotFound, Unprocessable
from cashback.domain.orders import Reply
from cashback.domain.payouts.records import (
    NewPayout,
    OutboxEvent,
    Payout,
    PayoutView,
    masked_method,
)
from cashback.domain.payouts.rules import PaidOutTally, Standing, check_payout
from cashback.domain.payouts.status import PayoutStatus, transition
from cashback.domain.redemptions import draws_list
from cashback.domain.tenants import TenantSettings
from cashback.observability import logger
from cashback.services.ports import PayoutStore
from cashback.services.recording import MAX_ATTEMPTS, backoff, replay

Shape = Callable[[PayoutView], dict[str, Any]]
Publish = Callable[[str, dict[str, Any]], object]
# Kinds of the entries each money-moving status writes.
ENTRY_KINDS: dict[PayoutStatus, ledger.EntryKind] = {
    "requested": "payout",
    "paid": "payout_paid",
    "failed": "payout_failed",
    "canceled": "payout_canceled",
    "returned": "payout_returned",
}


def event_detail(payout: Payout) -> dict[str, Any]:
    """What a payout event says: never the destination itself, only its mask."""
    return {
        "id": f"{payout.tenant}:{payout.payout_id}:{payout.status}",
        "tenant": payout.tenant,
        "payout_id": payout.payout_id,
        "customer_id": payout.customer_id,
        "amount": payout.amount,
        "currency": payout.currency,
        "status": payout.status,
        "method": payout.method,
        "destination": payout.masked,
        "failure_code": payout.failure_code,
    }


def _event(payout: Payout) -> tuple[str, dict[str, Any]]:
    return f"payout.{payout.status}", event_detail(payout)


def announce(store: PayoutStore, payout: Payout, publish: Publish, now: datetime) -> None:
    """Publish the event of the payout's status (committed with it in the outbox); once
    the bus took it, out of the outbox. If not, the job publishes it again."""
    detail_type, detail = _event(payout)
    if publish(detail_type, detail) is True:
        event = OutboxEvent(payout.tenant, payout.payout_id, payout.status, detail_type, detail)
        store.mark_event_published(event, to_iso(now))


def _tally(account: ledger.Account) -> PaidOutTally:
    return PaidOutTally(account.payouts.get("days", {}), account.payouts.get("months", {}))


def _counted(account: ledger.Account, at: str, amount: int, zone: ZoneInfo) -> ledger.Account:
    tally = _tally(account).counted(from_iso(at), amount, zone)
    return replace(account, payouts={"days": dict(tally.days), "months": dict(tally.months)})


def request_payout(
    store: PayoutStore,
    tenant: str,
    settings: TenantSettings,
    zone: ZoneInfo,
    request: NewPayout,
    now: datetime,
    *,
    shape: Shape,
    publish: Publish,
) -> Reply:
    """Take the amount out of `available` (as `reserved`) and record the payout as
    requested, for the submission job; refused by the storefront's payout rules."""
    for attempt in range(MAX_ATTEMPTS):
        found, account = store.load_payout(tenant, request.payout_id, request.customer_id)
        if found is not None:
            return replay(found.request_hash, found.reply, 202, request.fingerprint(), "payout_id")
        standing = Standing(account["debt"], account["held"] > 0, _tally(account))
        check_payout(settings.payouts, request.amount, standing, now, zone)
        have = ledger.spendable(account)
        if request.amount > have:
            raise Unprocessable(
                f"{request.amount} asked, {have} available",
                code="insufficient_balance",
                details={"available": have, "asked": request.amount},
            )
        try:
            payout, body = _request(store, tenant, settings, zone, request, account, now, shape)
        except (AlreadyRecorded, AccountMoved):
            logger.debug("payout raced another writer", extra={"attempt": attempt})
            backoff(attempt)
            continue
        announce(store, payout, publish, now)
        return Reply(202, body)
    raise Contention("too many concurrent writes to this customer; retry the request")


def _request(
    store: PayoutStore,
    tenant: str,
    settings: TenantSettings,
    zone: ZoneInfo,
    request: NewPayout,
    account: ledger.Account,
    now: datetime,
    shape: Shape,
) -> tuple[Payout, dict[str, Any]]:
    moment = to_iso(now)
    try:
        moved = ledger.draw(
            account,
            store.live_lots(tenant, request.customer_id),
            request.amount,
            into="reserved",
            kind="payout",
            ref=request.payout_id,
            order_id=request.payout_id,
            occurred_at=moment,
            max_lots=REDEMPTION_LOTS,
        )
    except ledger.NotEnough as short:
        if not short.limited:
            raise AccountMoved() from short
        raise Unprocessable(
            f"{request.amount} would draw on more than {REDEMPTION_LOTS} purchases' "
            f"cashback; at most {short.spendable} can be paid out at once",
            code="too_many_lots",
            details={"most": short.spendable},
        ) from short
    after = _counted(moved.account, moment, request.amount, zone)
    payout = Payout(
        tenant=tenant,
        payout_id=request.payout_id,
        customer_id=request.customer_id,
        amount=request.amount,
        currency=settings.currency,
        method=request.method.method,
        destination=request.method.destination.model_dump(mode="json"),
        masked=masked_method(request.method),
        status="requested",
        requested_at=moment,
        request_hash=request.fingerprint(),
        reply="",
        draws=draws_list(moved.draws),
    )
    body = shape(PayoutView(payout, after))
    payout = replace(payout, reply=json.dumps(body))
    change = PayoutChange(
        payout, None, moment, moved.lots, moved.entry, account, after, event=_event(payout)
    )
    store.commit_payout(change, next_look=moment)
    return payout, body


def found(store: PayoutStore, tenant: str, payout_id: str) -> Payout:
    payout = store.get_payout(tenant, payout_id)
    if payout is None:
        raise NotFound(f"no payout {payout_id}", code="payout_not_found")
    return payout


def move(
    store: PayoutStore,
    payout: Payout,
    target: PayoutStatus,
    now: datetime,
    settings: TenantSettings,
    zone: ZoneInfo,
    *,
    publish: Publish,
    occurred_at: datetime | None = None,
    failure_code: str | None = None,
    next_look: str | None = None,
    fields: dict[str, Any] | None = None,
) -> tuple[Payout, ledger.Account | None]:
    """Move a payout to `target` (a replay of a status it has or passed changes nothing),
    with the money that moves; exactly once, whoever else tries at the same time."""
    for attempt in range(MAX_ATTEMPTS):
        paid_at = from_iso(payout.paid_at) if payout.paid_at else None
        step = transition(
            payout.status,
            target,
            paid_at=paid_at,
            now=occurred_at or now,
            return_window_days=settings.payouts.return_window_days,
        )
        if not step.moved:
            return payout, None
        try:
            moved, account = _commit_move(
                store, payout, target, now, settings, zone, failure_code, next_look, fields
            )
        except (AlreadyRecorded, AccountMoved):
            backoff(attempt)
            payout = found(store, payout.tenant, payout.payout_id)
            continue
        announce(store, moved, publish, now)
        return moved, account
    raise Contention("too many concurrent writes to this payout; retry")


def _commit_move(
    store: PayoutStore,
    payout: Payout,
    target: PayoutStatus,
    now: datetime,
    settings: TenantSettings,
    zone: ZoneInfo,
    failure_code: str | None,
    next_look: str | None,
    fields: dict[str, Any] | None,
) -> tuple[Payout, ledger.Account | None]:
    moment = to_iso(now)
    stamp = {"submitted": "submitted_at", "paid": "paid_at"}.get(target, "resolved_at")
    changes: dict[str, Any] = {stamp: moment, **(fields or {})}
    after = replace(
        payout,
        status=target,
        version=payout.version + 1,
        failure_code=failure_code or payout.failure_code,
        **changes,
    )
    if target == "submitted":
        change = PayoutChange(after, payout.version, moment, event=_event(after))
        store.commit_payout(change, next_look=next_look)
        return after, None
    account, lots = store.load_drawn(payout.tenant, payout.customer_id, payout.drawn)
    back: list[tuple[ledger.Lot, int]] = []
    if target in ("failed", "canceled", "returned"):
        back = ledger.to_lots(lots, payout.drawn)
    moved = ledger.give_back(
        account,
        back,
        out_of="paid_out" if target == "returned" else "reserved",
        kind=ENTRY_KINDS[target],
        ref=payout.payout_id,
        order_id=payout.payout_id,
        occurred_at=moment,
        at_least_until=to_iso(now + timedelta(days=settings.returned_cashback_days)),
        finalize=("paid_out", payout.amount) if target == "paid" else None,
    )
    result = moved.account
    if target in ("failed", "canceled"):  # its money is back: it no longer counts
        result = _counted(result, payout.requested_at, -payout.amount, zone)
    if back:
        after = replace(after, draws=[])
    change = PayoutChange(
        after, payout.version, moment, moved.lots, moved.entry, account, result, _event(after)
    )
    store.commit_payout(change)
    return after, result


def cancel(
    store: PayoutStore,
    tenant: str,
    payout_id: str,
    now: datetime,
    settings: TenantSettings,
    zone: ZoneInfo,
    *,
    publish: Publish,
) -> tuple[Payout, ledger.Account | None]:
    """Cancel a payout not yet submitted: its money is back in `available` (409
    payout_not_cancelable once submitted; canceling twice changes nothing)."""
    return move(
        store, found(store, tenant, payout_id), "canceled", now, settings, zone, publish=publish
    )
