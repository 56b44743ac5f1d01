"""A seeded storefront: months of purchases, refunds and redemptions by labelled customers.

Honest kinds include the cases an abuse model must leave alone (big loyal spenders,
campaign shoppers who keep what they buy, occasional honest returners); abuse kinds are
the five of issue 3. Every customer draws from its own generator, seeded from
(seed, customer index), so the traffic is reproducible bit for bit and adding a kind does
not reshuffle the others.

The program mirrors a storefront's settings: cashback by category (Decimal rates, rounded
down by `cashback.domain.ledger.cashback_for`), a monthly campaign that raises one category to
15%, a first-purchase bonus, a cashback return window of 14 days (then it is spendable)
inside a store return policy of 30 days. Each customer's lots are replayed to know how much
of an order's cashback was already spent when it is refunded: that part becomes debt, as
in the ledger (spent first-in first-out by order date; debt is not netted from later
cashback here).

    python -m models.refund_abuse.simulator --seed 7 --out traffic.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import numpy as np

from cashback.domain.ledger import cashback_for, clawback_for

HONEST_KINDS = ("regular", "big_loyal", "campaign_shopper", "honest_returner")
ABUSE_KINDS = (
    "serial_refunder",
    "refund_churn",
    "redeem_then_refund",
    "velocity_burst",
    "account_farming",
)
KINDS = HONEST_KINDS + ABUSE_KINDS
HONEST = "honest"

CATEGORY_RATES: Mapping[str, Decimal] = {
    "grocery": Decimal("0.01"),
    "electronics": Decimal("0.02"),
    "home": Decimal("0.04"),
    "fashion": Decimal("0.05"),
    "sports": Decimal("0.05"),
    "beauty": Decimal("0.08"),
}
CATEGORIES = tuple(CATEGORY_RATES)
POPULARITY = np.array([0.22, 0.14, 0.16, 0.24, 0.10, 0.14])
CAMPAIGN_RATE = Decimal("0.15")
CAMPAIGN_CATEGORIES = ("electronics", "home", "fashion", "beauty", "sports")
MONTH = timedelta(days=30)
DAY_S = 86_400
HOUR_S = 3_600


@dataclass(frozen=True)
class SimulationConfig:
    """The storefront and its population. Counts of abusers are per kind; farming counts
    rings (each of 4 to 10 accounts)."""

    seed: int = 7
    start: datetime = datetime(2026, 1, 5, tzinfo=UTC)
    months: int = 5
    honest_customers: int = 10000
    honest_mix: Mapping[str, float] = field(
        default_factory=lambda: {
            "regular": 0.72,
            "big_loyal": 0.05,
            "campaign_shopper": 0.13,
            "honest_returner": 0.10,
        }
    )
    abusers: Mapping[str, int] = field(
        default_factory=lambda: {
            "serial_refunder": 20,
            "refund_churn": 20,
            "redeem_then_refund": 20,
            "velocity_burst": 40,
            "account_farming": 30,
        }
    )
    known_abuser_share: float = 0.5  # confirmed by analysts before training (chargebacks...)
    return_window_days: int = 14  # cashback becomes spendable after it
    store_return_days: int = 30  # the store accepts refunds this long
    first_purchase_bonus: int = 1500  # minor units
    household_share: float = 0.08  # honest customers sharing a device with one other
    # 0: behaviour parameters drawn from their usual ranges. > 0: drawn outside them, up to
    # `shift` range widths below or above (a population the model was not trained on).
    shift: float = 0.0

    @property
    def end(self) -> datetime:
        return self.start + self.months * MONTH

    def month_start(self, month: int) -> datetime:
        return self.start + month * MONTH

    @classmethod
    def small(cls, seed: int = 3, months: int = 3) -> SimulationConfig:
        """A quick population for tests: every kind present, a few hundred customers."""
        return cls(
            seed=seed,
            months=months,
            honest_customers=400,
            abusers={
                "serial_refunder": 4,
                "refund_churn": 4,
                "redeem_then_refund": 4,
                "velocity_burst": 4,
                "account_farming": 2,
            },
        )


# -- events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    sku: str
    category: str
    amount: int
    eco: bool = False


@dataclass(frozen=True)
class Purchase:
    order_id: str
    customer_id: str
    at: datetime
    amount: int
    cashback: int
    spendable_at: datetime
    channel: Literal["online", "store", "app"]
    lines: tuple[Line, ...]
    device_id: str | None
    payment_fingerprint: str | None
    type: Literal["purchase"] = "purchase"


@dataclass(frozen=True)
class Refund:
    refund_id: str
    order_id: str
    customer_id: str
    at: datetime
    amount: int
    clawed_back: int
    debt: int
    type: Literal["refund"] = "refund"


@dataclass(frozen=True)
class Redemption:
    redemption_id: str
    customer_id: str
    at: datetime
    amount: int
    method: Literal["checkout", "withdrawal"]
    type: Literal["redemption"] = "redemption"


Event = Purchase | Refund | Redemption


@dataclass(frozen=True)
class Customer:
    customer_id: str
    kind: str
    joined_at: datetime
    known_abuser: bool = False
    ring: str | None = None

    @property
    def abusive(self) -> bool:
        return self.kind in ABUSE_KINDS


@dataclass(frozen=True)
class Traffic:
    """Customers (with their kind when known) and their events in time order."""

    customers: tuple[Customer, ...]
    events: tuple[Event, ...]
    start: datetime
    end: datetime
    seed: int | None = None

    def kinds(self) -> dict[str, str]:
        return {c.customer_id: c.kind for c in self.customers}

    def summary(self) -> dict[str, Any]:
        counts = Counter(type(e).__name__.lower() for e in self.events)
        return {
            "seed": self.seed,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "customers": dict(sorted(Counter(c.kind for c in self.customers).items())),
            "events": dict(sorted(counts.items())),
        }


# -- the program's cashback ---------------------------------------------------------------


def campaigns(config: SimulationConfig) -> list[tuple[datetime, datetime, str]]:
    """One ten-day campaign a month, on a category drawn from the seed."""
    rng = np.random.default_rng([config.seed, 0xCA])
    out = []
    for month in range(-1, config.months + 1):
        begin = config.month_start(month) + timedelta(days=int(rng.integers(5, 16)))
        out.append((begin, begin + timedelta(days=10), str(rng.choice(CAMPAIGN_CATEGORIES))))
    return out


def campaign_on(schedule: list[tuple[datetime, datetime, str]], at: datetime) -> str | None:
    for begin, end, category in schedule:
        if begin <= at < end:
            return category
    return None


def line_cashback(line: Line, campaign: str | None) -> int:
    rate = CAMPAIGN_RATE if line.category == campaign else CATEGORY_RATES[line.category]
    return cashback_for(line.amount, rate)


# -- one customer's plan ------------------------------------------------------------------


@dataclass
class PlannedOrder:
    at: datetime
    lines: tuple[Line, ...]
    channel: Literal["online", "store", "app"]
    device_id: str | None
    payment_fingerprint: str | None
    refund_at: datetime | None = None
    refund_share: float = 1.0


@dataclass
class Plan:
    orders: list[PlannedOrder] = field(default_factory=list)
    # (when, share of the available balance, method); checkout redemptions at purchases
    redemptions: list[tuple[datetime, float, Literal["checkout", "withdrawal"]]] = field(
        default_factory=list
    )


class Shopper:
    """Draws one customer's behaviour from its own generator."""

    def __init__(
        self,
        config: SimulationConfig,
        customer: Customer,
        index: int,
        schedule: list[tuple[datetime, datetime, str]],
        devices: tuple[str, ...],
        cards: tuple[str, ...],
    ) -> None:
        self.config = config
        self.customer = customer
        self.rng = np.random.default_rng([config.seed, index])
        self.schedule = schedule
        self.devices = devices
        self.cards = cards
        self.sku_counter = 0

    # small helpers
    def param(self, low: float, high: float, floor: float, ceiling: float = math.inf) -> float:
        """A customer's behaviour parameter: uniform in [low, high], or, when the population
        is shifted, outside that range (below or above, clipped to [floor, ceiling])."""
        if not self.config.shift:
            return float(self.rng.uniform(low, high))
        width = (high - low) * self.config.shift
        if self.rng.random() < 0.5:
            return float(self.rng.uniform(max(floor, low - width), low))
        return float(self.rng.uniform(high, min(ceiling, high + width)))

    def price(self, median_major: float, sigma: float) -> int:
        """A shelf price in minor units ending in 90, at least 9.90."""
        major = float(self.rng.lognormal(np.log(median_major), sigma))
        return max(990, int(round(major)) * 100 - 10)

    def category(self, favourite: str | None = None, loyalty: float = 0.0) -> str:
        if favourite is not None and self.rng.random() < loyalty:
            return favourite
        return str(self.rng.choice(CATEGORIES, p=POPULARITY))

    def lines(
        self, total_median: float, sigma: float, category: str, mixed: float = 0.3
    ) -> tuple[Line, ...]:
        count = 1 + int(self.rng.poisson(0.6))
        out = []
        for _ in range(count):
            chosen = category if self.rng.random() > mixed else self.category()
            self.sku_counter += 1
            out.append(
                Line(
                    sku=f"SKU-{chosen[:3].upper()}-{int(self.rng.integers(1, 5000))}",
                    category=chosen,
                    amount=self.price(total_median / count, sigma),
                    eco=bool(self.rng.random() < 0.05),
                )
            )
        return tuple(out)

    def channel(self, store_share: float = 0.2) -> Literal["online", "store", "app"]:
        draw = self.rng.random()
        if draw < store_share:
            return "store"
        return "app" if draw < store_share + 0.3 else "online"

    def order(
        self,
        at: datetime,
        total_median: float,
        sigma: float,
        category: str,
        store_share: float = 0.2,
        mixed: float = 0.3,
    ) -> PlannedOrder:
        channel = self.channel(store_share)
        device = None if channel == "store" else str(self.rng.choice(self.devices))
        return PlannedOrder(
            at=at,
            lines=self.lines(total_median, sigma, category, mixed),
            channel=channel,
            device_id=device,
            payment_fingerprint=str(self.rng.choice(self.cards)),
        )

    def poisson_times(self, begin: datetime, end: datetime, per_month: float) -> list[datetime]:
        """Arrival times of a Poisson process, during waking hours mostly."""
        if end <= begin:
            return []
        span = (end - begin).total_seconds()
        count = int(self.rng.poisson(per_month * span / MONTH.total_seconds()))
        offsets = np.sort(self.rng.uniform(0, span, count))
        return [self.daytime(begin + timedelta(seconds=float(s))) for s in offsets]

    def daytime(self, at: datetime) -> datetime:
        hour = int(self.rng.choice(24, p=HOURS))
        return at.replace(
            hour=hour, minute=int(self.rng.integers(60)), second=int(self.rng.integers(60))
        )

    def active_from(self) -> datetime:
        return max(self.customer.joined_at, self.config.start)

    def honest_refund(
        self, order: PlannedOrder, probability: float, median_days: float = 6.0
    ) -> None:
        if self.rng.random() < probability:
            days = min(
                float(self.rng.lognormal(np.log(median_days), 0.7)),
                self.config.store_return_days - 1,
            )
            order.refund_at = order.at + timedelta(days=max(0.2, days))
            order.refund_share = (
                1.0 if self.rng.random() < 0.6 else float(self.rng.uniform(0.2, 0.8))
            )

    def checkout_redemptions(self, plan: Plan, probability: float) -> None:
        for order in plan.orders:
            if self.rng.random() < probability:
                plan.redemptions.append((order.at, 1.0, "checkout"))

    def spendable(self, at: datetime) -> datetime:
        return at + timedelta(days=self.config.return_window_days)

    # the kinds
    def plan(self) -> Plan:
        return getattr(self, f"plan_{self.customer.kind}")()

    def plan_regular(
        self, per_month: float | None = None, refund_p: float = 0.03, median_days: float = 6.0
    ) -> Plan:
        plan = Plan()
        rate = per_month if per_month is not None else self.param(0.7, 3.0, 0.1)
        median = self.param(50, 250, 10)
        favourite = self.category()
        for at in self.poisson_times(self.active_from(), self.config.end, rate):
            order = self.order(at, median, 0.6, self.category(favourite, 0.5))
            self.honest_refund(order, refund_p, median_days)
            plan.orders.append(order)
        self.checkout_redemptions(plan, 0.35)
        return plan

    def plan_big_loyal(self) -> Plan:
        plan = Plan()
        median = self.param(600, 2500, 100)
        favourite = str(self.rng.choice(["electronics", "home", "fashion", "beauty"]))
        for at in self.poisson_times(self.active_from(), self.config.end, self.param(3, 8, 0.5)):
            order = self.order(at, median, 0.5, self.category(favourite, 0.6))
            self.honest_refund(order, 0.04)
            plan.orders.append(order)
        self.checkout_redemptions(plan, 0.5)
        return plan

    def plan_campaign_shopper(self) -> Plan:
        plan = Plan()
        median = self.param(100, 600, 10)
        begin = self.active_from()
        for at in self.poisson_times(begin, self.config.end, 0.4):
            order = self.order(at, median, 0.6, self.category())
            self.honest_refund(order, 0.03)
            plan.orders.append(order)
        for start, end, category in self.schedule:
            if end <= begin or start >= self.config.end or self.rng.random() < 0.2:
                continue
            for at in self.poisson_times(
                max(start, begin), min(end, self.config.end), self.param(6, 15, 1)
            ):
                order = self.order(at, median * 1.3, 0.5, category, mixed=0.1)
                self.honest_refund(order, 0.03)
                plan.orders.append(order)
        plan.orders.sort(key=lambda o: o.at)
        self.checkout_redemptions(plan, 0.4)
        return plan

    def plan_honest_returner(self) -> Plan:
        return self.plan_regular(
            self.param(1.0, 3.5, 0.1),
            refund_p=self.param(0.15, 0.35, 0.01, 1.0),
            median_days=5.0,
        )

    def plan_serial_refunder(self) -> Plan:
        """Wardrobing: buy, wear or use, return almost everything within days."""
        plan = Plan()
        median = self.param(80, 350, 10)
        refund_p = self.param(0.6, 0.9, 0.05, 1.0)
        for at in self.poisson_times(self.active_from(), self.config.end, self.param(4, 9, 0.5)):
            order = self.order(at, median, 0.5, self.category("fashion", 0.7), store_share=0.1)
            if self.rng.random() < refund_p:
                order.refund_at = at + timedelta(days=float(self.rng.uniform(0.3, 4.0)))
                order.refund_share = (
                    1.0 if self.rng.random() < 0.85 else float(self.rng.uniform(0.5, 0.9))
                )
            plan.orders.append(order)
        self.checkout_redemptions(plan, 0.5)
        return plan

    def plan_refund_churn(self) -> Plan:
        """Large orders at high rates, refunded right after their cashback ripens; the
        ripened cashback is rolled into the next order."""
        plan = Plan()
        median = self.param(1500, 4000, 100)
        refund_p = self.param(0.75, 0.95, 0.05, 1.0)
        for at in self.poisson_times(self.active_from(), self.config.end, self.param(2, 4, 0.3)):
            category = campaign_on(self.schedule, at) or "beauty"
            order = self.order(at, median, 0.3, category, store_share=0.0, mixed=0.05)
            if self.rng.random() < refund_p:
                ripe = self.spendable(at)
                if self.rng.random() < 0.5:
                    plan.redemptions.append(
                        (
                            ripe + timedelta(hours=float(self.rng.uniform(1, 12))),
                            float(self.rng.uniform(0.5, 1.0)),
                            "checkout",
                        )
                    )
                order.refund_at = ripe + timedelta(hours=float(self.rng.uniform(13, 48)))
            plan.orders.append(order)
        return plan

    def plan_redeem_then_refund(self) -> Plan:
        """Withdraw the cashback the moment it is spendable, then refund the order that
        earned it: the clawback finds nothing and leaves a debt."""
        plan = Plan()
        median = self.param(100, 450, 10)
        refund_p = self.param(0.7, 0.95, 0.05, 1.0)
        for at in self.poisson_times(self.active_from(), self.config.end, self.param(2, 5, 0.3)):
            category = campaign_on(self.schedule, at) or self.category("beauty", 0.5)
            order = self.order(at, median, 0.5, category, store_share=0.05)
            if self.rng.random() < refund_p:
                ripe = self.spendable(at)
                plan.redemptions.append(
                    (ripe + timedelta(hours=float(self.rng.uniform(0, 8))), 1.0, "withdrawal")
                )
                order.refund_at = ripe + timedelta(days=float(self.rng.uniform(1, 12)))
            plan.orders.append(order)
        return plan

    def plan_velocity_burst(self) -> Plan:
        """A fresh account placing many orders within hours, once or twice."""
        plan = Plan()
        median = self.param(200, 800, 10)
        bursts = [self.customer.joined_at]
        if self.rng.random() < 0.5:
            bursts.append(self.customer.joined_at + timedelta(days=float(self.rng.uniform(2, 10))))
        for begin in bursts:
            hours = self.param(1, 6, 0.25)
            count = int(self.rng.integers(4, 13))
            for offset in np.sort(self.rng.uniform(0, hours * HOUR_S, count)):
                at = begin + timedelta(seconds=float(offset))
                category = campaign_on(self.schedule, at) or self.category("electronics", 0.6)
                order = self.order(at, median, 0.4, category, store_share=0.0, mixed=0.1)
                if self.rng.random() < 0.5:
                    order.refund_at = self.spendable(at) + timedelta(
                        days=float(self.rng.uniform(0.5, 5))
                    )
                plan.orders.append(order)
            plan.redemptions.append((self.spendable(begin) + timedelta(hours=2), 1.0, "withdrawal"))
        return plan

    def plan_account_farming(self) -> Plan:
        """One account of a ring: small orders for the first-purchase bonus and the
        campaign rate, on the ring's device and cards; withdraw, sometimes refund."""
        plan = Plan()
        median = self.param(30, 70, 10)
        at = self.customer.joined_at
        for _ in range(1 + int(self.rng.random() < 0.4)):
            category = campaign_on(self.schedule, at) or self.category("beauty", 0.5)
            order = self.order(at, median, 0.3, category, store_share=0.0, mixed=0.0)
            if self.rng.random() < 0.3:
                order.refund_at = self.spendable(at) + timedelta(
                    days=float(self.rng.uniform(1, 10))
                )
            plan.orders.append(order)
            plan.redemptions.append((self.spendable(at) + timedelta(hours=1), 1.0, "withdrawal"))
            at += timedelta(days=float(self.rng.uniform(1, 8)))
        return plan


HOURS = np.array(
    [1, 1, 1, 1, 1, 2, 3, 5, 6, 7, 8, 8, 9, 8, 7, 7, 7, 8, 9, 10, 10, 8, 5, 3], dtype=float
)
HOURS /= HOURS.sum()


# -- settling a plan into events ------------------------------------------------------------


@dataclass
class _Lot:
    order_id: str
    amount: int
    cashback: int
    spendable_at: datetime
    unspent: int
    spent: int = 0
    debited: int = 0
    refunded: int = 0


def settle(
    config: SimulationConfig,
    customer: Customer,
    plan: Plan,
    schedule: list[tuple[datetime, datetime, str]],
) -> list[Event]:
    """Turn a plan into events with the amounts the ledger would produce: cashback per line
    (plus the first-purchase bonus), redemptions of what is spendable, clawbacks that take
    unspent cashback first and record the spent rest as debt. Events past the end of the
    simulation are dropped, as are refunds past the store's return policy."""
    cid = customer.customer_id
    end = config.end
    steps: list[tuple[datetime, int, Any]] = []
    orders = sorted(plan.orders, key=lambda o: o.at)
    for number, order in enumerate(orders):
        steps.append((order.at, 1, (number, order)))
        if order.refund_at is not None and order.refund_at - order.at <= timedelta(
            days=config.store_return_days
        ):
            steps.append((order.refund_at, 2, (number, order)))
    for when, share, method in plan.redemptions:
        steps.append((when, 0, (share, method)))
    steps.sort(key=lambda s: (s[0], s[1]))

    lots: dict[int, _Lot] = {}
    events: list[Event] = []
    redemptions = 0
    for at, step, payload in steps:
        if at >= end:
            break
        if step == 0:
            share, method = payload
            available = sum(lot.unspent for lot in lots.values() if lot.spendable_at <= at)
            amount = int(available * share)
            if amount < 100:
                continue
            redemptions += 1
            events.append(Redemption(f"{cid}-r{redemptions}", cid, at, amount, method))
            left = amount
            for lot in sorted(lots.values(), key=lambda lot: lot.spendable_at):
                if lot.spendable_at > at or not left:
                    continue
                take = min(left, lot.unspent)
                lot.unspent, lot.spent, left = lot.unspent - take, lot.spent + take, left - take
        elif step == 1:
            number, order = payload
            campaign = campaign_on(schedule, at)
            amount = sum(line.amount for line in order.lines)
            cashback = sum(line_cashback(line, campaign) for line in order.lines)
            if number == 0:
                cashback += config.first_purchase_bonus
            order_id = f"{cid}-o{number + 1}"
            spendable = at + timedelta(days=config.return_window_days)
            lots[number] = _Lot(order_id, amount, cashback, spendable, cashback)
            events.append(
                Purchase(
                    order_id,
                    cid,
                    at,
                    amount,
                    cashback,
                    spendable,
                    order.channel,
                    order.lines,
                    order.device_id,
                    order.payment_fingerprint,
                )
            )
        else:
            number, order = payload
            lot = lots[number]
            refund = max(1, min(lot.amount, int(lot.amount * order.refund_share)))
            clawed = clawback_for(lot.cashback, lot.amount, lot.refunded, refund)
            from_unspent = min(clawed, lot.unspent)
            debt = min(clawed - from_unspent, lot.spent - lot.debited)
            lot.unspent -= from_unspent
            lot.debited += debt
            lot.refunded += refund
            events.append(Refund(f"{lot.order_id}-f1", lot.order_id, cid, at, refund, clawed, debt))
    return events


# -- the population -------------------------------------------------------------------------


def simulate(config: SimulationConfig) -> Traffic:
    """The storefront's traffic over `config.months`, every event in time order."""
    master = np.random.default_rng([config.seed, 0x5EED])
    schedule = campaigns(config)
    span = (config.end - config.start).total_seconds()
    customers: list[tuple[Customer, tuple[str, ...], tuple[str, ...]]] = []

    def join(low: float, high: float) -> datetime:
        return config.start + timedelta(seconds=float(master.uniform(low, high) * span))

    kinds = list(config.honest_mix)
    weights = np.array([config.honest_mix[k] for k in kinds], dtype=float)
    for number in range(config.honest_customers):
        kind = str(master.choice(kinds, p=weights / weights.sum()))
        joined = (
            config.start - timedelta(days=float(master.uniform(30, 900)))
            if kind == "big_loyal" or master.random() < 0.6
            else join(0.0, 0.97)
        )
        cid = f"c{number:05d}"
        devices = tuple(f"dev-{cid}-{i}" for i in range(1 + int(master.random() < 0.4)))
        cards = tuple(f"card-{cid}-{i}" for i in range(1 + int(master.random() < 0.3)))
        customers.append((Customer(cid, kind, joined), devices, cards))
    # Households: pairs of honest customers sharing a device and often a card.
    pairs = int(config.household_share * config.honest_customers / 2)
    picks = master.permutation(config.honest_customers)[: 2 * pairs]
    for a, b in zip(picks[::2], picks[1::2], strict=True):
        (_, da, ka), (cb, db, kb) = customers[a], customers[b]
        kb = (*kb, ka[0]) if master.random() < 0.5 else kb
        customers[b] = (cb, (*db, da[0]), kb)

    number = config.honest_customers
    for kind in ABUSE_KINDS:
        for group in range(config.abusers.get(kind, 0)):
            known = bool(master.random() < config.known_abuser_share)
            if kind == "account_farming":
                ring = f"ring{group:03d}"
                begin = join(0.0, 0.95)
                devices = (f"dev-{ring}",)
                cards = tuple(f"card-{ring}-{i}" for i in range(1 + int(master.random() < 0.5)))
                for _ in range(int(master.integers(4, 11))):
                    cid = f"a{number:05d}"
                    number += 1
                    joined = begin + timedelta(days=float(master.uniform(0, 10)))
                    customers.append((Customer(cid, kind, joined, known, ring), devices, cards))
                continue
            cid = f"a{number:05d}"
            number += 1
            joined = join(0.0, 0.97) if kind == "velocity_burst" else join(-0.3, 0.9)
            devices = (f"dev-{cid}",)
            cards = tuple(f"card-{cid}-{i}" for i in range(1 + int(master.integers(0, 3))))
            customers.append((Customer(cid, kind, joined, known), devices, cards))

    events: list[tuple[datetime, int, int, Event]] = []
    for index, (customer, devices, cards) in enumerate(customers):
        shopper = Shopper(config, customer, index + 1, schedule, devices, cards)
        for order, event in enumerate(settle(config, customer, shopper.plan(), schedule)):
            if event.at >= config.start:
                events.append((event.at, index, order, event))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    return Traffic(
        customers=tuple(c for c, _, _ in customers),
        events=tuple(e for _, _, _, e in events),
        start=config.start,
        end=config.end,
        seed=config.seed,
    )


# -- recorded traffic as JSON lines -----------------------------------------------------------


def _event_json(event: Event) -> dict[str, Any]:
    body = asdict(event)
    for key in ("at", "spendable_at"):
        if key in body:
            body[key] = body[key].isoformat()
    return body


def write_jsonl(traffic: Traffic, path: Path) -> None:
    """One JSON object a line: a header, the customers (with their labels), the events."""
    with path.open("w") as out:
        out.write(
            json.dumps(
                {
                    "type": "traffic",
                    "start": traffic.start.isoformat(),
                    "end": traffic.end.isoformat(),
                    "seed": traffic.seed,
                }
            )
            + "\n"
        )
        for customer in traffic.customers:
            body = asdict(customer) | {
                "type": "customer",
                "joined_at": customer.joined_at.isoformat(),
            }
            out.write(json.dumps(body) + "\n")
        for event in traffic.events:
            out.write(json.dumps(_event_json(event)) + "\n")


def read_jsonl(path: Path) -> Traffic:
    """Traffic written by `write_jsonl`, or recorded from production in the same shape
    (customers without a known kind are labelled 'unknown')."""
    customers: list[Customer] = []
    events: list[Event] = []
    header: dict[str, Any] = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        body = json.loads(line)
        kind = body.pop("type")
        for key in ("at", "spendable_at", "joined_at"):
            if key in body:
                body[key] = datetime.fromisoformat(body[key])
        if kind == "traffic":
            header = body
        elif kind == "customer":
            customers.append(Customer(**body))
        elif kind == "purchase":
            body["lines"] = tuple(Line(**line) for line in body["lines"])
            events.append(Purchase(**body))
        elif kind == "refund":
            events.append(Refund(**body))
        elif kind == "redemption":
            events.append(Redemption(**body))
        else:
            raise ValueError(f"unknown record type {kind!r}")
    known = {c.customer_id for c in customers}
    for event in events:
        if event.customer_id not in known:
            known.add(event.customer_id)
            customers.append(Customer(event.customer_id, "unknown", event.at))
    events.sort(key=lambda e: e.at)
    start = datetime.fromisoformat(header["start"]) if "start" in header else events[0].at
    end = datetime.fromisoformat(header["end"]) if "end" in header else events[-1].at
    return Traffic(tuple(customers), tuple(events), start, end, header.get("seed"))


def purchases(traffic: Traffic) -> Iterator[Purchase]:
    return (e for e in traffic.events if isinstance(e, Purchase))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.refund_abuse.simulator", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--months", type=int, default=5)
    parser.add_argument("--customers", type=int, default=10000, help="honest customers")
    parser.add_argument("--out", type=Path, help="write the traffic here as JSON lines")
    args = parser.parse_args(argv)
    traffic = simulate(
        SimulationConfig(seed=args.seed, months=args.months, honest_customers=args.customers)
    )
    if args.out:
        write_jsonl(traffic, args.out)
    print(json.dumps(traffic.summary(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
