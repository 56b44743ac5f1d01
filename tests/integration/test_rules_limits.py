"""A published version never makes purchases fail (issue 8, findings 1, 2 and 9): what the
platform cannot run is refused at `PUT /v1/rules` with a 422 naming the field and a
stable code, and a version stored before those limits still lets every purchase through."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from cashback.domain.clock import to_iso
from cashback.domain.money import MAX_AMOUNT
from cashback.domain.rules import budget
from cashback.domain.rules.ruleset import RuleSet
from cashback.services.programs import BUDGET_SHARDS
from cashback_tools.local.stack import LocalStack

from .client import now_iso, purchase_body, unique
from .test_rules_api import Storefront, _naive, program


@pytest.fixture
def shop(stack: LocalStack) -> Storefront:
    return Storefront(stack)


def _refused(shop: Storefront, rules: dict[str, Any], code: str, field: str) -> None:
    reply = shop.admin.session.put(shop.admin.base_url + "/v1/rules", json=rules, timeout=60)
    assert reply.status_code == 422, reply.text
    body = reply.json()
    assert body["code"] == code
    assert field in [detail["field"] for detail in body["details"]]
    assert field in body["message"]
    assert shop.admin.get("/v1/rules").json()["versions"] == []  # nothing published


def _store_version(stack: LocalStack, shop: Storefront, rules: dict[str, Any]) -> None:
    """A version as publishing wrote it before the limits existed (no check at all)."""
    assert stack.store is not None
    parsed = RuleSet.model_validate(rules)
    stack.store.put_rule_version(
        shop.tenant,
        1,
        {
            "rules": parsed.model_dump(mode="json"),
            "effective_from": to_iso(parsed.effective_from),
            "published_at": now_iso(timedelta(days=-1)),
            "published_by": "before-the-limits",
        },
    )
    for campaign in parsed.campaigns:
        if campaign.budget is not None:
            stack.store.open_budget(
                shop.tenant, campaign.id, budget.split(campaign.budget, BUDGET_SHARDS)
            )


def _campaign(id: str, **changes: Any) -> dict[str, Any]:
    return {
        "id": id,
        "name": id.upper(),
        "starts_at": _naive(timedelta(days=-1)),
        "ends_at": _naive(timedelta(days=1)),
        "rate": "0.01",
        **changes,
    }


# --- finding 1 ----------------------------------------------------------------------


# effective_from out of range never gets this far: the request's Timestamp type refuses it
# (422 validation_error, tests/integration/test_strict_input.py).
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {"campaigns": [_campaign("forever", ends_at="9999-12-31T23:00:00")]},
            "campaigns.0.ends_at",
        ),
        (
            {"campaigns": [_campaign("always", starts_at="0001-01-01T00:00:00")]},
            "campaigns.0.starts_at",
        ),
    ],
)
def test_dates_beyond_what_the_platform_runs_are_422_and_nothing_is_published(
    shop: Storefront, changes: dict[str, Any], field: str
) -> None:
    _refused(shop, program(**changes), "date_out_of_range", field)
    assert shop.buy(unique("c"), [("books", 10000)])["rules_version"] is None


def test_a_stored_campaign_reaching_year_9999_never_fails_a_purchase(
    stack: LocalStack, shop: Storefront
) -> None:
    _store_version(
        stack,
        shop,
        program(campaigns=[_campaign("forever", ends_at="9999-12-31T23:00:00", rate="0.10")]),
    )
    reply = shop.buy(unique("c"), [("books", 10000)])
    assert (reply["cashback"], reply["breakdown"]["campaigns"]) == (200 + 1000, ["forever"])


# --- finding 2 ----------------------------------------------------------------------


def _budgeted(count: int) -> list[dict[str, Any]]:
    return [_campaign(f"b{i:03d}", budget=100000) for i in range(count)]


def test_more_budgeted_campaigns_at_once_than_a_purchase_can_carry_are_422(
    shop: Storefront,
) -> None:
    _refused(shop, program(campaigns=_budgeted(97)), "too_many_budgeted_campaigns", "campaigns")
    reply = shop.admin.session.put(
        shop.admin.base_url + "/v1/rules", json=program(campaigns=_budgeted(95)), timeout=60
    )
    assert "at most 92" in reply.json()["message"] and "100 items" in reply.json()["message"]


def test_the_most_budgeted_campaigns_publishing_allows_all_pay_on_one_purchase(
    stack: LocalStack, shop: Storefront
) -> None:
    # Publishing opens 92 x 16 budget shards: DynamoDB Local on a loaded machine can take
    # longer than the function's timeout, so the version is written as publishing writes
    # it (tests/unit/test_rules_limits.py shows 92 passes the publish check).
    _store_version(stack, shop, program(campaigns=_budgeted(92)))
    reply = shop.buy(unique("c"), [("books", 10000)])
    assert reply["cashback"] == 200 + 92 * 100
    consumed = reply["breakdown"]["budget_consumption"]
    assert len(consumed) == 92 and set(consumed.values()) == {100}
    assert stack.store is not None
    assert sum(stack.store.budget_remaining(shop.tenant, "b091")) == 100000 - 100


def test_a_stored_version_with_more_budgets_than_a_transaction_carries_still_pays(
    stack: LocalStack, shop: Storefront
) -> None:
    """Before the limit, 97 running budgeted campaigns made every purchase a 500; the
    lowest-ranked ones beyond what the transaction carries now give nothing instead."""
    _store_version(stack, shop, program(campaigns=_budgeted(97)))
    reply = shop.buy(unique("c"), [("books", 10000)])
    consumed = reply["breakdown"]["budget_consumption"]
    assert len(consumed) == 92 and "b091" in consumed and "b092" not in consumed
    assert reply["cashback"] == 200 + 92 * 100
    cut = {cut["rule"] for cut in reply["breakdown"]["cuts"] if cut["kind"] == "budget"}
    assert cut == {"b092", "b093", "b094", "b095", "b096"}


def test_draining_budgets_are_spread_over_no_more_shards_than_the_transaction_carries(
    stack: LocalStack, shop: Storefront
) -> None:
    """Seven budgets of 16, one unit left per shard: each purchase wanted 100 from each,
    spread it over all 16 shards, and 7 x 16 shard writes made it a 500. Each take now
    writes at most 92 // 7 = 13 shards, and the rules cut each campaign to what those
    hold."""
    shop.publish(program(campaigns=[_campaign(f"d{i}", budget=16) for i in range(7)]))
    reply = shop.buy(unique("c"), [("books", 10000)])
    assert reply["breakdown"]["budget_consumption"] == {f"d{i}": 13 for i in range(7)}
    assert reply["cashback"] == 200 + 7 * 13
    assert stack.store is not None
    assert sum(stack.store.budget_remaining(shop.tenant, "d6")) == 3


# --- finding 9 ----------------------------------------------------------------------

POINTS = {"points_per_currency_unit": "9999999", "minor_units_per_point": "1"}


def test_a_points_multiplier_that_could_credit_beyond_2_53_is_422(shop: Storefront) -> None:
    _refused(
        shop,
        program(base_rate="1", category_rates={}, points=POINTS),
        "credit_out_of_range",
        "points.points_per_currency_unit",
    )


def test_no_order_credits_more_than_a_request_amount_can_be(shop: Storefront) -> None:
    shop.publish(program(base_rate="0.01", category_rates={}, points=POINTS))
    body = purchase_body(unique("c"), MAX_AMOUNT)
    reply = shop.api.post("/v1/purchases", body)
    assert reply.status_code == 201, reply.text
    assert reply.json()["cashback"] == MAX_AMOUNT  # 10^16 points of value, cut at 10^11
    assert [cut["kind"] for cut in reply.json()["breakdown"]["cuts"]] == ["credit_limit"]
    assert shop.api.balance(body["customer_id"])["pending"] == MAX_AMOUNT
