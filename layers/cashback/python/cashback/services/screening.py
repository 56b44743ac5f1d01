"""Refund-abuse screening of a purchase, before any cashback reaches a balance.

Glue between the ledger's records and the risk package: the customer's aggregates live on
the account item, read in the purchase's BatchGetItem and written in its one transaction.
The customers seen on a device / payment fingerprint are one marker item per customer
(read with one bounded Query per identity, written in the same transaction without any
condition), so customers who share a device never contend. The scorer (numpy only) runs
in microseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cashback.domain.changes import Identity
from cashback.domain.ledger import Account, RiskAction
from cashback.domain.orders import NewPurchase
from cashback.domain.risk.aggregates import (
    CustomerAggregates,
    IdentityAggregates,
    PurchaseFacts,
    RedemptionFacts,
    RefundFacts,
    note_purchase,
    note_redemption,
    note_refund,
    shared_counts,
)
from cashback.domain.risk.decision import Decision, decide
from cashback.domain.risk.policy import NO_LISTS, RiskLists
from cashback.domain.risk.stats import in_force
from cashback.domain.tenants import TenantSettings

if TYPE_CHECKING:
    # numpy: only the accrual function has it (ModelLayer); loaded by runtime.scorer().
    from cashback.domain.risk.scorer import Scorer


def identities_of(request: NewPurchase) -> tuple[Identity, ...]:
    pairs = (("device", request.device_id), ("payment", request.payment_fingerprint))
    return tuple((kind, key) for kind, key in pairs if key)


@dataclass(frozen=True)
class Screening:
    decision: Decision | None  # None: the storefront turned scoring off
    aggregates: dict[str, Any]  # the customer's aggregates after this purchase
    identities: tuple[Identity, ...]  # devices / payment fingerprints new to the customer

    @property
    def action(self) -> RiskAction:
        return self.decision.action if self.decision else "allow"

    def record(self) -> dict[str, Any] | None:
        return self.decision.to_record() if self.decision else None


def screen(
    request: NewPurchase,
    account: Account,
    found: dict[Identity, dict[str, Any]],
    cashback: int,
    spendable_at: datetime,
    settings: TenantSettings,
    scorer: Scorer | None,
    lists: RiskLists = NO_LISTS,
) -> Screening:
    """Decide the purchase from the aggregates as they were before it, and note it;
    `lists`: the storefront's list entries the purchase is on (read with its account)."""
    facts = PurchaseFacts(
        order_id=request.order_id,
        customer_id=request.customer_id,
        amount=request.amount,
        cashback=cashback,
        occurred_at=request.occurred_at,
        spendable_at=spendable_at,
        channel=request.channel,
        device_id=request.device_id,
        payment_fingerprint=request.payment_fingerprint,
    )
    aggregates = (
        CustomerAggregates.from_item(account.risk)
        if account.risk
        else CustomerAggregates(customer_id=request.customer_id)
    )
    before: dict[Identity, IdentityAggregates] = {
        (kind, key): IdentityAggregates.from_item(found[(kind, key)])
        if (kind, key) in found
        else IdentityAggregates(kind=kind, key=key)  # type: ignore[arg-type]
        for kind, key in identities_of(request)
    }
    decision = None
    if settings.risk_mode != "off":
        shared = shared_counts(
            request.customer_id,
            before.get(("device", request.device_id or "")),
            before.get(("payment", request.payment_fingerprint or "")),
        )
        decision = decide(
            facts,
            aggregates,
            shared,
            request.occurred_at,
            scorer,
            lists=lists,
            thresholds=in_force(settings.thresholds, scorer.model_version if scorer else None),
            shadow=settings.risk_mode == "shadow",
        )
    # The customer's own marker on each device / fingerprint it is not known on yet
    # (a commutative write: see domain.changes.PurchaseChange).
    writes = tuple(
        pair for pair, identity in before.items() if request.customer_id not in identity.customers
    )
    return Screening(decision, note_purchase(aggregates, facts).to_item(), writes)


def after_refund(
    account: Account, order_id: str, amount: int, occurred_at: datetime, clawed_back: int, debt: int
) -> dict[str, Any]:
    """The customer's aggregates once a refund is applied (it feeds later decisions);
    `debt`: what the customer had really spent of the order's cashback and the refund
    took back, whatever the refund policy then charged for it."""
    if not account.risk:
        return account.risk
    aggregates = CustomerAggregates.from_item(account.risk)
    return note_refund(
        aggregates,
        RefundFacts(
            order_id=order_id,
            amount=amount,
            occurred_at=occurred_at,
            clawed_back=clawed_back,
            debt=debt,
        ),
    ).to_item()


def after_redemption(account: Account, amount: int, occurred_at: datetime) -> dict[str, Any]:
    """The customer's aggregates once cashback was spent at checkout (captured)."""
    if not account.risk:
        return account.risk
    aggregates = CustomerAggregates.from_item(account.risk)
    return note_redemption(
        aggregates, RedemptionFacts(amount=amount, occurred_at=occurred_at)
    ).to_item()
