"""The risk analysts' side: the queue of held purchases, each case, and decisions.

A held purchase's cashback waits in `held` until an analyst approves it (it is earned and
ripens like any other) or rejects it (voided). The decision, who made it and why stay on
the order: they are the labels the next model learns from."""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from cashback.domain import cases as cases_domain
from cashback.domain.cases import (
    Case,
    CaseSort,
    CaseState,
    Claim,
    Linked,
    Note,
    QueueStats,
)
from cashback.domain.changes import AccountMoved
from cashback.domain.clock import to_iso
from cashback.domain.errors import Conflict, NotFound
from cashback.domain.orders import Order
from cashback.domain.risk.aggregates import CustomerAggregates
from cashback.services import balances, risk_settings
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


def screened(order: Order | None, order_id: str) -> Order:
    """The order behind a case: one the risk screen recorded (404 case_not_found if not)."""
    if order is None or order.risk is None:
        raise NotFound(f"no screened purchase {order_id}", code="case_not_found")
    return order


LINKED_CASES = 3
OWN_CASES = 10


def case(
    store: ReviewStore,
    tenant: str,
    order_id: str,
    now: datetime,
    metadata: Mapping[str, Any] | None = None,
) -> Case:
    """The case file: the order with its screening and notes, each feature with its
    percentile among the storefront's recent purchases (`metadata`: the model's, whose
    quantiles bucket them), the customer's balance, recent ledger, history and other
    cases, and the accounts linked to the customer through a shared device or payment
    fingerprint, with their latest cases."""
    found, notes = store.case_file(tenant, order_id)
    order = screened(found, order_id)
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
        features=_features(store, tenant, order, now, metadata),
    )


def _features(
    store: ReviewStore,
    tenant: str,
    order: Order,
    now: datetime,
    metadata: Mapping[str, Any] | None,
) -> tuple[tuple[str, float, float | None], ...]:
    """The purchase's features as screened, each against the storefront's normal (none for
    a purchase screened before its risk record kept them)."""
    row = (order.risk or {}).get("features")
    if not row:
        return ()
    return tuple(risk_settings.percentiles(store, tenant, row, now, metadata))


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
    for attempt in range(ATTEMPTS):
        order = screened(store.get_order(tenant, order_id), order_id)
        claim = cases_domain.claim(order, analyst, now, take_over, reason)
        try:
            store.set_claim(order, claim)
        except AccountMoved:
            pause(attempt)
            continue
        return claim
    raise Conflict("this case kept changing; look again", code="case_changed")


def add_note(
    store: ReviewStore, tenant: str, order_id: str, analyst: str, text: str, now: datetime
) -> Note:
    """Keep an analyst's note on a case, open or closed, with its author and time."""
    screened(store.get_order(tenant, order_id), order_id)
    # The id sorts notes taken in the same second in the order they arrived.
    note_id = f"{time.time_ns():x}{secrets.token_hex(3)}"
    note = Note(note_id=note_id, by=analyst, at=to_iso(now), text=text)
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


# Reads and conditional writes a case request may try before 409 case_changed.
ATTEMPTS = 8


def pause(attempt: int) -> None:
    # Full jitter, up to half a second: two decisions whose transactions cancel each other
    # (TransactionConflict) must not keep colliding, and the loser must outwait a winner's
    # commit on a busy table before it reads the case again (then 409 case_closed, not
    # case_changed). Worst case about 1.5 s, well inside the function's 10 s.
    time.sleep(random.uniform(0, min(0.5, 0.01 * 2**attempt)))
