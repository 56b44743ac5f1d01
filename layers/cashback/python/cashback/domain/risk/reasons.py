"""Why a purchase looks risky, in words: the readable rules (each names a behaviour and the
action it asks for) and the model's most unusual behaviours, rarest first.

Reasons rank by how rare each value was in the training traffic (quantiles stored in the
model's metadata).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cashback.domain.risk.aggregates import DAY, CustomerAggregates, PurchaseFacts, SharedCounts
from cashback.domain.risk.features import (
    FEATURE_NAMES,
    QUICK_REFUND_DAYS,
    RefundHistory,
    account_age_days,
    median_amount,
    orders_since,
)
from cashback.domain.risk.policy import Action, RulePolicy

RARE = 0.05  # a behaviour is worth naming when fewer than 5% of training purchases show it
YOUNG_DAYS = 30  # velocity reasons mention the account's age below this


@dataclass(frozen=True)
class Context:
    """Everything rules and reasons read, computed once per purchase."""

    purchase: PurchaseFacts
    aggregates: CustomerAggregates
    shared: SharedCounts
    now: datetime
    history: RefundHistory
    row: list[float]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _age(days: float) -> str:
    if days < 2:
        return _plural(int(days * 24), "hour")
    return _plural(int(days), "day")


def _refunds_text(h: RefundHistory) -> str:
    return (
        f"refunded {h.refunded_orders} of the last {_plural(h.orders, 'order')}, "
        f"{h.quick_refunds} within {QUICK_REFUND_DAYS} days"
    )


def _after_spendable_text(h: RefundHistory) -> str:
    return (
        f"{h.after_spendable} of {_plural(h.refunded_orders, 'refund')} came after the "
        "cashback became spendable"
    )


def _spent_text(h: RefundHistory) -> str:
    share = h.spent_before_refund / h.cashback if h.cashback else 0.0
    return (
        f"{share:.0%} of the cashback earned in 90 days was spent before its order was "
        f"refunded ({_plural(h.refunded_orders, 'refunded order')})"
    )


def _velocity_text(c: Context) -> str:
    text = (
        f"{_plural(orders_since(c.aggregates, c.now, DAY), 'order')} in the last 24 hours, "
        f"{orders_since(c.aggregates, c.now, 30 * DAY)} in 30 days"
    )
    age = account_age_days(c.aggregates, c.now)
    return f"{text} on an account {_age(age)} old" if age < YOUNG_DAYS else text


def _new_account_text(c: Context) -> str:
    if c.aggregates.first_seen is None:
        return "first purchase on this account"
    return f"account first seen {_age(account_age_days(c.aggregates, c.now))} ago"


def _amount_text(c: Context) -> str:
    reference = median_amount(c.aggregates, c.now)
    ratio = c.purchase.amount / reference if reference else 1.0
    return f"order is {ratio:.1f}x the customer's median order"


def _rate_text(c: Context) -> str:
    return f"earns {c.purchase.cashback / c.purchase.amount:.1%} cashback on this order"


def _shared_text(c: Context) -> str:
    parts = []
    if c.shared.device:
        parts.append(f"device shared with {_plural(c.shared.device, 'other customer')}")
    if c.shared.payment:
        parts.append(f"payment card shared with {_plural(c.shared.payment, 'other customer')}")
    return "; ".join(parts)


# -- readable rules -------------------------------------------------------------------------

RuleCheck = Callable[[Context, RulePolicy], bool]


@dataclass(frozen=True)
class Rule:
    name: str
    action: Action
    check: RuleCheck
    explain: Callable[[Context], str]


RULES: tuple[Rule, ...] = (
    Rule(
        "fresh_account_velocity",
        "review",
        lambda c, p: (
            account_age_days(c.aggregates, c.now) <= p.velocity_max_age_days
            and orders_since(c.aggregates, c.now, DAY) >= p.velocity_orders_24h
        ),
        _velocity_text,
    ),
    Rule(
        "shared_identity_ring",
        "review",
        lambda c, p: c.shared.most >= p.ring_customers,
        _shared_text,
    ),
    Rule(
        "serial_refunds",
        "review",
        lambda c, p: (
            c.history.refunded_orders >= p.serial_refunded_orders
            and c.history.quick_refunds >= p.serial_quick_refunds
            and c.history.refunded >= p.serial_refunded_share * c.history.ordered
        ),
        lambda c: _refunds_text(c.history),
    ),
    Rule(
        "refunds_after_spending",
        "review",
        lambda c, p: (
            c.history.refunded_orders >= p.spent_refunds
            and c.history.spent_before_refund >= p.spent_share * c.history.cashback > 0
        ),
        lambda c: _spent_text(c.history),
    ),
)


# -- the model's reasons ------------------------------------------------------------------


@dataclass(frozen=True)
class ReasonGroup:
    """Features that describe one behaviour; `low` lists those where small values are the
    risky ones."""

    name: str
    features: tuple[str, ...]
    explain: Callable[[Context], str]
    low: tuple[str, ...] = ()


REASON_GROUPS: tuple[ReasonGroup, ...] = (
    ReasonGroup(
        "refunds",
        ("refunded_orders_90d_log1p", "refunded_share_90d", "quick_refunds_90d_log1p"),
        lambda c: _refunds_text(c.history),
    ),
    ReasonGroup(
        "refund_timing",
        ("refunds_after_spendable_90d_log1p",),
        lambda c: _after_spendable_text(c.history),
    ),
    ReasonGroup(
        "spent_then_refunded", ("spent_then_refunded_share_90d",), lambda c: _spent_text(c.history)
    ),
    ReasonGroup(
        "velocity",
        ("orders_24h_log1p", "orders_30d_log1p", "orders_per_active_day_log1p"),
        _velocity_text,
    ),
    ReasonGroup("shared_identity", ("shared_identity_customers_log1p",), _shared_text),
    ReasonGroup(
        "new_account",
        ("account_age_days_log1p",),
        _new_account_text,
        low=("account_age_days_log1p",),
    ),
    ReasonGroup("amount", ("amount_vs_median_log2",), _amount_text),
    ReasonGroup("cashback_rate", ("cashback_rate",), _rate_text),
)
RULE_GROUPS: Mapping[str, str] = {
    "fresh_account_velocity": "velocity",
    "shared_identity_ring": "shared_identity",
    "serial_refunds": "refunds",
    "refunds_after_spending": "spent_then_refunded",
}


def tail_share(quantiles: Sequence[float], value: float, low: bool = False) -> float:
    """Approximate share of training purchases at least as extreme as `value`, from the
    feature's stored percentiles (0th..100th)."""
    if not quantiles:
        return 1.0
    if low:
        return bisect.bisect_right(quantiles, value) / len(quantiles)
    return (len(quantiles) - bisect.bisect_left(quantiles, value)) / len(quantiles)


def model_reasons(
    context: Context,
    metadata: Mapping[str, Any],
    skip: frozenset[str] = frozenset(),
    fallback: bool = True,
) -> list[str]:
    """The model's most unusual behaviours for this purchase, rarest first; with
    `fallback`, the least common one when none is rare on its own."""
    quantiles: Mapping[str, Sequence[float]] = metadata.get("feature_quantiles", {})
    values = dict(zip(FEATURE_NAMES, context.row, strict=True))
    ranked = []
    for group in REASON_GROUPS:
        if group.name in skip:
            continue
        tail = min(
            tail_share(quantiles.get(name, ()), values[name], name in group.low)
            for name in group.features
        )
        ranked.append((tail, group.name, group))
    ranked.sort(key=lambda item: (item[0], item[1]))
    rare = [group.explain(context) for tail, _, group in ranked if tail < RARE]
    if rare or not ranked or not fallback:
        return rare
    # No single behaviour is rare: the combination is. Name the least common one.
    return [f"unusual combination; most unusual: {ranked[0][2].explain(context)}"]
