"""Record a refund and claw back its share of the order's cashback, exactly once.

The refund record is written in the same transaction as the money and the order's new
refunded total (on the condition it is still what was read), holding the first reply, so
every retry gets that reply and nothing is taken back twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from itertools import islice
from typing import Any

from cashback.domain import ledger
from cashback.domain.changes import (
    REFUND_BALANCE_LOTS,
    AccountMoved,
    AlreadyRecorded,
    RefundChange,
)
from cashback.domain.clock import to_iso
from cashback.domain.errors import Contention, NotFound, Unprocessable
from cashback.domain.ledger.order_returns import Return
from cashback.domain.orders import NewRefund, Order, Refund, RefundRecorded, Reply
from cashback.domain.tenants import TenantSettings
from cashback.observability import logger
from cashback.services import growth, order_returns, screening
from cashback.services.order_returns import ReversalShape
from cashback.services.ports import RefundStore
from cashback.services.recording import MAX_ATTEMPTS, backoff, check_occurred_at, replay

# The reply's JSON as the API shapes it (cashback.api.replies.refund): stored on the
# refund record, so every retry gets the very same body.
Shape = Callable[[RefundRecorded], dict[str, Any]]


def _check(
    refund: NewRefund, order: Order | None, settings: TenantSettings, now: datetime
) -> Order:
    """The order the refund names, if the refund may apply to it."""
    if order is None:
        raise NotFound(f"no purchase with order_id {refund.order_id}", code="order_not_found")
    check_occurred_at(refund.occurred_at, now, settings)
    if to_iso(refund.occurred_at) < order.occurred_at:
        raise Unprocessable(
            "a refund cannot occur before its purchase", code="refund_before_purchase"
        )
    left = order.amount - order.refunded
    if refund.amount > left:
        raise Unprocessable(
            f"refund of {refund.amount} exceeds what is left to refund ({left}) "
            f"of order {order.order_id}",
            code="refund_exceeds_order",
        )
    return order


def _named_lines(request: NewRefund, order: Order) -> dict[str, int] | None:
    """The amount the refund gives back per SKU, checked against the order's lines: an
    unknown SKU, or more than a line has left, is a 422 and nothing changes. None when the
    refund names no line (or the order predates lines: then in proportion)."""
    if request.lines is None or order.lines is None:
        return None
    named: dict[str, int] = {}
    for i, line in enumerate(request.lines):
        if line.sku not in order.lines:
            raise Unprocessable(
                f"order {order.order_id} has no line with SKU {line.sku!r}",
                code="refund_line_unknown",
                details=[{"field": f"lines.{i}.sku", "problem": "unknown SKU"}],
            )
        named[line.sku] = named.get(line.sku, 0) + line.amount
        amount, _, refunded = order.lines[line.sku]
        if refunded + named[line.sku] > amount:
            raise Unprocessable(
                f"refund of {named[line.sku]} for SKU {line.sku!r} exceeds what is left of "
                f"that line ({amount - refunded}) in order {order.order_id}",
                code="refund_exceeds_line",
                details=[{"field": f"lines.{i}.amount", "problem": "more than the line has left"}],
            )
    return named


def _balance_lots(
    store: RefundStore, order: Order, lot: ledger.Lot | None, amount: int
) -> tuple[ledger.Lot, ...]:
    """Under claw_back_within_balance, the customer's other available lots the refund may
    take from: earliest deadline first, as many as the refund's transaction can carry."""
    if order.refund_policy != "claw_back_within_balance" or not ledger.chargeable(lot, amount):
        return ()
    return tuple(
        islice(
            (
                other
                for other in store.live_lots(order.tenant, order.customer_id)
                if other.status == "AVAILABLE" and other.available
            ),
            REFUND_BALANCE_LOTS,
        )
    )


def _recorded(
    refund: NewRefund,
    order: Order,
    amount: int,
    clawback: ledger.Clawback,
    returns: tuple[Return, ...],
) -> RefundRecorded:
    return RefundRecorded(
        refund_id=refund.refund_id,
        order_id=order.order_id,
        customer_id=order.customer_id,
        amount=refund.amount,
        currency=order.currency,
        clawed_back=amount,
        from_pending=clawback.taken_pending,
        from_available=clawback.taken_available,
        from_held=clawback.taken_held,
        from_balance=clawback.from_balance,
        debt=clawback.debt,
        forgiven=amount
        - clawback.taken_pending
        - clawback.taken_available
        - clawback.taken_held
        - clawback.from_balance
        - clawback.debt,
        order_refunded=order.refunded + refund.amount,
        cashback_returned=sum(each.amount for each in returns),
        cashback_returns=tuple((each.redemption_id, each.amount) for each in returns),
    )


def _refunded_order(
    order: Order,
    refund: NewRefund,
    clawback: ledger.Clawback,
    lines_after: Any,
    returns: tuple[Return, ...],
) -> Order:
    """The order once refunded; a case waiting for an analyst closes once nothing is left
    to decide on."""
    refunded = order.refunded + refund.amount
    closes = order.case_status == "open" and (
        refunded == order.amount
        or (clawback.lot is not None and clawback.lot.status == "CLAWED_BACK")
    )
    return replace(
        order,
        refunded=refunded,
        case_status="closed" if closes else order.case_status,
        lines={sku: list(line) for sku, line in lines_after.items()}
        if order.lines is not None
        else None,
        redeemed_returns=[*(order.redeemed_returns or ()), *(each.to_list() for each in returns)]
        or None,
    )


def _account_after(
    clawback: ledger.Clawback, lot: ledger.Lot | None, order: Order, refund: NewRefund, amount: int
) -> ledger.Account:
    """The account once refunded, with the risk aggregates noting the refund and what the
    customer had really spent of the order's cashback (whatever the refund policy charges)."""
    return replace(
        growth.after_refund(_less_spend(clawback.account, order, refund.amount), order, refund),
        risk=screening.after_refund(
            clawback.account,
            order.order_id,
            refund.amount,
            refund.occurred_at,
            amount,
            ledger.chargeable(lot, amount),
        ),
    )


def _change(
    store: RefundStore,
    tenant: str,
    refund: NewRefund,
    order: Order,
    now: datetime,
    shape: Shape,
    returns: tuple[Return, ...],
) -> tuple[RefundChange, dict[str, Any]]:
    """Claw back the refund's share against the order's lot and account as read, and
    record what it gives back of the redemptions that paid for the order (`returns`): the
    change to commit and the reply's body."""
    named = _named_lines(refund, order)
    lot, account = store.load_lot_and_account(order)
    lines = {sku: (line[0], line[1], line[2]) for sku, line in (order.lines or {}).items()}
    amount, lines_after = ledger.refund_clawback(
        order.cashback, order.amount, lines, order.refunded, refund.amount, named
    )
    if order.status == "blocked":  # never credited: nothing to take back
        amount = 0
    clawback = ledger.claw_back(
        account,
        lot,
        refund_id=refund.refund_id,
        order_id=order.order_id,
        amount=amount,
        occurred_at=refund.occurred_at,
        policy=order.refund_policy,  # type: ignore[arg-type]
        balance_lots=_balance_lots(store, order, lot, amount),
    )
    body = shape(_recorded(refund, order, amount, clawback, returns))
    record = Refund(
        tenant=tenant,
        refund_id=refund.refund_id,
        order_id=order.order_id,
        request_hash=refund.fingerprint(),
        reply=json.dumps(body),
        status_code=201,
    )
    change = RefundChange(
        record,
        _refunded_order(order, refund, clawback, lines_after, returns),
        order.refunded,
        lot,
        clawback.lot,
        clawback.entry,
        account,
        _account_after(clawback, lot, order, refund, amount),
        now=to_iso(now),
        other_lots=clawback.other_lots,
    )
    return change, body


def record_refund(
    store: RefundStore,
    tenant: str,
    settings: TenantSettings,
    refund: NewRefund,
    now: datetime,
    *,
    shape: Shape,
    reversal_shape: ReversalShape = order_returns.bare,
) -> Reply:
    """Record a refund, exactly once, then give back the cashback that paid for the order
    (its reversals run after the refund's transaction; a retry runs any that did not
    land). `shape` gives the reply the API's form, `reversal_shape` the reversals'."""
    for attempt in range(MAX_ATTEMPTS):
        recorded, order = store.load_refund(tenant, refund.refund_id, refund.order_id)
        if recorded is not None:
            reply = replay(
                recorded.request_hash,
                recorded.reply,
                recorded.status_code,
                refund.fingerprint(),
                "refund_id",
            )
            returns = order_returns.from_reply(refund, reply.body)
            order_returns.run_all(store, tenant, settings, returns, now, reversal_shape)
            return reply
        order = _check(refund, order, settings, now)
        returns = order_returns.plan_for(
            store, tenant, settings, order, refund, now, reversal_shape
        )
        change, body = _change(store, tenant, refund, order, now, shape, returns)
        try:
            store.commit_refund(change)
        except (AlreadyRecorded, AccountMoved):
            logger.debug("refund raced another writer", extra={"attempt": attempt})
            backoff(attempt)
            continue
        order_returns.run_all(store, tenant, settings, returns, now, reversal_shape)
        return Reply(201, body)
    raise Contention("too many concurrent writes to this order; retry the request")


def _less_spend(account: ledger.Account, order: Order, refunded: int) -> ledger.Account:
    """A refund lowers the spend that tiers see, on the day of the purchase it refunds."""
    day = order.occurred_at[:10]
    if day not in account.spend_days:
        return account
    spend = {**account.spend_days, day: max(0, account.spend_days[day] - refunded)}
    return replace(account, spend_days=spend)
