"""The growth rules (issue 12): their validation, what they make of a customer's progress,
what they earn to the minor unit, how purchases and refunds move the progress on the
account, and properties over random histories (hypothesis)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cashback.domain import ledger
from cashback.domain.ledger import progress
from cashback.domain.orders import NewPurchase, NewRefund, Order, PurchaseLine
from cashback.domain.rules import growth, limits
from cashback.domain.rules.engine import (
    Context,
    Evaluation,
    Line,
    Purchase,
    customer_explanation,
    evaluate,
)
from cashback.domain.rules.growth_rules import MAX_STREAK_MONTHS
from cashback.services import growth as growth_service

from .programs import T, rules_with

MILESTONES: list[dict[str, Any]] = [
    {"id": "third", "kind": "nth_purchase", "n": 3, "bonus": {"fixed": 500}},
    {"id": "big", "kind": "spend", "amount": 50000, "bonus": {"extra_rate": "0.01"}},
    {"id": "regular", "kind": "streak_months", "months": 3, "name": "Regular"},
]


def _buy(*lines: Line) -> Purchase:
    return Purchase(sum(line.amount for line in lines), "BRL", T, "online", lines)


def _rules_applied(evaluation: Evaluation) -> list[tuple[str, str, str]]:
    return [
        (item.kind, item.rule, str(item.value))
        for line in evaluation.lines
        for item in line.items
        if item.kind not in ("base", "category")
    ]


# --- validation ------------------------------------------------------------------------


def _problems(**changes: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as raised:
        rules_with(**changes)
    return [(".".join(map(str, e["loc"])), e["msg"]) for e in raised.value.errors()]


def test_milestone_ids_are_unique_and_targets_do_not_repeat() -> None:
    twice = [MILESTONES[0], {**MILESTONES[0], "id": "third"}]
    assert _problems(milestones=twice) == [
        ("milestones.1.id", "milestone id 'third' appears twice"),
        ("milestones.1", "milestone 'third' has the same nth_purchase target (3) as 'third'"),
    ]
    same_target = [MILESTONES[0], {**MILESTONES[0], "id": "also-third"}]
    assert [field for field, _ in _problems(milestones=same_target)] == ["milestones.1"]


@pytest.mark.parametrize(
    ("milestone", "field"),
    [
        ({"id": "m", "kind": "nth_purchase", "n": 0}, "milestones.0.nth_purchase.n"),
        ({"id": "m", "kind": "spend", "amount": 0}, "milestones.0.spend.amount"),
        ({"id": "m", "kind": "streak_months", "months": 37}, "milestones.0.streak_months.months"),
        ({"id": "M!", "kind": "nth_purchase", "n": 2}, "milestones.0.nth_purchase.id"),
        ({"id": "m", "kind": "weekly", "n": 2}, "milestones.0"),
        (
            {"id": "m", "kind": "nth_purchase", "n": 2, "bonus": {"fixed": -1}},
            "milestones.0.nth_purchase.bonus.fixed",
        ),
    ],
)
def test_a_milestone_out_of_bounds_is_refused_at_its_field(
    milestone: dict[str, Any], field: str
) -> None:
    assert field in [f for f, _ in _problems(milestones=[milestone])]


def test_cumulative_steps_must_increase_in_spend_and_rate() -> None:
    steps = [
        {"min_spend": 0, "extra_rate": "0.01"},
        {"min_spend": 0, "extra_rate": "0.01"},
    ]
    assert _problems(cumulative={"steps": steps}) == [
        (
            "cumulative.steps.1.min_spend",
            "steps must increase: min_spend 0 must be above the previous step's 0",
        ),
        (
            "cumulative.steps.1.extra_rate",
            "steps must increase: extra_rate 0.01 must be above the previous step's 0.01",
        ),
    ]
    assert _problems(cumulative={"steps": []})[0][0] == "cumulative.steps"


def test_favourite_category_bounds_and_defaults() -> None:
    rules = rules_with(favourite_category={"extra_rate": "0.03"})
    assert rules.favourite_category is not None
    assert (rules.favourite_category.window_days, rules.favourite_category.min_purchases) == (90, 1)
    assert _problems(favourite_category={"extra_rate": "0.03", "window_days": 0})
    assert _problems(favourite_category={"extra_rate": "0.03", "window_days": 366})
    assert _problems(favourite_category={"extra_rate": 0.03})[0][0] == (
        "favourite_category.extra_rate"
    )


def test_the_publishing_credit_bound_counts_the_growth_rules() -> None:
    plain = limits.worst_order_credit(rules_with())
    grown = rules_with(
        favourite_category={"extra_rate": "0.01"},
        cumulative={"steps": [{"min_spend": 0, "extra_rate": "0.02"}]},
        milestones=[MILESTONES[0], MILESTONES[1]],
    )
    assert growth.most_extra(grown) == (Decimal("0.04"), 500)
    assert limits.worst_order_credit(grown) == plain * Decimal("0.09") / Decimal("0.05") + 500


def test_the_readme_example_of_the_growth_rules_validates() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("<!-- growth-rules-example")[1].split("<!-- /growth-rules-example")[0]
    example = json.loads(block.split("```json")[1].split("```")[0])
    rules = rules_with(**example)
    assert [m.id for m in rules.milestones] == ["third", "big-spender", "regular"]
    assert rules.favourite_category is not None and rules.cumulative is not None


# --- what the rules make of the progress -----------------------------------------------


def test_the_favourite_is_the_top_net_spend_in_the_window_ties_by_name() -> None:
    rule = rules_with(favourite_category={"extra_rate": "0.03"}).favourite_category
    days = {
        "2026-08-01": {"shoes": 90000},  # before the window
        "2026-10-01": {"books": 3000, "toys": 5000},
        "2026-11-09": {"books": 2000, "gift": 9000},
    }
    seen = growth.Progress(purchase_count=3, category_days=days)
    assert growth.favourite(rule, seen, after_day="2026-08-12") == "gift"
    excluded = ("gift",)
    assert growth.favourite(rule, seen, after_day="2026-08-12", excluded=excluded) == "books"
    assert growth.favourite(rule, seen, after_day="2026-10-01") == "gift"
    assert growth.favourite(None, seen, after_day="2026-08-12") is None
    assert growth.favourite(rule, replace(seen, purchase_count=0), after_day="2026-08-12") is None
    refunded = growth.Progress(purchase_count=3, category_days={"2026-11-09": {"toys": 0}})
    assert growth.favourite(rule, refunded, after_day="2026-08-12") is None


def test_a_milestone_is_reached_by_the_purchase_that_crosses_it_once() -> None:
    rules = rules_with(milestones=MILESTONES)
    at_two = growth.Progress(purchase_count=2, lifetime_spend=45000, months={"2026-11": 2})
    assert growth.reached(rules.milestones, at_two, amount=5000, month="2026-11") == (
        "third",
        "big",
    )
    assert growth.reached(rules.milestones, at_two, amount=4999, month="2026-11") == ("third",)
    done = replace(at_two, reached={"third": "2026-11-01T00:00:00Z"})
    assert growth.reached(rules.milestones, done, amount=10, month="2026-11") == ()
    # Already past when the milestone was published: not reached by the next purchase.
    past = growth.Progress(purchase_count=9, lifetime_spend=90000)
    assert growth.reached(rules.milestones, past, amount=10, month="2026-11") == ()


def test_a_streak_counts_consecutive_local_months_and_a_gap_filled_later() -> None:
    months = {"2026-09": 1, "2026-10": 4}
    assert growth.streak(months, "2026-11") == (2, 3)
    assert growth.streak(months, "2026-10") == (2, 2)  # a month already counted adds nothing
    assert growth.streak({"2026-12": 1, "2027-01": 1}, "2026-11") == (2, 3)  # across the year
    assert growth.streak({"2026-09": 1, "2026-11": 1}, "2026-10") == (1, 3)  # fills a gap
    rules = rules_with(milestones=MILESTONES)
    seen = growth.Progress(purchase_count=5, months=months)
    assert growth.reached(rules.milestones, seen, amount=1, month="2026-11") == ("regular",)
    assert growth.reached(rules.milestones, seen, amount=1, month="2027-01") == ()


def test_the_next_milestones_show_progress_and_leave_out_the_reached() -> None:
    rules = rules_with(milestones=MILESTONES)
    seen = growth.Progress(
        purchase_count=1,
        lifetime_spend=12000,
        months={"2026-10": 1},
        reached={"big": "2026-10-01T00:00:00Z"},
    )
    towards = growth.next_milestones(rules.milestones, seen, "2026-11")
    assert [(t.id, t.progress, t.target) for t in towards] == [("third", 1, 3), ("regular", 1, 3)]
    lapsed = growth.next_milestones(rules.milestones, seen, "2027-01")
    assert [(t.id, t.progress) for t in lapsed] == [("third", 1), ("regular", 0)]


# --- what they earn ---------------------------------------------------------------------


def test_the_favourite_category_adds_to_its_lines_only() -> None:
    rules = rules_with(category_rates={"shoes": "0.08"}, favourite_category={"extra_rate": "0.03"})
    purchase = _buy(Line("a", "shoes", 10000), Line("b", "books", 10001))
    plain = evaluate(rules, purchase, Context(), version=1)
    assert plain.cashback == 800 + 500  # 500.05 rounds down with the order
    favourite = evaluate(rules, purchase, Context(favourite_category="books"), version=1)
    assert favourite.cashback == 800 + 800  # books: 5% + 3% of 10001 = 800.08
    assert _rules_applied(favourite) == [("favourite_category", "books", "300.03")]
    assert "Favourite category (books) bonus of 3% on 1 item: BRL 3.00." in (
        customer_explanation(favourite)
    )


def test_the_cumulative_step_reached_by_the_spend_before_the_purchase_applies() -> None:
    rules = rules_with(
        cumulative={
            "steps": [
                {"min_spend": 0, "extra_rate": "0"},
                {"min_spend": 100000, "extra_rate": "0.01"},
                {"min_spend": 500000, "extra_rate": "0.025"},
            ]
        }
    )
    purchase = _buy(Line("a", "books", 12990))
    cashback = [
        evaluate(rules, purchase, Context(lifetime_spend=spend), version=1).cashback
        for spend in (0, 99999, 100000, 499999, 500000)
    ]
    assert cashback == [649, 649, 779, 779, 974]  # 649.5, 779.4, 974.25, rounded down
    top = evaluate(rules, purchase, Context(lifetime_spend=900000), version=1)
    assert _rules_applied(top) == [("cumulative", "500000", "324.750")]
    assert "Bonus of 2.5% for BRL 5,000.00 or more spent so far on 1 item: BRL 3.24." in (
        customer_explanation(top)
    )


def test_a_reached_milestone_earns_its_rate_and_fixed_bonus_with_its_id() -> None:
    rules = rules_with(
        milestones=[
            {"id": "fifth", "kind": "nth_purchase", "n": 5, "bonus": {"extra_rate": "0.02"}},
            {**MILESTONES[0], "bonus": {"fixed": 500, "extra_rate": "0.01"}},
        ]
    )
    purchase = _buy(Line("a", "books", 10000), Line("b", "toys", 5000))
    assert evaluate(rules, purchase, Context(), version=1).cashback == 750
    both = evaluate(rules, purchase, Context(milestones=("third", "fifth")), version=1)
    assert both.cashback == 750 + 300 + 150 + 500
    assert [(i.kind, i.rule, str(i.value)) for i in both.order_items] == [
        ("milestone", "third", "500")
    ]
    explained = customer_explanation(both)
    assert "Milestone: 5th purchase, bonus of 2% on 2 items: BRL 3.00." in explained
    assert "Milestone: 3rd purchase: BRL 5.00." in explained
    assert Evaluation.from_json(json.loads(json.dumps(both.to_json()))) == both
    unknown = evaluate(rules, purchase, Context(milestones=("gone",)), version=1)
    assert unknown.cashback == 750  # a milestone id the version does not have adds nothing


def test_milestone_names_say_what_was_reached() -> None:
    rules = rules_with(
        milestones=[
            {"id": "a", "kind": "nth_purchase", "n": 11},
            {"id": "b", "kind": "nth_purchase", "n": 22},
            {"id": "c", "kind": "spend", "amount": 123456},
            {"id": "d", "kind": "streak_months", "months": 6},
            {"id": "e", "kind": "nth_purchase", "n": 1, "name": "Welcome"},
        ]
    )
    assert [growth.milestone_name(m, "BRL") for m in rules.milestones] == [
        "Milestone: 11th purchase",
        "Milestone: 22nd purchase",
        "Milestone: BRL 1,234.56 spent",
        "Milestone: 6 months in a row",
        "Milestone: Welcome",
    ]


# --- the progress on the account --------------------------------------------------------


def _account() -> ledger.Account:
    return ledger.Account("t", "c")


def test_a_purchase_counts_and_a_refund_nets_the_progress() -> None:
    account = progress.count_purchase(
        _account(),
        occurred_at=T,
        amount=15000,
        month="2026-11",
        categories={"shoes": 10000, "books": 5000},
        reached=("first",),
    )
    assert (account.purchase_count, account.lifetime_spend) == (1, 15000)
    assert account.first_purchase_at == "2026-11-10T18:00:00Z"
    assert account.category_days == {"2026-11-10": {"shoes": 10000, "books": 5000}}
    assert (account.purchase_months, account.milestones) == (
        {"2026-11": 1},
        {"first": "2026-11-10T18:00:00Z"},
    )
    earlier = progress.count_purchase(
        account, occurred_at=T - timedelta(days=2), amount=100, month="2026-11", categories={}
    )
    assert earlier.first_purchase_at == "2026-11-08T18:00:00Z"
    assert earlier.purchase_months == {"2026-11": 2}
    refunded = progress.net_refund(
        earlier, day="2026-11-10", amount=12000, categories={"shoes": 10000, "books": 2000}
    )
    assert refunded.lifetime_spend == 3100
    assert refunded.category_days["2026-11-10"] == {"books": 3000}
    assert refunded.milestones == account.milestones and refunded.purchase_count == 2
    emptied = progress.net_refund(refunded, day="2026-11-10", amount=99999, categories={"books": 5})
    assert emptied.lifetime_spend == 0 and "2026-11-10" in emptied.category_days


def test_the_progress_is_trimmed_to_what_a_rule_can_read() -> None:
    account = _account()
    for day in range(400):
        account = progress.count_purchase(
            account,
            occurred_at=T + timedelta(days=day),
            amount=1,
            month=f"{2026 + day // 12:04d}-{day % 12 + 1:02d}",
            categories={f"c{day % 3}": 1, "x": 1},
        )
    assert min(account.category_days) == "2026-12-13"  # 366 days before the last
    assert sum(len(v) for v in account.category_days.values()) <= progress.MAX_CATEGORY_ENTRIES
    assert len(account.purchase_months) == MAX_STREAK_MONTHS + 1
    crowded = _account()
    for day in range(30):
        crowded = progress.count_purchase(
            crowded,
            occurred_at=T + timedelta(days=day),
            amount=1,
            month="2026-11",
            categories={f"c{i}": 1 for i in range(40)},
        )
    assert sum(len(v) for v in crowded.category_days.values()) == 1000  # oldest days went
    assert max(crowded.category_days) == "2026-12-09"


def test_a_refund_gives_back_by_the_lines_it_names_or_in_proportion() -> None:
    lines = {"a": [10000, 500, 0], "b": [5000, 250, 1000], "c": [100, 5, 0]}
    categories = {"a": "shoes", "b": "books", "c": "shoes"}
    named = progress.refunded_by_category(3000, {"b": 3000}, lines, categories)
    assert named == {"books": 3000}
    # Unnamed: 7000 over what the lines have left (10000, 4000, 100), largest remainder.
    assert progress.refunded_by_category(7000, None, lines, categories) == {
        "shoes": 4964 + 50,
        "books": 1986,
    }


def _order(**changes: Any) -> Order:
    values: dict[str, Any] = {
        "tenant": "t",
        "order_id": "o",
        "customer_id": "c",
        "amount": 15000,
        "currency": "BRL",
        "cashback": 750,
        "refunded": 0,
        "lot_sk": None,
        "occurred_at": "2026-11-10T18:00:00Z",
        "request_hash": "h",
        "reply": "{}",
        "status_code": 201,
        "lines": {"a": [10000, 500, 0], "b": [5000, 250, 0]},
        "categories": {"a": "shoes", "b": "books"},
    }
    return Order(**{**values, **changes})


def _purchase(amount: int = 15000) -> NewPurchase:
    return NewPurchase(
        "o",
        "c",
        amount,
        "BRL",
        T,
        "online",
        (PurchaseLine("a", "shoes", amount - 5000), PurchaseLine("b", "books", 5000)),
    )


def test_blocked_purchases_count_for_nothing_and_reach_nothing() -> None:
    rules = rules_with(milestones=MILESTONES)
    blocked = growth_service.count(_account(), _purchase(), ("third",), rules, "block")
    assert blocked == _account()
    assert growth_service.notices("t", _purchase(), ("third",), None, "block") == ()
    held = growth_service.count(_account(), _purchase(), ("third",), rules, "review")
    assert (held.purchase_count, held.milestones) == (1, {"third": "2026-11-10T18:00:00Z"})
    (notice,) = growth_service.notices("t", _purchase(), ("third",), None, "review")
    assert (notice.kind, notice.milestones, notice.amount) == ("milestone.reached", ("third",), 0)
    assert notice.detail()["milestones"] == ["third"]
    assert "milestones" not in replace(notice, kind="cashback.available", milestones=()).detail()


def test_a_refund_nets_only_what_the_progress_counted() -> None:
    account = growth_service.count(_account(), _purchase(), (), None, "allow")
    refund = NewRefund("r", "o", 5000, T, None)
    netted = growth_service.after_refund(account, _order(), refund)
    assert netted.lifetime_spend == 10000
    assert netted.category_days["2026-11-10"] == {"shoes": 6667, "books": 3333}
    assert growth_service.after_refund(account, _order(categories=None), refund) == account
    assert growth_service.after_refund(account, _order(status="blocked"), refund) == account


# --- properties -------------------------------------------------------------------------

events = st.lists(
    st.tuples(st.booleans(), st.integers(1, 10**6), st.integers(0, 40)), min_size=1, max_size=40
)


@settings(max_examples=60, deadline=None)
@given(history=events)
def test_each_milestone_is_reached_at_most_once_and_the_nth_at_the_nth_purchase(
    history: list[tuple[bool, int, int]],
) -> None:
    rules = rules_with(
        milestones=[
            {"id": "n2", "kind": "nth_purchase", "n": 2},
            {"id": "n5", "kind": "nth_purchase", "n": 5},
            {"id": "s", "kind": "spend", "amount": 10**6},
            {"id": "streak", "kind": "streak_months", "months": 2},
        ]
    )
    account, reached_on, spent, refunded = _account(), {}, 0, 0
    start = datetime(2026, 1, 15, tzinfo=UTC)
    for buying, amount, day in history:
        at = start + timedelta(days=day * 7)
        month = at.strftime("%Y-%m")
        if buying:
            found = growth.reached(
                rules.milestones, progress.of(account), amount=amount, month=month
            )
            for id in found:
                assert id not in reached_on
                reached_on[id] = account.purchase_count + 1
            account = progress.count_purchase(
                account,
                occurred_at=at,
                amount=amount,
                month=month,
                categories={"c": amount},
                reached=found,
            )
            spent += amount
        else:
            account = progress.net_refund(
                account, day=at.isoformat()[:10], amount=amount, categories={"c": amount}
            )
            refunded += amount
        assert 0 <= account.lifetime_spend <= spent
        assert all(v >= 0 for day in account.category_days.values() for v in day.values())
    purchases = sum(1 for buying, _, _ in history if buying)
    assert account.purchase_count == purchases
    assert {k: v for k, v in reached_on.items() if k.startswith("n")} == {
        k: n for k, n in (("n2", 2), ("n5", 5)) if purchases >= n
    }
    assert set(account.milestones) == set(reached_on)


class _Client:
    """Keeps the transactions the store sends (no AWS)."""

    def __init__(self) -> None:
        self.sent: list[list[Any]] = []

    def transact_write_items(self, TransactItems: list[Any]) -> dict[str, Any]:  # noqa: N803
        self.sent.append(TransactItems)
        return {}


def test_a_milestone_purchase_writes_its_notice_and_progress_in_one_transaction() -> None:
    """With its notice, a purchase drawing on all the budgets its room allows still fits."""
    from cashback.adapters.dynamodb.store import Store
    from cashback.adapters.dynamodb.table import from_item
    from cashback.domain.changes import BUDGET_ITEMS, TRANSACT_MAX_ITEMS, PurchaseChange
    from cashback.services.earning import Earning, _budget_room

    account = _account()
    accrual = ledger.accrue(
        account,
        order_id="o",
        cashback=100,
        occurred_at=T,
        available_at=T,
        expires_at=None,
        never_expires=True,
    )
    after = growth_service.count(accrual.account, _purchase(), ("third",), None, "allow")
    (notice,) = growth_service.notices("t", _purchase(), ("third",), None, "allow")
    room = _budget_room(Earning(100, T, None, milestones=("third",)))
    assert room == BUDGET_ITEMS - 1
    client = _Client()
    Store("table", client=client).commit_purchase(
        PurchaseChange(
            _order(),
            accrual.lot,
            accrual.entries,
            account,
            after,
            now="2026-11-10T18:00:05Z",
            budget_takes=tuple((f"c{i}", 0, 1) for i in range(room)),
            identities=(("device", "d"), ("payment", "p")),
            notices=(*accrual.notices, notice),
        )
    )
    (sent,) = client.sent
    assert len(sent) == TRANSACT_MAX_ITEMS
    puts = [from_item(item["Put"]["Item"]) for item in sent if "Put" in item]
    # Available at once (its cashback.available notice) and a milestone reached (its own).
    (written,) = [item for item in puts if item["pk"] == "NOTICE#t" and "milestones" in item]
    # Claimed by no run: the first run to read it takes it.
    assert written["milestones"] == ["third"] and written["claimed_for"] == ""
    assert written["due_bucket"].startswith("DUE#2026-11-10#")
    update = next(
        i["Update"] for i in sent if "Update" in i and "ACCOUNT" in str(i["Update"]["Key"])
    )
    values = from_item(update["ExpressionAttributeValues"])
    assert (values[":purchase_count"], values[":lifetime_spend"]) == (1, 15000)
    assert values[":milestones"] == {"third": "2026-11-10T18:00:00Z"}
