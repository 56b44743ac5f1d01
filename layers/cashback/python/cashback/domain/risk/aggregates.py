"""What the risk model remembers of a customer, a device and a payment card: bounded
aggregates kept up to date as events (purchases, refunds, redemptions) arrive.

The runtime must not scan a customer's history, so every feature is computed from these:

* `CustomerAggregates` (one item per customer): lifetime counters plus the last
  `RECENT_ORDERS` orders, each with what happened to it (refunds, their timing, how much
  of its cashback had been spent when it was refunded).
* `IdentityAggregates` (per device id and per payment fingerprint): the distinct
  customers seen on it, enough of them (`MAX_IDENTITY_CUSTOMERS` + 1) to count the others
  up to `MAX_IDENTITY_CUSTOMERS`, where the count saturates. The table keeps one marker
  item per customer and identity (written without a condition, so customers who share a
  device never contend) and reads back at most that many.

All update functions are pure: they take a value and an event and return a new value.
Money stays integer minor units and time is integer epoch seconds in the stored form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

DAY = 86_400
HOUR = 3_600
RECENT_ORDERS = 32  # orders kept per customer: enough for 90 days of all but bulk buyers
MAX_IDENTITY_CUSTOMERS = 32  # distinct customers kept per device / payment fingerprint


def epoch(moment: datetime) -> int:
    """Epoch seconds of an aware datetime; the stored form of every timestamp here."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must carry a time zone")
    return int(moment.timestamp())


# -- events as the risk model sees them ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class PurchaseFacts:
    """A purchase about to be scored. `cashback` is what the rules give it (minor units)
    and `spendable_at` is when that cashback would ripen (the end of the return window)."""

    order_id: str
    customer_id: str
    amount: int
    cashback: int
    occurred_at: datetime
    spendable_at: datetime
    channel: str = "online"
    device_id: str | None = None
    payment_fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class RefundFacts:
    """A refund as the ledger applied it: `clawed_back` of the order's cashback was taken
    back, of which `debt` had already been spent by the customer."""

    order_id: str
    amount: int
    occurred_at: datetime
    clawed_back: int = 0
    debt: int = 0


@dataclass(frozen=True, slots=True)
class RedemptionFacts:
    """Cashback spent at checkout or withdrawn (minor units)."""

    amount: int
    occurred_at: datetime
    method: Literal["checkout", "withdrawal"] = "checkout"


# -- aggregates -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderNote:
    """One recent order and what became of it; all integers."""

    order_id: str
    at: int
    amount: int
    cashback: int
    spendable_at: int
    refunded: int = 0
    first_refund_at: int | None = None
    clawed_back: int = 0
    spent_before_refund: int = 0

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "o": self.order_id,
            "t": self.at,
            "a": self.amount,
            "c": self.cashback,
            "s": self.spendable_at,
        }
        if self.refunded:
            item |= {
                "r": self.refunded,
                "rt": self.first_refund_at,
                "cb": self.clawed_back,
                "d": self.spent_before_refund,
            }
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> OrderNote:
        first_refund_at = item.get("rt")
        return cls(
            order_id=str(item["o"]),
            at=int(item["t"]),
            amount=int(item["a"]),
            cashback=int(item["c"]),
            spendable_at=int(item["s"]),
            refunded=int(item.get("r", 0)),
            first_refund_at=None if first_refund_at is None else int(first_refund_at),
            clawed_back=int(item.get("cb", 0)),
            spent_before_refund=int(item.get("d", 0)),
        )


@dataclass(frozen=True, slots=True)
class CustomerAggregates:
    """Everything the features need about one customer, bounded in size whatever the
    length of the history: about 3 KB as a DynamoDB item at most."""

    customer_id: str
    first_seen: int | None = None
    orders: int = 0
    ordered: int = 0
    refunds: int = 0
    refunded: int = 0
    redemptions: int = 0
    redeemed: int = 0
    last_redeemed_at: int | None = None
    recent: tuple[OrderNote, ...] = ()

    def to_item(self) -> dict[str, Any]:
        """Plain ints, strings and lists: no floats, ready for the table's serializer."""
        item: dict[str, Any] = {
            "customer_id": self.customer_id,
            "orders": self.orders,
            "ordered": self.ordered,
            "refunds": self.refunds,
            "refunded": self.refunded,
            "redemptions": self.redemptions,
            "redeemed": self.redeemed,
            "recent": [note.to_item() for note in self.recent],
        }
        if self.first_seen is not None:
            item["first_seen"] = self.first_seen
        if self.last_redeemed_at is not None:
            item["last_redeemed_at"] = self.last_redeemed_at
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> CustomerAggregates:
        def optional(name: str) -> int | None:
            value = item.get(name)
            return None if value is None else int(value)

        return cls(
            customer_id=str(item["customer_id"]),
            first_seen=optional("first_seen"),
            orders=int(item.get("orders", 0)),
            ordered=int(item.get("ordered", 0)),
            refunds=int(item.get("refunds", 0)),
            refunded=int(item.get("refunded", 0)),
            redemptions=int(item.get("redemptions", 0)),
            redeemed=int(item.get("redeemed", 0)),
            last_redeemed_at=optional("last_redeemed_at"),
            recent=tuple(OrderNote.from_item(n) for n in item.get("recent", ())),
        )


IdentityKind = Literal["device", "payment"]


@dataclass(frozen=True, slots=True)
class IdentityAggregates:
    """The customers seen on one device id or payment fingerprint (at most
    MAX_IDENTITY_CUSTOMERS + 1 of them: the count of the others saturates at
    MAX_IDENTITY_CUSTOMERS, which is plenty to call it a ring)."""

    kind: IdentityKind
    key: str
    customers: tuple[str, ...] = ()
    first_seen: int | None = None

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "kind": self.kind,
            "key": self.key,
            "customers": list(self.customers),
        }
        if self.first_seen is not None:
            item["first_seen"] = self.first_seen
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> IdentityAggregates:
        kind = item["kind"]
        if kind not in ("device", "payment"):
            raise ValueError(f"unknown identity kind {kind!r}")
        first_seen = item.get("first_seen")
        return cls(
            kind=kind,
            key=str(item["key"]),
            customers=tuple(str(c) for c in item.get("customers", ())),
            first_seen=None if first_seen is None else int(first_seen),
        )


@dataclass(frozen=True, slots=True)
class SharedCounts:
    """Other customers (not this one) seen on the purchase's device and payment fingerprint."""

    device: int = 0
    payment: int = 0

    @property
    def most(self) -> int:
        return max(self.device, self.payment)


# -- pure updates -------------------------------------------------------------------------


def note_purchase(aggregates: CustomerAggregates, purchase: PurchaseFacts) -> CustomerAggregates:
    """The aggregates after a purchase (whatever its decision: a blocked order still counts
    towards velocity). Noting the same order_id twice changes nothing, so a retried request
    cannot inflate the counts."""
    if purchase.customer_id != aggregates.customer_id:
        raise ValueError("purchase belongs to another customer")
    if any(note.order_id == purchase.order_id for note in aggregates.recent):
        return aggregates
    at = epoch(purchase.occurred_at)
    note = OrderNote(
        order_id=purchase.order_id,
        at=at,
        amount=purchase.amount,
        cashback=purchase.cashback,
        spendable_at=epoch(purchase.spendable_at),
    )
    recent = tuple(sorted((*aggregates.recent, note), key=lambda n: (n.at, n.order_id)))
    first_seen = at if aggregates.first_seen is None else min(aggregates.first_seen, at)
    return replace(
        aggregates,
        first_seen=first_seen,
        orders=aggregates.orders + 1,
        ordered=aggregates.ordered + purchase.amount,
        recent=recent[-RECENT_ORDERS:],
    )


def note_refund(aggregates: CustomerAggregates, refund: RefundFacts) -> CustomerAggregates:
    """The aggregates after a refund. An order that has left the recent list still counts in
    the lifetime totals. (Exactly-once is the ledger's job: the refund's idempotency record
    is written in the same transaction as this item.)"""
    at = epoch(refund.occurred_at)
    recent = tuple(
        replace(
            note,
            refunded=note.refunded + refund.amount,
            first_refund_at=at if note.first_refund_at is None else note.first_refund_at,
            clawed_back=note.clawed_back + refund.clawed_back,
            spent_before_refund=note.spent_before_refund + refund.debt,
        )
        if note.order_id == refund.order_id
        else note
        for note in aggregates.recent
    )
    return replace(
        aggregates,
        refunds=aggregates.refunds + 1,
        refunded=aggregates.refunded + refund.amount,
        recent=recent,
    )


def note_redemption(
    aggregates: CustomerAggregates, redemption: RedemptionFacts
) -> CustomerAggregates:
    """The aggregates after cashback was spent or withdrawn."""
    at = epoch(redemption.occurred_at)
    last = at if aggregates.last_redeemed_at is None else max(aggregates.last_redeemed_at, at)
    return replace(
        aggregates,
        redemptions=aggregates.redemptions + 1,
        redeemed=aggregates.redeemed + redemption.amount,
        last_redeemed_at=last,
    )


def note_identity(
    identity: IdentityAggregates, customer_id: str, now: datetime
) -> IdentityAggregates:
    """The device / payment fingerprint after `customer_id` used it."""
    at = epoch(now)
    first_seen = at if identity.first_seen is None else min(identity.first_seen, at)
    customers = identity.customers
    if customer_id not in customers and len(customers) <= MAX_IDENTITY_CUSTOMERS:
        customers = (*customers, customer_id)
    return replace(identity, customers=customers, first_seen=first_seen)


def shared_counts(
    customer_id: str,
    device: IdentityAggregates | None = None,
    payment: IdentityAggregates | None = None,
) -> SharedCounts:
    """How many other customers share the purchase's device and payment fingerprint, up to
    MAX_IDENTITY_CUSTOMERS (the same whichever MAX_IDENTITY_CUSTOMERS + 1 customers the
    aggregate holds, so it never depends on who came first or on the order of writes)."""

    def others(identity: IdentityAggregates | None) -> int:
        if identity is None:
            return 0
        return min(MAX_IDENTITY_CUSTOMERS, sum(c != customer_id for c in identity.customers))

    return SharedCounts(device=others(device), payment=others(payment))
