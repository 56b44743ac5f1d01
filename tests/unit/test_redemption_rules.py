"""A program's say at checkout: the share of an order cashback may pay (order_amount
required, more refused with the most allowed) and what points are worth in money."""

from __future__ import annotations

import pytest

from cashback.domain.errors import Unprocessable
from cashback.domain.redemptions import NewRedemption
from cashback.domain.rules.checkout import worth
from cashback.services.redemptions import _check_share, unit_and_value

from .programs import T, rules_with

SHARED = {"lifecycle": {"max_redeem_share": "0.3"}}
POINTS = {"points": {"points_per_currency_unit": "100", "minor_units_per_point": "0.5"}}


def asking(amount: int, order_amount: int | None) -> NewRedemption:
    return NewRedemption("r1", "ana", amount, "o1", T, "online", True, order_amount)


def test_a_program_that_bounds_the_share_needs_the_order_amount() -> None:
    with pytest.raises(Unprocessable) as missing:
        _check_share(asking(100, None), rules_with(**SHARED))
    assert missing.value.code == "order_amount_required"
    assert missing.value.details == [
        {"field": "order_amount", "problem": "required by this program"}
    ]


def test_more_than_the_share_is_refused_with_the_most_allowed() -> None:
    rules = rules_with(**SHARED)
    _check_share(asking(3897, 12990), rules)  # 30% of 129.90, rounded down
    with pytest.raises(Unprocessable) as refused:
        _check_share(asking(3898, 12990), rules)
    assert refused.value.code == "redeem_share_exceeded"
    assert refused.value.details == {"max_redeem_share": "0.3", "most": 3897}


def test_without_a_program_or_a_bound_anything_goes() -> None:
    _check_share(asking(10**9, None), None)
    _check_share(asking(10**9, None), rules_with())


def test_points_are_worth_their_rate_in_money_rounded_down() -> None:
    rules = rules_with(**POINTS)
    assert worth(rules, 1001) == 500  # half a centavo each, the odd half kept
    assert unit_and_value(rules, 1001) == ("points", 500)
    assert unit_and_value(rules_with(), 1001) == ("money", 1001)
    assert unit_and_value(None, 1001) == ("money", 1001)


def test_points_redeemed_under_a_share_count_points_by_their_worth() -> None:
    rules = rules_with(**POINTS, **SHARED)
    # 30% of a 100.00 order is 30.00: 6000 points at half a centavo.
    _check_share(asking(6000, 10000), rules)
    with pytest.raises(Unprocessable) as refused:
        _check_share(asking(6001, 10000), rules)
    assert refused.value.details["most"] == 6000
