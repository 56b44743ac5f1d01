"""Sharded campaign budgets: never overspent, and not capped by one item's write rate.

One counter item would cap a national campaign at one DynamoDB item's write rate. So a
budget B is split over N shard items whose `remaining` add up to B exactly (`split`),
each decremented only under the condition `remaining >= amount`, in the same transaction
as the purchase's ledger entry. No shard can go below zero, so the sum taken over all
purchases can never exceed B, however many purchases race.

A purchase (the evaluation's `budget_consumption[campaign]`, here `want`):
1. `first_take`: try all of it from one shard chosen by the order id (uniform over
   shards like a random pick, but a retried request replays the same plan). No read.
2. If that condition fails, read the campaign's shards and `plan_take`: walk from the
   same start (start, start+1, ... mod N) taking what each shard has, so a nearly spent
   budget is still used to the last unit across shards.
3. If all shards together hold less than `want` (`Plan.short > 0`), evaluate the
   purchase again with `budget_remaining[campaign] = sum(remaining)`: the rules then cut
   the campaign's part, and the new consumption fits.
A purchase's transaction carries at most 100 items, so the shards one purchase writes are
bounded: with n budgets drawn on and B items left for budgets, each take writes at most
B // n shards (`max_takes`), and what those cannot reach counts as not left (step 3).
Publishing refuses a version in which more than B budgeted campaigns run at once; one
stored before that limit has its lowest-ranked budgets treated as spent (accrual.py).
A refund does not return budget: a campaign's budget is what it may credit.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

# DynamoDB's ceiling for one item (its partition), in write capacity units a second.
ITEM_WCU_PER_SECOND = 1000
# A transactional write of an item up to 1 KB consumes 2 WCU (a plain write: 1).
WCU_PER_TRANSACTIONAL_WRITE = 2
# List prices, us-east-1, after the November 2024 on-demand price cut.
USD_PER_MILLION_WRITE_REQUEST_UNITS = Decimal("0.625")
USD_PER_PROVISIONED_WCU_HOUR = Decimal("0.00065")
HOURS_PER_MONTH = 730


def split(budget: int, shards: int) -> tuple[int, ...]:
    """Shard allowances that add up to `budget` exactly and differ by at most one."""
    if budget < 0 or shards < 1:
        raise ValueError("a budget cannot be negative and needs at least one shard")
    share, extra = divmod(budget, shards)
    return tuple(share + 1 if i < extra else share for i in range(shards))


def start_shard(order_id: str, shards: int) -> int:
    """Where a purchase starts probing: uniform over shards, the same on every retry."""
    digest = hashlib.sha256(order_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % shards


def probe_order(start: int, shards: int) -> tuple[int, ...]:
    return tuple((start + step) % shards for step in range(shards))


@dataclass(frozen=True)
class Take:
    shard: int
    amount: int  # decrement `remaining` by this, on the condition remaining >= amount


@dataclass(frozen=True)
class Plan:
    takes: tuple[Take, ...]
    short: int  # what the shards could not cover: > 0 means evaluate again


def first_take(want: int, order_id: str, shards: int) -> Plan:
    """The optimistic plan, made without reading any shard."""
    if want <= 0:
        return Plan((), 0)
    return Plan((Take(start_shard(order_id, shards), want),), 0)


def plan_take(
    want: int, remaining: Sequence[int], start: int, max_takes: int | None = None
) -> Plan:
    """Take `want` from shards with the given `remaining`, probing from `start`.

    `max_takes` bounds how many shards the plan writes (a purchase's transaction carries
    few items when it draws on many budgets). When the walk from `start` cannot cover
    `want` within that many shards, the fullest shards are taken instead, so the plan
    reaches as much as any plan of that size can; `short` is what even they cannot cover."""
    limit = len(remaining) if max_takes is None else max(1, max_takes)
    walk = _walk(want, remaining, probe_order(start, len(remaining)), limit)
    if walk.short == 0 or limit >= len(remaining):
        return walk
    position = {shard: i for i, shard in enumerate(probe_order(start, len(remaining)))}
    fullest = sorted(range(len(remaining)), key=lambda s: (-remaining[s], position[s]))
    chosen = sorted(fullest[:limit], key=lambda s: position[s])
    return _walk(want, remaining, tuple(chosen), limit)


def _walk(want: int, remaining: Sequence[int], shards: Sequence[int], limit: int) -> Plan:
    takes: list[Take] = []
    left = want
    for shard in shards:
        if left <= 0 or len(takes) >= limit:
            break
        amount = min(left, max(remaining[shard], 0))
        if amount:
            takes.append(Take(shard, amount))
            left -= amount
    return Plan(tuple(takes), max(left, 0))


@dataclass(frozen=True)
class Layout:
    """What a shard layout admits on paper, and what its budget writes cost."""

    shards: int
    purchases_per_second: int
    usd_per_million_purchases: Decimal  # on demand: independent of the shard count
    usd_per_month_provisioned: Decimal  # to sustain the peak all month with provisioned WCU


def layout(
    shards: int,
    *,
    item_wcu_per_second: int = ITEM_WCU_PER_SECOND,
    wcu_per_write: int = WCU_PER_TRANSACTIONAL_WRITE,
) -> Layout:
    """Each budgeted purchase writes one shard item inside its transaction, so N shards
    admit N x (item ceiling / WCU per write) purchases a second, if the starts spread
    evenly (they do: the start is a hash)."""
    per_shard = item_wcu_per_second // wcu_per_write
    wcu_month = Decimal(shards * item_wcu_per_second * HOURS_PER_MONTH)
    return Layout(
        shards=shards,
        purchases_per_second=shards * per_shard,
        usd_per_million_purchases=wcu_per_write * USD_PER_MILLION_WRITE_REQUEST_UNITS,
        usd_per_month_provisioned=wcu_month * USD_PER_PROVISIONED_WCU_HOUR,
    )


def shards_for(
    peak_purchases_per_second: int,
    *,
    headroom: Decimal = Decimal("0.7"),
    item_wcu_per_second: int = ITEM_WCU_PER_SECOND,
    wcu_per_write: int = WCU_PER_TRANSACTIONAL_WRITE,
) -> int:
    """Shards for a peak, keeping each shard at `headroom` of its ceiling (hash starts are
    uniform, not perfectly even, and a draining budget makes purchases probe further)."""
    per_shard = Decimal(item_wcu_per_second // wcu_per_write) * headroom
    return max(1, math.ceil(Decimal(peak_purchases_per_second) / per_shard))
