"""Give back, with a refund, the cashback that had paid for the refunded order: one
reversal per redemption of the order, run after the refund's own transaction.

The refund's transaction records what it will give back (on the order, and in its reply);
the reversals then run under ids derived from the refund's, so running them again changes
nothing: a retry of the refund (or the order's next refund) runs any that did not land.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from cashback.domain.clock import from_iso, to_iso
from cashback.domain.errors import Conflict, NotFound, Unprocessable
from cashback.domain.ledger.order_returns import (
    Paid,
    Return,
    landed_by_redemption,
    plan,
    reversal_id,
)
from cashback.domain.orders import NewRefund, Order
from cashback.domain.redemptions import NewReversal, RedemptionView
from cashback.domain.tenants import TenantSettings
from cashback.observability import logger
from cashback.services import redemptions
from cashback.services.ports import RedemptionStore, RefundStore

# The reversal's reply as the API shapes a redemption (cashback.api.replies.redemption).
ReversalShape = Callable[[RedemptionView], dict[str, Any]]


def bare(view: RedemptionView) -> dict[str, Any]:
    """A reversal's reply when the caller gives no shape: the redemption it touched."""
    return {"redemption_id": view.redemption.redemption_id}


def plan_for(
    store: RefundStore,
    tenant: str,
    settings: TenantSettings,
    order: Order,
    refund: NewRefund,
    now: datetime,
    shape: ReversalShape,
) -> tuple[Return, ...]:
    """What `refund` gives back of each redemption that paid for `order`, once the earlier
    refunds' reversals have all been run (so what they gave back is known)."""
    earlier = [Return.from_list(row) for row in order.redeemed_returns or ()]
    landed = {each: run(store, tenant, settings, each, now, shape) for each in earlier}
    by_refunds = landed_by_redemption(earlier, landed)
    paid = [
        Paid(r.redemption_id, r.captured, r.reversed, by_refunds.get(r.redemption_id, 0))
        for r in store.redemptions_of_order(tenant, order.order_id)
        if r.status == "captured"
    ]
    return plan(
        paid,
        order.amount,
        order.refunded,
        refund.amount,
        refund_id=refund.refund_id,
        occurred_at=to_iso(refund.occurred_at),
    )


def run(
    store: RedemptionStore,
    tenant: str,
    settings: TenantSettings,
    each: Return,
    now: datetime,
    shape: ReversalShape,
) -> bool:
    """Run one return as the redemption's reversal, unless it landed before: True once it
    has landed, False when it cannot (the storefront reversed that much itself since).
    Contention propagates: the refund answers 503 and its retry runs it again."""
    derived = reversal_id(each.refund_id, each.redemption_id)
    if store.load_reversal(tenant, derived) is not None:
        return True  # landed before (checked first: an old refund is past the time window)
    at = from_iso(each.occurred_at)
    if at < now - timedelta(days=settings.backdate_days):
        at = now  # left out long ago (a crash, no retry): it comes back now, grace from now
    request = NewReversal(derived, each.amount, at)
    try:
        redemptions.reverse(store, tenant, settings, each.redemption_id, request, now, shape=shape)
    except Conflict:  # another retry landed it first (at another `now`)
        return store.load_reversal(tenant, derived) is not None
    except (Unprocessable, NotFound) as refused:
        logger.warning(
            "a refund's return of cashback could not land",
            extra={
                "refund_id": each.refund_id,
                "redemption_id": each.redemption_id,
                "amount": each.amount,
                "code": refused.code,
            },
        )
        return False
    return True


def run_all(
    store: RedemptionStore,
    tenant: str,
    settings: TenantSettings,
    returns: Iterable[Return],
    now: datetime,
    shape: ReversalShape,
) -> None:
    for each in returns:
        run(store, tenant, settings, each, now, shape)


def from_reply(refund: NewRefund, body: dict[str, Any]) -> tuple[Return, ...]:
    """The returns a recorded refund's reply promised (what a retry runs again)."""
    at = to_iso(refund.occurred_at)
    return tuple(
        Return(refund.refund_id, str(row["redemption_id"]), int(row["amount"]), at)
        for row in body.get("cashback_returns") or ()
    )
