"""The refund-abuse features: one definition for training and for the request path.

Training replays simulated (or recorded) events through exactly these functions, and the
accrual handler calls them on what it reads from the table, so a model can never be
trained on a feature the runtime computes differently.

The runtime must not scan a customer's history, so everything is computed from bounded
aggregates kept up to date as events arrive:

* `CustomerAggregates` (one item per customer): lifetime counters plus the last
  `RECENT_ORDERS` orders, each with what happened to it (refunds, their timing, how much
  of its cashback had been spent when it was refunded).
* `IdentityAggregates` (per device id and per payment fingerprint): the distinct
  customers seen on it, enough of them (`MAX_IDENTITY_CUSTOMERS` + 1) to count the others
  up to `MAX_IDENTITY_CUSTOMERS`, where the count saturates. The table keeps one marker
  item per customer and identity (written without a condition, so customers who share a
  device never contend) and reads back at most that many.

All update functions are pure: they take a value and an event and return a new value.
Money stays integer minor units and time is integer epoch seconds in the stored form;
floats appear only in the feature vector itself.

The feature set is deliberately lean. An isolation forest splits on a random feature at
every node, so each irrelevant feature dilutes the splits that matter; every feature here
names a behaviour an analyst would look at.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from statistics import median
from typing import Any, Literal

DAY = 86_400
HOUR = 3_600
RECENT_ORDERS = 32  # orders kept per customer: enough for 90 days of all but bulk buyers
MAX_IDENTITY_CUSTOMERS = 32  # distinct customers kept per device / payment fingerprint
REFUND_WINDOW_DAYS = 90
QUICK_REFUND_DAYS = 3

FEATURE_NAMES: tuple[str, ...] = (
    "amount_vs_median_log2",
    "account_age_days_log1p",
    "orders_24h_log1p",
    "orders_30d_log1p",
    "orders_per_active_day_log1p",
    "refunded_orders_90d_log1p",
    "refunded_share_90d",
    "quick_refunds_90d_log1p",
    "refunds_after_spendable_90d_log1p",
    "spent_then_refunded_share_90d",
    "cashback_rate",
    "shared_identity_customers_log1p",
)

FEATURE_DESCRIPTIONS: Mapping[str, str] = {
    "amount_vs_median_log2": "log2 of this order's amount over the median of the customer's "
    "previous orders (0 for a first order)",
    "account_age_days_log1p": "log(1 + days since the customer's first purchase)",
    "orders_24h_log1p": "log(1 + previous orders in the last 24 hours)",
    "orders_30d_log1p": "log(1 + previous orders in the last 30 days)",
    "orders_per_active_day_log1p": "log(1 + previous orders in the last 30 days per day the "
    "account has existed, counting at least one day)",
    "refunded_orders_90d_log1p": "log(1 + orders of the last 90 days with a refund)",
    "refunded_share_90d": "refunded amount over ordered amount, orders of the last 90 days",
    "quick_refunds_90d_log1p": "log(1 + orders of the last 90 days refunded within 3 days)",
    "refunds_after_spendable_90d_log1p": "log(1 + orders of the last 90 days first refunded "
    "after their cashback became spendable)",
    "spent_then_refunded_share_90d": "share of the cashback earned on the last 90 days' "
    "orders that was spent before its order was refunded "
    "(it became debt)",
    "cashback_rate": "this order's cashback over its amount",
    "shared_identity_customers_log1p": "log(1 + other customers on the same device or payment "
    "fingerprint, the larger of the two)",
}


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


# -- the features -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RefundHistory:
    """The last 90 days of orders and their refunds, in the numbers reasons quote."""

    orders: int
    refunded_orders: int
    quick_refunds: int
    after_spendable: int
    ordered: int
    cashback: int
    refunded: int
    clawed_back: int
    spent_before_refund: int
    median_days_to_refund: float | None


def refund_history(aggregates: CustomerAggregates, now: datetime) -> RefundHistory:
    """Orders placed in the last 90 days and what was refunded of them (as of `now`)."""
    t = epoch(now)
    window = [n for n in aggregates.recent if t - REFUND_WINDOW_DAYS * DAY < n.at <= t]
    refunded = [
        n for n in window if n.refunded and n.first_refund_at is not None and n.first_refund_at <= t
    ]
    delays = [(n.first_refund_at - n.at) / DAY for n in refunded if n.first_refund_at is not None]
    return RefundHistory(
        orders=len(window),
        refunded_orders=len(refunded),
        quick_refunds=sum(d <= QUICK_REFUND_DAYS for d in delays),
        after_spendable=sum(
            n.first_refund_at is not None and n.first_refund_at >= n.spendable_at for n in refunded
        ),
        ordered=sum(n.amount for n in window),
        cashback=sum(n.cashback for n in window),
        refunded=sum(n.refunded for n in refunded),
        clawed_back=sum(n.clawed_back for n in refunded),
        spent_before_refund=sum(n.spent_before_refund for n in refunded),
        median_days_to_refund=median(delays) if delays else None,
    )


def orders_since(aggregates: CustomerAggregates, now: datetime, seconds: int) -> int:
    """Previous orders in the last `seconds` before `now`."""
    t = epoch(now)
    return sum(t - seconds < n.at <= t for n in aggregates.recent)


def median_amount(aggregates: CustomerAggregates, now: datetime) -> float | None:
    """Median amount of the customer's previous orders (up to RECENT_ORDERS), if any."""
    t = epoch(now)
    amounts = [n.amount for n in aggregates.recent if n.at <= t]
    return float(median(amounts)) if amounts else None


def account_age_days(aggregates: CustomerAggregates, now: datetime) -> float:
    if aggregates.first_seen is None:
        return 0.0
    return max(0.0, (epoch(now) - aggregates.first_seen) / DAY)


def features(
    aggregates: CustomerAggregates,
    purchase: PurchaseFacts,
    now: datetime,
    shared_counts: SharedCounts,
) -> list[float]:
    """The feature vector of `purchase`, in FEATURE_NAMES order, from the aggregates as they
    were before it (note the purchase only after scoring it). Counts and ages go through
    log1p so the forest's uniform random splits land where the differences matter (0 vs 3
    orders today, not 400 vs 403 days old)."""
    if purchase.amount <= 0:
        raise ValueError("a purchase amount must be positive")
    reference = median_amount(aggregates, now)
    age = account_age_days(aggregates, now)
    last_30d = orders_since(aggregates, now, 30 * DAY)
    history = refund_history(aggregates, now)
    refunded_share = history.refunded / history.ordered if history.ordered else 0.0
    # Relative to all cashback earned, not to what was clawed back: one late return of one
    # order by a loyal customer must not look like a habit of spending and refunding.
    spent_share = history.spent_before_refund / history.cashback if history.cashback else 0.0
    return [
        math.log2(purchase.amount / reference) if reference else 0.0,
        math.log1p(age),
        math.log1p(orders_since(aggregates, now, DAY)),
        math.log1p(last_30d),
        math.log1p(last_30d / max(1.0, min(30.0, age))),
        math.log1p(history.refunded_orders),
        min(1.0, refunded_share),
        math.log1p(history.quick_refunds),
        math.log1p(history.after_spendable),
        min(1.0, spent_share),
        purchase.cashback / purchase.amount,
        math.log1p(shared_counts.most),
    ]


def feature_dict(values: Iterable[float]) -> dict[str, float]:
    """Name the values of a feature vector (for case files and reports)."""
    row = list(values)
    if len(row) != len(FEATURE_NAMES):
        raise ValueError(f"expected {len(FEATURE_NAMES)} features, got {len(row)}")
    return dict(zip(FEATURE_NAMES, row, strict=True))
