"""The risk analysts' side: the queue of held purchases, each case, and decisions.

A held purchase's cashback waits in `held` until an analyst approves it (it is earned and
ripens like any other) or rejects it (voided). The decision, who made it and why stay on
the order: they are the labels the next model learns from."""

from __future__ import annotations

import random
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from cashback.domain import cases as cases_domain
from cashback.domain import ledger
from cashback.domain.cases import (
    Case,
    CaseSort,
    CaseState,
    Claim,
    Linked,
    Note,
    QueueStats,
    Verdict,
)
from cashback.domain.changes import AccountMoved, DecisionChange
from cashback.domain.clock import to_iso
from cashback.domain.errors import Conflict, NotFound
from cashback.domain.orders import Order, request_hash
from cashback.domain.risk.aggregates import CustomerAggregates
from cashback.services import balances
from cashback.services.ports import ReviewStore


def cases(
    store: ReviewStore,
    tenant: str,
    state: CaseState = "open",
    sort: CaseSort = "risk",
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Order], str | None]:
    """One page of the cases in `state` in `sort`'s order, and the cursor of the next page
    (a cursor this API did not return for this tenant, state and sort is refused: 400
    invalid_cursor)."""
    return store.review_list(tenant, state, sort, limit, cursor)


def held(store: ReviewStore, orders: list[Order]) -> dict[str, int]:
    """The cashback each open case of a page still holds for its decision, by order."""
    return store.held_cashback(orders)


LINKED_CASES = 3
OWN_CASES = 10


def case(store: ReviewStore, tenant: str, order_id: str) -> Case:
    """The case file: the order with its screening and notes, the customer's balance,
    recent ledger, history and other cases, and the accounts linked to the customer
    through a shared device or payment fingerprint, with their latest cases."""
    order, notes = store.case_file(tenant, order_id)
    if order is None or order.risk is None:
        raise NotFound(f"no screened purchase {order_id}", code="case_not_found")
    account = store.get_account(tenant, order.customer_id)
    history = CustomerAggregates.from_item(account.risk) if account.risk else None
    linked = tuple(
        Linked(customer, via, tuple(store.customer_cases(tenant, customer, LINKED_CASES)))
        for customer, via in store.linked_customers(order)
    )
    own = store.customer_cases(tenant, order.customer_id, OWN_CASES + 1)
    return Case(
        order,
        balances.balance(store, tenant, order.customer_id),
        balances.entries(store, tenant, order.customer_id, 10, None),
        history,
        notes=tuple(notes),
        linked=linked,
        cases=tuple(other for other in own if other.order_id != order_id)[:OWN_CASES],
        held=store.held_cashback([order]).get(order_id, 0),
    )


def claim_case(
    store: ReviewStore,
    tenant: str,
    order_id: str,
    analyst: str,
    now: datetime,
    take_over: bool = False,
    reason: str = "",
) -> Claim:
    """Claim a case for `analyst` for CLAIM_MINUTES (again: extended). Another analyst's
    live claim is 409 case_claimed unless taken over; two claims at once race on the
    claim read, and the loser reads again (then 409, or a take-over of the winner)."""
    for attempt in range(DECISION_ATTEMPTS):
        order = store.get_order(tenant, order_id)
        if order is None or order.risk is None:
            raise NotFound(f"no screened purchase {order_id}", code="case_not_found")
        claim = cases_domain.claim(order, analyst, now, take_over, reason)
        try:
            store.set_claim(order, claim)
        except AccountMoved:
            _pause(attempt)
            continue
        return claim
    raise Conflict("this case kept changing; look again", code="case_changed")


def add_note(
    store: ReviewStore, tenant: str, order_id: str, analyst: str, text: str, now: datetime
) -> Note:
    """Keep an analyst's note on a case, open or closed, with its author and time."""
    order = store.get_order(tenant, order_id)
    if order is None or order.risk is None:
        raise NotFound(f"no screened purchase {order_id}", code="case_not_found")
    note = Note(note_id=secrets.token_hex(8), by=analyst, at=to_iso(now), text=text)
    store.add_note(tenant, order_id, note)
    return note


STATS_DAYS = 30


def stats(store: ReviewStore, tenant: str, now: datetime) -> QueueStats:
    """The team's view: the open queue (size, claimed, oldest) and the decisions on cases
    opened in the last STATS_DAYS days, per analyst."""
    opened = store.cases_since(tenant, "open")
    since = to_iso(now - timedelta(days=STATS_DAYS))
    decided = [
        row["decision"]
        for state in ("approved", "rejected")
        for row in store.cases_since(tenant, state, since)
        if row.get("decision")
    ]
    return cases_domain.queue_stats(opened, decided, now, STATS_DAYS)


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
        cases_domain.check_claim(order, analyst, now)
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
        reply = _verdict(order_id, verdict, lot.pending, step.lot.pending)
        status = reply.status
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


def _verdict(order_id: str, verdict: str, held: int, pending_after: int) -> Verdict:
    """The reply: where the order's cashback went (rejected; pending again; or nothing
    left to ripen)."""
    status = "rejected" if verdict == "reject" else "pending" if pending_after else "no_cashback"
    return Verdict(order_id=order_id, decision=verdict, status=status, cashback=held)


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
