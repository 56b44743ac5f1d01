"""Decisions on cases: an analyst approves or rejects, exactly once, with an optional close
reason (the next model's label) and note, and optionally puts the customer on the watch
or deny list in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cashback.domain import cases as cases_domain
from cashback.domain import ledger
from cashback.domain.cases import Ruling, Verdict
from cashback.domain.changes import AccountMoved, DecisionChange
from cashback.domain.clock import to_iso
from cashback.domain.errors import Conflict
from cashback.domain.lists import ListEntry, new_entry
from cashback.domain.orders import Order, request_hash
from cashback.services.ports import ReviewStore
from cashback.services.reviews import ATTEMPTS, pause, screened


def decision_fingerprint(order_id: str, ruling: Ruling, analyst: str) -> str:
    """What makes two decision requests the same: the case, the verdict, the close reason,
    the note, the list the customer goes on and the analyst's key. A retry of the request
    that closed a case gets its reply again."""
    body = {"order_id": order_id, "decision": ruling.verdict, "note": ruling.note, "by": analyst}
    optional = {"reason": ruling.reason, "customer_list": ruling.customer_list}
    return request_hash({**body, **{k: v for k, v in optional.items() if v}})


def decide(
    store: ReviewStore,
    tenant: str,
    order_id: str,
    ruling: Ruling,
    analyst: str,
    now: datetime,
) -> tuple[Verdict, bool]:
    """Close a case with an analyst's decision, exactly once.

    Two analysts deciding one case at once race on the order's `case_status = open`
    condition (and on its claim as read): one transaction wins; the other reads again,
    finds the case closed and gets 409 `case_closed` (or `case_claimed`). The winning
    request's fingerprint and reply stay on the decision, so the same request retried (a
    timeout, a double click) gets the first reply again, as purchases do with their
    idempotency record. Returns the reply and whether it is that replay."""
    fingerprint = decision_fingerprint(order_id, ruling, analyst)
    for attempt in range(ATTEMPTS):
        order = screened(store.get_order(tenant, order_id), order_id)
        if order.case_status != "open":
            return _closed(order, fingerprint), True
        cases_domain.check_claim(order, analyst, now)
        lot, account = store.load_lot_and_account(order)
        if lot is None:
            raise Conflict("this case has no held cashback left", code="case_closed")
        if lot.status != "HELD":
            # Read between another decision's (or a refund's) commit and our order read:
            # the case closed in that same transaction, so reading again says how.
            pause(attempt)
            continue
        step = (ledger.approve if ruling.verdict == "approve" else ledger.reject)(
            account, lot, order_id=order_id, decided_at=now
        )
        reply = _verdict(order_id, ruling, lot.pending, step.lot)
        record = _decision_record(ruling, analyst, now, fingerprint, reply)
        change = DecisionChange(
            order,
            record,
            lot,
            step.lot,
            step.entries,
            account,
            step.account,
            to_iso(now),
            status=reply.status,
            listed=_listed(order, ruling, analyst, now),
            notices=step.notices,
        )
        try:
            store.commit_decision(change)
        except AccountMoved:
            pause(attempt)
            continue  # a purchase, refund or another analyst got there first: look again
        return reply, False
    raise Conflict("this case kept changing; look again", code="case_changed")


def _listed(order: Order, ruling: Ruling, analyst: str, now: datetime) -> ListEntry | None:
    """The customer's entry on the watch or deny list the decision asks for (its reason
    names the case), written in the decision's transaction and audited like any other."""
    if ruling.customer_list is None:
        return None
    why = ruling.reason or ruling.verdict
    return new_entry(
        order.tenant,
        ruling.customer_list,
        order.customer_id,
        f"case {order.order_id} ({why})",
        analyst,
        now,
    )


def _verdict(order_id: str, ruling: Ruling, held: int, after: ledger.Lot) -> Verdict:
    """The reply: where the order's cashback went (rejected; pending again; available at
    once, its return window over; or nothing left, all of it repaying debt), and the
    list the customer went on."""
    status = (
        "rejected"
        if ruling.verdict == "reject"
        else "pending"
        if after.pending
        else "available"
        if after.available
        else "no_cashback"
    )
    return Verdict(
        order_id=order_id,
        decision=ruling.verdict,
        status=status,
        cashback=held,
        customer_list=ruling.customer_list,
    )


def _decision_record(
    ruling: Ruling, analyst: str, now: datetime, fingerprint: str, reply: Verdict
) -> dict[str, Any]:
    """What the order keeps of the decision: who, when, why (the close reason, when
    given, and the note), the list the customer went on, and the reply for retries."""
    return {
        **({"reason": ruling.reason} if ruling.reason else {}),
        **({"customer_list": ruling.customer_list} if ruling.customer_list else {}),
        "decision": ruling.verdict,
        "note": ruling.note,
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
