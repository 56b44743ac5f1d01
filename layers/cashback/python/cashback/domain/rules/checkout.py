"""How much of a balance an order may use at checkout, under a program's rules.

The ledger holds integer units (minor units, or points in points mode). At checkout the
program bounds the discount to `lifecycle.max_redeem_share` of the order, and a point is
worth `points.minor_units_per_point`. Both round in the program's favour: the discount is
rounded down to the minor unit, and no point is spent for less than its full value.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from typing import NamedTuple

from cashback.domain.rules.fields import RATE_DECIMALS
from cashback.domain.rules.ruleset import RuleSet


class Redeemable(NamedTuple):
    units: int  # ledger units to take from the balance
    discount: int  # what they pay of the order, in minor units


def _floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def worth(rules: RuleSet, points: int) -> int:
    """What `points` pay at checkout, in minor units (rounded down)."""
    if rules.points is None:
        return points
    factor = int(rules.points.minor_units_per_point.scaleb(RATE_DECIMALS))
    return points * factor // 10**RATE_DECIMALS


def redeemable(rules: RuleSet, order_amount: int, available: int) -> Redeemable:
    """The most an order of `order_amount` (minor units) may take from `available`."""
    if order_amount < 0 or available < 0:
        raise ValueError("amounts cannot be negative")
    limit = _floor(order_amount * rules.lifecycle.max_redeem_share)
    if rules.points is None:
        units = min(available, limit)
        return Redeemable(units, units)
    # In millionths of a minor unit (a factor has at most 6 decimals): integers, exact.
    worth = int(rules.points.minor_units_per_point.scaleb(RATE_DECIMALS))
    units = min(available, limit * 10**RATE_DECIMALS // worth)
    return Redeemable(units, units * worth // 10**RATE_DECIMALS)
