"""Replay traffic through the runtime's own aggregates and features, in time order.

This is the one way training, evaluation and backtests see purchases: exactly as accrual
will at run time, with the customer's aggregates, device and payment fingerprint items as
they were just before each purchase, so no feature can peek at the future.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from cashback.domain.risk.aggregates import (
    CustomerAggregates,
    IdentityAggregates,
    PurchaseFacts,
    RedemptionFacts,
    RefundFacts,
    SharedCounts,
    note_identity,
    note_purchase,
    note_redemption,
    note_refund,
    shared_counts,
)
from cashback.domain.risk.features import FEATURE_NAMES, features
from models.refund_abuse.simulator import MONTH, Purchase, Redemption, Refund, Traffic


def purchase_facts(purchase: Purchase) -> PurchaseFacts:
    return PurchaseFacts(
        order_id=purchase.order_id,
        customer_id=purchase.customer_id,
        amount=purchase.amount,
        cashback=purchase.cashback,
        occurred_at=purchase.at,
        spendable_at=purchase.spendable_at,
        channel=purchase.channel,
        device_id=purchase.device_id,
        payment_fingerprint=purchase.payment_fingerprint,
    )


@dataclass(frozen=True)
class Step:
    """One purchase about to be decided, with the state the runtime would read."""

    purchase: Purchase
    facts: PurchaseFacts
    aggregates: CustomerAggregates
    shared: SharedCounts
    now: datetime


def replay(traffic: Traffic) -> Iterator[Step]:
    """Yield every purchase with its state before it; refunds and redemptions update the
    state between purchases. The purchase is noted after the consumer has seen it."""
    customers: dict[str, CustomerAggregates] = {}
    devices: dict[str, IdentityAggregates] = {}
    payments: dict[str, IdentityAggregates] = {}
    for event in traffic.events:
        cid = event.customer_id
        aggregates = customers.get(cid) or CustomerAggregates(cid)
        if isinstance(event, Refund):
            customers[cid] = note_refund(
                aggregates,
                RefundFacts(
                    order_id=event.order_id,
                    amount=event.amount,
                    occurred_at=event.at,
                    clawed_back=event.clawed_back,
                    debt=event.debt,
                ),
            )
        elif isinstance(event, Redemption):
            customers[cid] = note_redemption(
                aggregates,
                RedemptionFacts(amount=event.amount, occurred_at=event.at, method=event.method),
            )
        else:
            facts = purchase_facts(event)
            device = devices.get(event.device_id) if event.device_id else None
            payment = payments.get(event.payment_fingerprint) if event.payment_fingerprint else None
            yield Step(event, facts, aggregates, shared_counts(cid, device, payment), event.at)
            customers[cid] = note_purchase(aggregates, facts)
            if event.device_id:
                devices[event.device_id] = note_identity(
                    device or IdentityAggregates("device", event.device_id), cid, event.at
                )
            if event.payment_fingerprint:
                payments[event.payment_fingerprint] = note_identity(
                    payment or IdentityAggregates("payment", event.payment_fingerprint),
                    cid,
                    event.at,
                )


@dataclass(frozen=True)
class Dataset:
    """One row per purchase: features plus what evaluation needs to know about it."""

    X: np.ndarray
    order_ids: list[str]
    customer_ids: list[str]
    kinds: np.ndarray
    months: np.ndarray
    days: np.ndarray  # whole days since the start of the traffic
    cashback: np.ndarray  # minor units, int64
    devices: list[str | None]
    payments: list[str | None]
    known_abuser: np.ndarray

    def rows(self, mask: np.ndarray) -> Dataset:
        index = np.flatnonzero(mask)
        return Dataset(
            self.X[index],
            [self.order_ids[i] for i in index],
            [self.customer_ids[i] for i in index],
            self.kinds[index],
            self.months[index],
            self.days[index],
            self.cashback[index],
            [self.devices[i] for i in index],
            [self.payments[i] for i in index],
            self.known_abuser[index],
        )

    def __len__(self) -> int:
        return len(self.order_ids)


def dataset(traffic: Traffic) -> Dataset:
    """Features of every purchase in the traffic, labelled by the customer's kind."""
    customers = {c.customer_id: c for c in traffic.customers}
    rows, order_ids, customer_ids, kinds, months, days = [], [], [], [], [], []
    cashback, devices, payments, known = [], [], [], []
    for step in replay(traffic):
        p = step.purchase
        customer = customers[p.customer_id]
        rows.append(features(step.aggregates, step.facts, step.now, step.shared))
        order_ids.append(p.order_id)
        customer_ids.append(p.customer_id)
        kinds.append(customer.kind)
        months.append(int((p.at - traffic.start) / MONTH))
        days.append((p.at - traffic.start).days)
        cashback.append(p.cashback)
        devices.append(p.device_id)
        payments.append(p.payment_fingerprint)
        known.append(customer.known_abuser)
    X = np.asarray(rows, dtype=np.float64).reshape(-1, len(FEATURE_NAMES))
    return Dataset(
        X,
        order_ids,
        customer_ids,
        np.asarray(kinds),
        np.asarray(months),
        np.asarray(days),
        np.asarray(cashback, dtype=np.int64),
        devices,
        payments,
        np.asarray(known, dtype=bool),
    )
