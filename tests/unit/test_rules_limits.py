"""What a published version must fit (rules.limits), and the engine coping with a version
stored before those limits: dates that overflow, more budgets than a transaction carries,
credits beyond what a JSON number holds (issue 8, findings 1, 2 and 9)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashback.domain.changes import BUDGET_ITEMS, PURCHASE_ITEMS, TRANSACT_MAX_ITEMS
from cashback.domain.money import MAX_AMOUNT
from cashback.domain.rules import deadlines, limits
from cashback.domain.rules.budget import plan_take
from cashback.domain.rules.engine import Context, Line, Purchase, evaluate
from cashback.domain.rules.expiry import EndOfMonth, EndOfYear, Inactivity, Rolling
from cashback.domain.rules.ruleset import RuleSet, zone

from .programs import T, campaign_with, rules_with


def _problems(rules: RuleSet) -> dict[str, str]:
    return {p.field: p.code for p in limits.problems(rules, budget_items=BUDGET_ITEMS)}


def _buy(amount: int, at: datetime = T, category: str = "misc") -> Purchase:
    return Purchase(amount, "BRL", at, "online", (Line("sku", category, amount),))


# --- finding 1: dates ---------------------------------------------------------------


# effective_from out of range never gets this far: the request's Timestamp type refuses it
# (422 validation_error, tests/integration/test_strict_input.py).
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"campaigns": [campaign_with(ends_at="9999-12-31T23:00:00")]}, "campaigns.0.ends_at"),
        ({"campaigns": [campaign_with(starts_at="0001-01-01T00:00:00")]}, "campaigns.0.starts_at"),
        ({"campaigns": [campaign_with(ends_at="2100-01-01T00:00:00")]}, "campaigns.0.ends_at"),
    ],
)
def test_dates_outside_the_publishable_range_are_refused_by_field(
    changes: dict[str, Any], field: str
) -> None:
    assert _problems(rules_with(**changes)) == {field: "date_out_of_range"}


def test_dates_inside_the_range_are_published() -> None:
    rules = rules_with(
        effective_from="2000-01-01T00:00:00Z",
        campaigns=[campaign_with(starts_at="2000-01-01T00:00:00", ends_at="2099-12-31T23:59:59")],
    )
    assert _problems(rules) == {}


def test_a_stored_campaign_reaching_year_9999_never_fails_a_purchase() -> None:
    """A version published before the limit: its window is clamped to 'forever'."""
    rules = rules_with(campaigns=[campaign_with(ends_at="9999-12-31T23:59:59", rate="0.10")])
    evaluation = evaluate(rules, _buy(10000), Context(), version=1)
    assert evaluation.cashback == 500 + 1000 and evaluation.campaigns == ("c1",)
    before = rules_with(
        campaigns=[campaign_with(starts_at="0001-01-01T00:00:00", ends_at="2000-01-01T00:00:00")]
    )
    assert evaluate(before, _buy(10000), Context(), version=1).cashback == 500


_POLICIES = st.one_of(
    st.builds(Rolling, kind=st.just("rolling"), days=st.integers(1, 3650)),
    st.builds(Inactivity, kind=st.just("inactivity"), days=st.integers(1, 3650)),
    st.builds(EndOfMonth, kind=st.just("end_of_month"), months_after=st.integers(0, 120)),
    st.builds(EndOfYear, kind=st.just("end_of_year"), years_after=st.integers(0, 10)),
)


@settings(deadline=None, max_examples=200)
@given(
    policy=_POLICIES,
    window=st.integers(0, 365),
    at=st.datetimes(
        datetime(2000, 1, 1), datetime(2099, 12, 31, 23, 59, 59), timezones=st.just(UTC)
    ),
    zone_name=st.sampled_from(
        ["Pacific/Kiritimati", "Pacific/Pago_Pago", "America/Sao_Paulo", "UTC"]
    ),
)
def test_every_accepted_policy_gives_dates_without_overflow(
    policy: Any, window: int, at: datetime, zone_name: str
) -> None:
    """Lot dates: the longest accepted windows and policies from any instant a purchase or
    a campaign can have stay far inside what a datetime holds."""
    tz = zone(zone_name)
    available = deadlines.available_at(at, window, tz)
    expires = deadlines.expires_at(policy, at, tz)
    assert expires is not None and at <= available and at < expires
    if isinstance(policy, Inactivity):
        assert deadlines.inactivity_deadline(policy, at, tz) > at


# --- finding 2: budgeted campaigns a transaction can carry ---------------------------


def test_the_budget_room_is_what_a_purchase_leaves_of_a_transaction() -> None:
    assert (TRANSACT_MAX_ITEMS, PURCHASE_ITEMS, BUDGET_ITEMS) == (100, 8, 92)


def _budgeted(n: int, **changes: Any) -> list[dict[str, Any]]:
    return [campaign_with(f"b{i}", budget=1000, **changes) for i in range(n)]


def test_more_budgeted_campaigns_running_at_once_than_a_transaction_carries_is_refused() -> None:
    assert _problems(rules_with(campaigns=_budgeted(BUDGET_ITEMS))) == {}
    assert _problems(rules_with(campaigns=_budgeted(BUDGET_ITEMS + 1))) == {
        "campaigns": "too_many_budgeted_campaigns"
    }
    message = limits.problems(rules_with(campaigns=_budgeted(97)), budget_items=BUDGET_ITEMS)[0]
    assert "97 campaigns with a budget run at once" in message.message
    assert "at most 92" in message.message


def test_budgeted_campaigns_that_never_meet_do_not_add_up() -> None:
    day = datetime(2027, 1, 1)
    one_after_another = [
        campaign_with(
            f"d{i}",
            budget=1000,
            starts_at=(day + timedelta(days=2 * i)).isoformat(),
            ends_at=(day + timedelta(days=2 * i + 2)).isoformat(),
        )
        for i in range(120)
    ]
    apart_by_channel = [
        campaign_with(f"{channel}{i}", budget=1000, channels=[channel])
        for channel in ("online", "store")
        for i in range(60)
    ]
    unbudgeted = [campaign_with(f"u{i}") for i in range(150)]
    for campaigns in (one_after_another, apart_by_channel, unbudgeted):
        assert _problems(rules_with(campaigns=campaigns)) == {}
    assert limits.most_budgeted_at_once(rules_with(campaigns=one_after_another))[0] == 1
    assert limits.most_budgeted_at_once(rules_with(campaigns=apart_by_channel))[0] == 60
    everywhere = [campaign_with("all", budget=1)]
    assert (
        limits.most_budgeted_at_once(rules_with(campaigns=apart_by_channel[:94] + everywhere))[0]
        == 61
    )


@settings(deadline=None, max_examples=200)
@given(
    want=st.integers(0, 10**6),
    remaining=st.lists(st.integers(0, 10**5), min_size=1, max_size=32),
    start=st.integers(0, 31),
    most=st.integers(1, 32),
)
def test_a_take_never_writes_more_shards_than_allowed_and_reaches_the_most_it_can(
    want: int, remaining: list[int], start: int, most: int
) -> None:
    plan = plan_take(want, remaining, start % len(remaining), max_takes=most)
    assert len(plan.takes) <= most
    assert len({take.shard for take in plan.takes}) == len(plan.takes)
    assert all(0 < take.amount <= remaining[take.shard] for take in plan.takes)
    taken = sum(take.amount for take in plan.takes)
    assert taken + plan.short == want
    if plan.short:  # nothing of that size could have reached more
        assert taken == sum(sorted(remaining, reverse=True)[:most])


# --- finding 9: credited amounts ----------------------------------------------------


def test_a_points_multiplier_that_could_credit_beyond_2_53_is_refused() -> None:
    points = {"points_per_currency_unit": "9999999", "minor_units_per_point": "1"}
    assert _problems(rules_with(base_rate="1", points=points)) == {
        "points.points_per_currency_unit": "credit_out_of_range"
    }
    assert _problems(rules_with(base_rate="1", points=points, caps={"per_order": 10**9})) == {}
    assert _problems(rules_with(base_rate="0.01", points=points)) == {}
    assert limits.worst_order_credit(rules_with(base_rate="1")) == MAX_AMOUNT


def test_no_order_credits_more_than_a_request_amount_can_be() -> None:
    """A stored version (or a published one within 2^53) still credits at most MAX_CREDIT."""
    points = {"points_per_currency_unit": "9999999", "minor_units_per_point": "1"}
    rules = rules_with(base_rate="1", points=points, first_purchase={"fixed": MAX_AMOUNT})
    evaluation = evaluate(rules, _buy(MAX_AMOUNT), Context(first_purchase=True), version=1)
    assert evaluation.cashback == limits.MAX_CREDIT == MAX_AMOUNT
    assert [cut.kind for cut in evaluation.cuts] == ["credit_limit"]
    assert evaluation.to_json()["cashback"] <= limits.MAX_SAFE_INTEGER


@settings(deadline=None, max_examples=200)
@given(
    amount=st.integers(1, MAX_AMOUNT),
    rate=st.integers(0, 10**6),
    multiplier=st.integers(1, 9_999_999),
    extra=st.integers(0, 10**6),
)
def test_worst_order_credit_bounds_every_evaluation(
    amount: int, rate: int, multiplier: int, extra: int
) -> None:
    rules = rules_with(
        base_rate=str(Decimal(rate).scaleb(-6)),
        points={"points_per_currency_unit": str(multiplier), "minor_units_per_point": "1"},
        campaigns=[campaign_with(rate=str(Decimal(extra).scaleb(-6)))],
    )
    evaluation = evaluate(rules, _buy(amount), Context(), version=1)
    assert 0 <= evaluation.cashback <= min(limits.worst_order_credit(rules), limits.MAX_CREDIT)


def test_effective_from_bound_leaves_room_for_a_lot_of_the_longest_life() -> None:
    last = datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert last + timedelta(days=3650 + 365 + 366) < datetime.max.replace(tzinfo=UTC)


class _Client:
    """Records the transactions the store sends (no AWS: only their size matters here)."""

    def __init__(self) -> None:
        self.sent: list[int] = []

    def transact_write_items(self, TransactItems: list[Any]) -> dict[str, Any]:  # noqa: N803
        self.sent.append(len(TransactItems))
        return {}


def test_a_purchase_drawing_on_the_most_budgets_fills_a_transaction_exactly() -> None:
    """PURCHASE_ITEMS is what commit_purchase really writes besides budget shards: with a
    lot available at once (its ripening entry and notice), a device and a payment
    fingerprint and BUDGET_ITEMS shards it sends 100 items."""
    from cashback.adapters.dynamodb.store import Store
    from cashback.domain import ledger
    from cashback.domain.changes import PurchaseChange
    from cashback.domain.orders import Order

    client = _Client()
    store = Store("table", client=client)
    account = ledger.Account("t", "c")
    accrual = ledger.accrue(
        account,
        order_id="o",
        cashback=100,
        occurred_at=T,
        available_at=T,
        expires_at=T + timedelta(days=30),
    )
    assert (len(accrual.entries), len(accrual.notices)) == (2, 1)  # available at once
    order = Order(
        tenant="t",
        order_id="o",
        customer_id="c",
        amount=1000,
        currency="BRL",
        cashback=100,
        refunded=0,
        lot_sk=None,
        occurred_at="2026-11-10T18:00:00Z",
        request_hash="h",
        reply="{}",
        status_code=201,
    )
    identities = (("device", "d"), ("payment", "p"))
    takes = tuple((f"c{i}", 0, 1) for i in range(BUDGET_ITEMS))
    store.commit_purchase(
        PurchaseChange(
            order,
            accrual.lot,
            accrual.entries,
            account,
            accrual.account,
            now="2026-11-10T18:00:00Z",
            budget_takes=takes,
            identities=identities,
            notices=accrual.notices,
        )
    )
    assert client.sent == [TRANSACT_MAX_ITEMS]
    with pytest.raises(ValueError, match="exceeds a transaction"):
        store.commit_purchase(
            PurchaseChange(
                order,
                accrual.lot,
                accrual.entries,
                account,
                accrual.account,
                now="2026-11-10T18:00:00Z",
                budget_takes=(*takes, ("x", 0, 1)),
                identities=identities,
                notices=accrual.notices,
            )
        )


class _RefundStore:
    """The reads a refund makes, for a customer with 200 small available lots; records the
    size of the refund's transaction."""

    def __init__(self, order: Any, lot: Any, account: Any, others: list[Any]) -> None:
        self.order, self.lot, self.account, self.others = order, lot, account, others
        self.items: list[int] = []

    def load_refund(self, tenant: str, refund_id: str, order_id: str) -> Any:
        return None, self.order

    def load_lot_and_account(self, order: Any) -> Any:
        return self.lot, self.account

    def live_lots(self, tenant: str, customer_id: str) -> Any:
        return iter(self.others)

    def commit_refund(self, change: Any) -> None:
        self.items.append(5 + len(change.other_lots))  # refund, order, lot, entry, account

    def redemptions_of_order(self, tenant: str, order_id: str) -> list[Any]:
        return []  # the order was not paid with cashback


def test_a_refund_taking_from_many_lots_stays_within_one_transaction() -> None:
    """Under claw_back_within_balance a refund takes what the customer already spent from
    their other available lots, earliest deadline first: as many as the refund's
    transaction can carry (REFUND_BALANCE_LOTS), the rest is let go."""
    from dataclasses import replace

    from cashback.api import replies
    from cashback.api.payloads import RefundRequest
    from cashback.domain import ledger
    from cashback.domain.changes import REFUND_BALANCE_LOTS
    from cashback.domain.orders import NewRefund, Order
    from cashback.domain.tenants import TenantSettings
    from cashback.services.refunds import record_refund

    account = ledger.Account("t", "c")
    spent = replace(
        ledger.accrue(
            account,
            order_id="o",
            cashback=1000,
            occurred_at=T,
            available_at=T,
            expires_at=T + timedelta(days=30),
        ).lot,
        pending=0,
        available=0,  # the window of zero made it available at once: all of it spent
        spent=1000,
        status="CONSUMED",
    )
    others = [
        replace(spent, order_id=f"x{i:03d}", spent=0, available=1, status="AVAILABLE")
        for i in range(200)
    ]
    order = Order(
        tenant="t",
        order_id="o",
        customer_id="c",
        amount=10000,
        currency="BRL",
        cashback=1000,
        refunded=0,
        lot_sk="LOT#x#o",
        occurred_at="2026-11-10T18:00:00Z",
        request_hash="h",
        reply="{}",
        status_code=201,
        refund_policy="claw_back_within_balance",
    )
    store = _RefundStore(
        order,
        spent,
        replace(
            account, values={**account.values, "available": 200, "earned": 1200, "spent": 1000}
        ),
        others,
    )
    request = RefundRequest(
        refund_id="r", order_id="o", amount=10000, occurred_at=T + timedelta(hours=1)
    )
    reply = record_refund(
        store,  # type: ignore[arg-type]
        "t",
        TenantSettings(currency="BRL"),
        NewRefund.from_dict(request.model_dump()),
        T + timedelta(hours=1),
        shape=replies.refund,
    )
    assert store.items == [TRANSACT_MAX_ITEMS] and REFUND_BALANCE_LOTS == 95
    assert (reply.body["from_balance"], reply.body["forgiven"]) == (95, 1000 - 95)
