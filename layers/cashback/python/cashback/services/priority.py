"""A case's place in the queue follows its customer. Sift freezes a case's priority when
it is queued; here, when a customer's purchase is scored riskier than their open cases,
those cases rise to its score, and a new case starts no lower than the customer's riskiest
open one, so an analyst sees the customer's current risk, not the one at queueing time."""

from __future__ import annotations

from cashback.domain.cases import raised
from cashback.domain.changes import PurchaseChange
from cashback.observability import logger
from cashback.services.ports import PriorityStore

# The customer's latest cases looked at (open ones among them are raised).
CASES_READ = 10


def follow(store: PriorityStore, change: PurchaseChange) -> None:
    """After a purchase commits: raise the customer's open cases to the riskiest of their
    priorities and this purchase's score. Only customers who had cashback held (so open
    cases) before the purchase pay the reads. The money is committed: a failure here
    leaves a case lower in the queue than it could be, so it is logged, not raised."""
    order = change.order
    if change.before["held"] <= 0 or not order.risk or order.risk.get("score") is None:
        return
    try:
        cases = store.customer_cases(order.tenant, order.customer_id, CASES_READ)
        for case, score, source in raised(order, [c for c in cases if c.case_status == "open"]):
            store.raise_priority(case, score, source)
    except Exception:  # noqa: BLE001 - the purchase stands; only an ordering is stale
        logger.exception("case priorities not raised", extra={"order_id": order.order_id})
