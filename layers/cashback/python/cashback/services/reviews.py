"""The risk analysts' side: the queue of held purchases, each case, and decisions.

A held purchase's cashback waits in `held` until an analyst approves it (it is earned and
ripens like any other) or rejects it (voided). The decision, who made it and why stay on
the order: they are the labels the next model learns from."""

from __future__ import annotations

import random
import time
from datetime import datetime
from typing import Any

from cashback.domain import ledger
from cashback.domain.cases import Case, Verdict
from cashback.domain.changes import AccountMoved, DecisionChange
from cashback.domain.clock import to_iso
from cashback.domain.errors import Conflict, NotFound
from cashback.domain.orders import Order, request_hash
from cashback.domain.risk.aggregates import CustomerAggregates
from cashback.services import balances
from cashback.services.ports import ReviewStore


def queue(
    store: ReviewStore, tenant: str, limit: int, cursor: str | None
) -> tuple[list[Order], str | None]:
    """One page of open cases, riskiest first, and the cursor of the next page (a cursor
    this API did not return to this tenant is refused: 400 invalid_cursor)."""
    return store.review_queue(tenant, limit, cursor)


def case(store: ReviewStore, tenant: str, order_id: str) -> Case:
    order = store.get_order(tenant, order_id)
    if order is None or order.risk is None:
        raise NotFound(f"no screened purchase {order_id}", code="case_not_found")
    account = store.get_account(tenant, order.customer_id)
    history = CustomerAggregates.from_item(account.risk) if account.risk else None
    return Case(
        order,
        balances.balance(store, tenant, order.customer_id),
        balances.entries(store, tenant, order.customer_id, 10, None),
        history,
    )


def decision_fingerprint(
    order_id: str, verdict: str, note: str, analyst: str, reason: str | None = None
) -> str:
    """What makes two decision requests the same: the case, the verdict, the close reason,
    the note and the analyst's key. A retry of the request that closed a case gets its
    reply again."""
    body = {"order_id": order_id, "decision": verdict, "note": note, "by": analyst}
    return request_hash({**body, **({"reason": reason} if reason else {})})


DECISION_ATTEMPTS = 8


def decide(
    store: ReviewStore,
    tenant: str,
    order_id: str,
    verdict: str,
    note: str,
    analyst: str,
    now: datetime,
    reason: str | None = None,
) -> tuple[Verdict, bool]:
    """Close a case with an analyst's decision, exactly once.

    Two analysts deciding one case at once race on the order's `case_status = open`
    condition: one transaction wins; the other reads again, finds the case closed and
    gets 409 `case_closed`. The winning request's fingerprint and reply stay on the
    decision, so the same request retried (a timeout, a double click) gets the first reply
    again, as purchases do with their idempotency record. Returns the reply and whether it
    is that replay."""
    fingerprint = decision_fingerprint(order_id, verdict, note, analyst, reason)
    for attempt in range(DECISION_ATTEMPTS):
        order = store.get_order(tenant, order_id)
        if order is None or order.risk is None:
            raise NotFound(f"no screened purchase {order_id}", code="case_not_found")
        if order.case_status != "open":
            return _closed(order, fingerprint), True
        lot, account = store.load_lot_and_account(order)
        if lot is None:
            raise Conflict("this case has no held cashback left", code="case_closed")
        if lot.status != "HELD":
            # Read between another decision's (or a refund's) commit and our order read:
            # the case closed in that same transaction, so reading again says how.
            _pause(attempt)
            continue
        step = (ledger.approve if verdict == "approve" else ledger.reject)(
            account, lot, order_id=order_id, decided_at=now
        )
        status = (
            "rejected" if verdict == "reject" else "pending" if step.lot.pending else "no_cashback"
        )
        reply = Verdict(order_id=order_id, decision=verdict, status=status, cashback=lot.pending)
        record = _decision_record(verdict, reason, note, analyst, now, fingerprint, reply)
        try:
            store.commit_decision(
                DecisionChange(
                    order,
                    record,
                    lot,
                    step.lot,
                    step.entry,
                    account,
                    step.account,
                    to_iso(now),
                    status=status,
                )
            )
        except AccountMoved:
            _pause(attempt)
            continue  # a purchase, refund or another analyst got there first: look again
        return reply, False
    raise Conflict("this case kept changing; look again", code="case_changed")


def _decision_record(
    verdict: str,
    reason: str | None,
    note: str,
    analyst: str,
    now: datetime,
    fingerprint: str,
    reply: Verdict,
) -> dict[str, Any]:
    """What the order keeps of the decision: who, when, why (the close reason, when
    given, and the note), and the reply for retries."""
    return {
        **({"reason": reason} if reason else {}),
        "decision": verdict,
        "note": note,
        "by": analyst,
        "at": to_iso(now),
        "request_hash": fingerprint,
        "reply": reply.to_json(),
    }


def _closed(order: Order, fingerprint: str) -> Verdict:
    """A closed case: the first reply again to the request that closed it, else 409."""
    decision = order.decision or {}
    if decision.get("request_hash") == fingerprint and decision.get("reply"):
        return Verdict.from_json(decision["reply"])
    made = decision.get("decision", "closed by a refund")
    raise Conflict(f"this case is closed ({made})", code="case_closed")


def _pause(attempt: int) -> None:
    # Full jitter, up to half a second: two decisions whose transactions cancel each other
    # (TransactionConflict) must not keep colliding, and the loser must outwait a winner's
    # commit on a busy table before it reads the case again (then 409 case_closed, not
    # case_changed). Worst case about 1.5 s, well inside the function's 10 s.
    time.sleep(random.uniform(0, min(0.5, 0.01 * 2**attempt)))
