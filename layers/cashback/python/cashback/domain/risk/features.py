"""The refund-abuse features: one definition for training and for the request path.

Training replays simulated (or recorded) events through exactly these functions, and the
accrual handler calls them on what it reads from the table, so a model can never be
trained on a feature the runtime computes differently. They are computed from the bounded
aggregates (aggregates.py), never from a scan of the customer's history; floats appear
only in the feature vector itself.

The feature set is deliberately lean. An isolation forest splits on a random feature at
every node, so each irrelevant feature dilutes the splits that matter; every feature here
names a behaviour an analyst would look at.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from statistics import median

from cashback.domain.risk.aggregates import (
    DAY,
    CustomerAggregates,
    PurchaseFacts,
    SharedCounts,
    epoch,
)

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
