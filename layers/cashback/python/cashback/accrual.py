"""Purchases and refunds: compute cashback, credit it, claw it back; exactly once.

Idempotency comes from the storefront's own ids and conditional writes: the order (or
refund) record is written in the same transaction as the money, holding the first reply,
so every retry gets that reply and nothing moves twice. A concurrent writer on the same
account makes the transaction fail its sequence condition; we read again and retry.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from cashback import ledger
from cashback.api.models import PurchaseReply, PurchaseRequest, RefundReply, RefundRequest
from cashback.clock import to_iso
from cashback.errors import Conflict, Contention, NotFound, Unprocessable
from cashback.observability import logger
from cashback.store import (
    AccountMoved,
    AlreadyRecorded,
    Order,
    Refund,
    Store,
    lot_sk,
    request_hash,
)
from cashback.tenants import TenantSettings

MAX_ATTEMPTS = 10


@dataclass(frozen=True)
class Reply:
    status_code: int
    body: dict[str, Any]
    replayed: bool = False


def _replay(stored_hash: str, stored_reply: str, status_code: int, fingerprint: str,
            id_name: str) -> Reply:
    if stored_hash != fingerprint:
        raise Conflict(f"this {id_name} was already used with a different request body")
    return Reply(status_code, json.loads(stored_reply), replayed=True)


def _backoff(attempt: int) -> None:
    # Full jitter: concurrent writers on one account spread out instead of colliding again.
    time.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))


def check_occurred_at(occurred_at: datetime, now: datetime, settings: TenantSettings) -> None:
    if occurred_at > now + timedelta(seconds=settings.future_skew_seconds):
        raise Unprocessable(f"occurred_at {to_iso(occurred_at)} is in the future",
                            code="occurred_at_in_future")
    if occurred_at < now - timedelta(days=settings.backdate_days):
        raise Unprocessable(
            f"occurred_at {to_iso(occurred_at)} is more than {settings.backdate_days} days "
            "in the past", code="occurred_at_too_old")


def fingerprint(request: PurchaseRequest | RefundRequest) -> str:
    """What makes two requests the same: their content, with occurred_at as the instant it
    names (a retry may spell the same moment in another time zone)."""
    return request_hash({**request.model_dump(mode="json"),
                         "occurred_at": to_iso(request.occurred_at)})


def record_purchase(store: Store, tenant: str, settings: TenantSettings,
                    request: PurchaseRequest, now: datetime) -> Reply:
    request_fingerprint = fingerprint(request)
    for attempt in range(MAX_ATTEMPTS):
        order, account = store.load_purchase(tenant, request.order_id, request.customer_id)
        if order is not None:
            return _replay(order.request_hash, order.reply, order.status_code, request_fingerprint,
                           "order_id")
        if request.currency != settings.currency:
            raise Unprocessable(f"this program runs in {settings.currency}, not "
                                f"{request.currency}", code="currency_mismatch")
        check_occurred_at(request.occurred_at, now, settings)

        cashback = ledger.cashback_for(request.amount, settings.cashback_rate)
        accrual = ledger.accrue(
            account, order_id=request.order_id, cashback=cashback,
            occurred_at=request.occurred_at,
            return_window=timedelta(days=settings.return_window_days),
            expiry=timedelta(days=settings.expiry_days),
            reminder=timedelta(days=settings.reminder_days) if settings.reminder_days else None)
        lot = accrual.lot
        credited = lot.credited if lot else 0
        body = PurchaseReply(
            order_id=request.order_id, customer_id=request.customer_id,
            status="pending" if credited else "no_cashback", currency=settings.currency,
            cashback=cashback, debt_repaid=lot.netted if lot else 0, credited=credited,
            available_at=lot.available_at if credited and lot else None,
            expires_at=lot.expires_at if credited and lot else None,
        ).model_dump(mode="json")
        record = Order(
            tenant=tenant, order_id=request.order_id, customer_id=request.customer_id,
            amount=request.amount, currency=request.currency, cashback=cashback, refunded=0,
            lot_sk=lot_sk(lot.expires_at, lot.order_id) if lot else None,
            occurred_at=to_iso(request.occurred_at),
            request_hash=request_fingerprint, reply=json.dumps(body), status_code=201)
        try:
            store.commit_purchase(record, lot, accrual.entry, account, accrual.account,
                                  now=to_iso(now))
        except (AlreadyRecorded, AccountMoved):
            logger.debug("purchase raced another writer", extra={"attempt": attempt})
            _backoff(attempt)
            continue
        return Reply(201, body)
    raise Contention("too many concurrent writes to this customer; retry the request")


def record_refund(store: Store, tenant: str, settings: TenantSettings,
                  request: RefundRequest, now: datetime) -> Reply:
    request_fingerprint = fingerprint(request)
    for attempt in range(MAX_ATTEMPTS):
        refund, order = store.load_refund(tenant, request.refund_id, request.order_id)
        if refund is not None:
            return _replay(refund.request_hash, refund.reply, refund.status_code,
                           request_fingerprint, "refund_id")
        if order is None:
            raise NotFound(f"no purchase with order_id {request.order_id}",
                           code="order_not_found")
        check_occurred_at(request.occurred_at, now, settings)
        if to_iso(request.occurred_at) < order.occurred_at:
            raise Unprocessable("a refund cannot occur before its purchase",
                                code="refund_before_purchase")
        left = order.amount - order.refunded
        if request.amount > left:
            raise Unprocessable(
                f"refund of {request.amount} exceeds what is left to refund ({left}) "
                f"of order {order.order_id}", code="refund_exceeds_order")

        lot, account = store.load_lot_and_account(order)
        amount = ledger.clawback_for(order.cashback, order.amount, order.refunded,
                                     request.amount)
        clawback = ledger.claw_back(account, lot, refund_id=request.refund_id,
                                    order_id=order.order_id, amount=amount,
                                    occurred_at=request.occurred_at)
        body = RefundReply(
            refund_id=request.refund_id, order_id=order.order_id,
            customer_id=order.customer_id, amount=request.amount, currency=order.currency,
            clawed_back=amount, from_pending=clawback.taken_pending,
            from_available=clawback.taken_available, debt=clawback.debt,
            order_refunded=order.refunded + request.amount,
        ).model_dump(mode="json")
        record = Refund(tenant=tenant, refund_id=request.refund_id, order_id=order.order_id,
                        request_hash=request_fingerprint, reply=json.dumps(body), status_code=201)
        try:
            store.commit_refund(record, replace(order, refunded=order.refunded + request.amount),
                                order.refunded, lot, clawback.lot, clawback.entry, account,
                                clawback.account, now=to_iso(now))
        except (AlreadyRecorded, AccountMoved):
            logger.debug("refund raced another writer", extra={"attempt": attempt})
            _backoff(attempt)
            continue
        return Reply(201, body)
    raise Contention("too many concurrent writes to this order; retry the request")

