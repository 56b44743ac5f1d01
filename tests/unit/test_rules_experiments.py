"""Experiments: deterministic assignment by customer, shares kept over many customers, the
program's holdout earning nothing, a campaign's holdout missing only the campaign, the
validation of an experiment, and properties over random programs (hypothesis)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cashback.domain.rules.engine import (
    Context,
    Evaluation,
    Line,
    Purchase,
    customer_explanation,
    evaluate,
)
from cashback.domain.rules.experiments import BUCKETS, Experiment, assign, bucket, variant_at
from cashback.domain.rules.ruleset import RuleSet

from .programs import T, campaign_with, rules_with
from .test_rules_engine import contexts, programs, purchases

SPLIT = {
    "id": "spring-26",
    "variants": [
        {"name": "control", "share": "0.1"},
        {"name": "plain", "share": "0.3"},
        {"name": "boost", "share": "0.6", "extra_rate": "0.01"},
    ],
    "holdout": "control",
}


def _experiment(**changes: Any) -> Experiment:
    return Experiment.model_validate({**SPLIT, **changes})


def _buy(amount: int = 10000, category: str = "misc") -> Purchase:
    return Purchase(amount, "BRL", T, "online", (Line("sku", category, amount),))


def _eval(rules: RuleSet, customer: str, purchase: Purchase | None = None) -> Evaluation:
    context = Context(customer=("shop", customer))
    return evaluate(rules, purchase or _buy(), context, version=3)


def _customer_in(experiment: Experiment, variant: str, tenant: str = "shop") -> str:
    return next(
        f"c{i}" for i in range(10_000) if assign(experiment, tenant, f"c{i}").name == variant
    )


# --- assignment --------------------------------------------------------------------------


def test_assignment_is_a_stable_hash_of_tenant_experiment_and_customer() -> None:
    experiment = _experiment()
    at = bucket("shop", "spring-26", "c42")
    assert 0 <= at < BUCKETS
    assert all(bucket("shop", "spring-26", "c42") == at for _ in range(3))
    assert assign(experiment, "shop", "c42") == assign(_experiment(), "shop", "c42")
    # The three parts cannot run into each other (the key is a JSON array).
    assert bucket("shop", "a", "bc") != bucket("shop", "ab", "c")


def test_variants_own_consecutive_ranges_of_buckets_in_listed_order() -> None:
    experiment = _experiment()
    owners = [(at, variant_at(experiment, at).name) for at in (0, 999, 1000, 3999, 4000, 9999)]
    assert owners == [
        (0, "control"),
        (999, "control"),
        (1000, "plain"),
        (3999, "plain"),
        (4000, "boost"),
        (9999, "boost"),
    ]


def test_shares_hold_over_many_customers() -> None:
    experiment = _experiment()
    n = 20_000
    counts = Counter(assign(experiment, "shop", f"customer-{i}").name for i in range(n))
    for variant in experiment.variants:
        # Within 1.5 points: more than 4 standard deviations at these sizes.
        assert abs(counts[variant.name] / n - float(variant.share)) < 0.015, counts


def test_a_new_id_reshuffles_and_another_tenant_draws_its_own() -> None:
    before, after = _experiment(), _experiment(id="spring-26-b")
    customers = [f"c{i}" for i in range(2000)]
    moved = sum(assign(before, "shop", c) != assign(after, "shop", c) for c in customers)
    assert 0.3 < moved / len(customers) < 0.7  # independent draws: 1 - (.01+.09+.36) = 54%
    elsewhere = sum(assign(before, "shop", c) != assign(before, "other", c) for c in customers)
    assert 0.3 < elsewhere / len(customers) < 0.7


def test_the_same_customer_keeps_the_variant_while_the_id_and_shares_stay() -> None:
    experiment = _experiment()
    renamed = _experiment(
        variants=[
            {**v, "extra_rate": "0.02"} if v["name"] == "boost" else v for v in SPLIT["variants"]
        ]
    )
    for i in range(200):
        assert assign(experiment, "shop", f"c{i}").name == assign(renamed, "shop", f"c{i}").name


# --- the program's experiment -------------------------------------------------------------


def test_the_programs_holdout_earns_nothing_and_is_not_told_why() -> None:
    rules = rules_with(experiment=SPLIT, first_purchase={"fixed": 500})
    held = _eval(rules, _customer_in(rules.experiment, "control"))  # type: ignore[arg-type]
    assert (held.cashback, held.gross, held.cuts, held.order_items) == (0, 0, (), ())
    assert [line.items for line in held.lines] == [()]
    assert [a.to_json() for a in held.experiments] == [
        {"id": "spring-26", "variant": "control", "holdout": True, "campaign": None}
    ]
    explained = customer_explanation(held)
    assert explained == [
        "This order earns no cashback.",
        "No cashback applies to this purchase under the current program terms.",
    ]
    assert not any("holdout" in s or "experiment" in s or "control" in s for s in explained)
    # Stored and read back, it explains the same way.
    assert customer_explanation(Evaluation.from_json(held.to_json())) == explained


def test_other_variants_earn_the_program_plus_their_extra_rate() -> None:
    rules = rules_with(experiment=SPLIT)
    plain = _eval(rules, _customer_in(rules.experiment, "plain"))  # type: ignore[arg-type]
    boost = _eval(rules, _customer_in(rules.experiment, "boost"))  # type: ignore[arg-type]
    assert plain.cashback == 500 and boost.cashback == 600
    assert [(i.kind, i.rule, i.name) for i in boost.lines[0].items] == [
        ("base", "base", "Base rate"),
        ("experiment", "spring-26", "boost"),
    ]
    assert boost.to_json()["experiments"] == [
        {"id": "spring-26", "variant": "boost", "holdout": False, "campaign": None}
    ]
    assert "Extra bonus of 1% on 1 item: BRL 1.00." in customer_explanation(boost)


def test_without_a_customer_experiments_do_not_apply() -> None:
    rules = rules_with(experiment=SPLIT)
    result = evaluate(rules, _buy(), Context(), version=1)
    assert (result.cashback, result.experiments) == (500, ())
    assert result.to_json()["experiments"] == []


def test_points_programs_word_the_holdout_in_points() -> None:
    rules = rules_with(
        experiment=SPLIT, points={"points_per_currency_unit": "1", "minor_units_per_point": "1"}
    )
    held = _eval(rules, _customer_in(rules.experiment, "control"))  # type: ignore[arg-type]
    assert customer_explanation(held)[1] == (
        "No points apply to this purchase under the current program terms."
    )


# --- a campaign's experiment --------------------------------------------------------------


def _with_campaign_trial(**campaign: Any) -> RuleSet:
    trial = {
        "id": "bf-trial",
        "variants": [
            {"name": "without", "share": "0.5"},
            {"name": "with", "share": "0.5", "extra_rate": "0.02"},
        ],
        "holdout": "without",
    }
    return rules_with(
        campaigns=[
            campaign_with("bf", rate="0.05", experiment=trial, **campaign),
            campaign_with("other", rate="0.01"),
        ]
    )


def test_a_campaigns_holdout_misses_only_that_campaign() -> None:
    rules = _with_campaign_trial(budget=10**6)
    experiment = rules.campaigns[0].experiment
    assert experiment is not None
    out = _eval(rules, _customer_in(experiment, "without"))
    assert out.cashback == 500 + 100  # the base and the other campaign; not bf
    assert out.campaigns == ("other",) and out.budget_consumption == {}
    assert [a.to_json() for a in out.experiments] == [
        {"id": "bf-trial", "variant": "without", "holdout": True, "campaign": "bf"}
    ]
    assert not any("BF" in s for s in customer_explanation(out))
    treated = _eval(rules, _customer_in(experiment, "with"))
    assert treated.cashback == 500 + 700 + 100  # bf at 5% + its variant's 2%
    assert treated.budget_consumption == {"bf": 700}  # the variant's extra is bf's money
    assert "BF: extra 7% on 1 item: BRL 7.00." in customer_explanation(treated)


def test_a_campaigns_holdout_is_not_told_to_spend_more_for_it() -> None:
    rules = _with_campaign_trial(min_order_amount=50000)
    experiment = rules.campaigns[0].experiment
    assert experiment is not None
    out = _eval(rules, _customer_in(experiment, "without"))
    assert out.missed == () and out.experiments[0].holdout  # recorded: it was running
    treated = _eval(rules, _customer_in(experiment, "with"))
    assert [m.campaign for m in treated.missed] == ["bf"]


def test_a_campaign_not_running_records_no_variant() -> None:
    rules = _with_campaign_trial(starts_at="2027-01-01T00:00:00", ends_at="2027-02-01T00:00:00")
    assert _eval(rules, "c1").experiments == ()


def test_the_programs_holdout_gets_no_campaign_either() -> None:
    rules = RuleSet.model_validate({**_with_campaign_trial().model_dump(), "experiment": SPLIT})
    customer = _customer_in(rules.experiment, "control")  # type: ignore[arg-type]
    held = _eval(rules, customer)
    assert held.cashback == 0 and held.campaigns == ()
    assert [a.id for a in held.experiments] == ["spring-26"]  # only the program's


# --- validation ---------------------------------------------------------------------------


def _refused(experiment: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        rules_with(experiment=experiment)
    return [(".".join(map(str, e["loc"])), e["msg"]) for e in caught.value.errors()]


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"variants": [{"name": "a", "share": "0.5"}, {"name": "b", "share": "0.4"}]}, "variants"),
        ({"variants": [{"name": "a", "share": "0.6"}, {"name": "b", "share": "0.6"}]}, "variants"),
        ({"variants": [{"name": "control", "share": "1"}]}, "variants"),
        ({"variants": [{"name": f"v{i}", "share": "0.0909"} for i in range(11)]}, "variants"),
        ({"holdout": "nobody"}, "holdout"),
        ({"holdout": "bad name!"}, "holdout"),
        ({"id": "Has Spaces"}, "id"),
        (
            {
                "variants": [
                    {"name": "control", "share": "0.5"},
                    {"name": "control", "share": "0.5"},
                ]
            },
            "variants.1.name",
        ),
        (
            {
                "variants": [
                    {"name": "control", "share": "0.49995"},
                    {"name": "b", "share": "0.50005"},
                ]
            },
            "variants.0.share",
        ),
        (
            {"variants": [{"name": "control", "share": 0.5}, {"name": "b", "share": "0.5"}]},
            "variants.0.share",
        ),
        (
            {"variants": [{"name": "control", "share": "0"}, {"name": "b", "share": "1"}]},
            "variants.0.share",
        ),
        (
            {
                "variants": [
                    {"name": "control", "share": "0.5", "extra_rate": "0.01"},
                    {"name": "b", "share": "0.5"},
                ]
            },
            "variants.0.extra_rate",
        ),
    ],
)
def test_a_bad_experiment_is_refused_at_its_field(changes: dict[str, Any], where: str) -> None:
    refused = _refused({**SPLIT, **changes})
    assert any(loc.startswith(f"experiment.{where}") for loc, _ in refused), refused


def test_the_shares_must_add_up_to_exactly_one() -> None:
    refused = _refused(
        {
            **SPLIT,
            "variants": [{"name": "control", "share": "0.3333"}, {"name": "b", "share": "0.6666"}],
        }
    )
    assert refused == [("experiment.variants", "the shares add up to 0.9999, not 1")]


def test_experiment_ids_are_unique_in_a_program() -> None:
    with pytest.raises(ValidationError) as caught:
        rules_with(experiment=SPLIT, campaigns=[campaign_with("c1", experiment=SPLIT)])
    assert [e["loc"] for e in caught.value.errors()] == [("campaigns", 0, "experiment", "id")]


# --- properties -----------------------------------------------------------------------------

customers = st.text("abcdefghij0123456789", min_size=1, max_size=12)
splits = st.sampled_from(
    [
        SPLIT,
        {**SPLIT, "variants": [{"name": "control", "share": "0.5"}, {"name": "t", "share": "0.5"}]},
        {
            "id": "tiny",
            "variants": [
                {"name": "h", "share": "0.0001"},
                {"name": "t", "share": "0.9999", "extra_rate": "0.5"},
            ],
            "holdout": "h",
        },
    ]
)


@settings(max_examples=80, deadline=None)
@given(rules=programs(), purchase=purchases(), context=contexts(), customer=customers, split=splits)
def test_a_variant_never_earns_less_than_the_program_and_the_holdout_earns_nothing(
    rules: RuleSet, purchase: Purchase, context: Context, customer: str, split: dict[str, Any]
) -> None:
    trial = RuleSet.model_validate({**rules.model_dump(), "experiment": split})
    assert trial.experiment is not None
    seen = replace(context, customer=("shop", customer))
    result = evaluate(trial, purchase, seen, version=1)
    without = evaluate(rules, purchase, seen, version=1)
    variant = assign(trial.experiment, "shop", customer)
    assert result == evaluate(trial, purchase, seen, version=1)  # deterministic
    assert result.experiments[0].variant == variant.name
    if variant.name == trial.experiment.holdout:
        assert result.cashback == 0 and not result.budget_consumption and not result.cuts
    else:
        assert result.cashback >= without.cashback
        if not variant.extra_rate:
            assert result.cashback == without.cashback
    assert Evaluation.from_json(result.to_json()) == result


@settings(max_examples=60, deadline=None)
@given(rules=programs(), purchase=purchases(), context=contexts(), customer=customers)
def test_a_campaigns_holdout_does_without_it_and_its_other_variant_gets_it_as_written(
    rules: RuleSet, purchase: Purchase, context: Context, customer: str
) -> None:
    if not rules.campaigns:
        return
    trial = {
        "id": "t",
        "variants": [{"name": "h", "share": "0.5"}, {"name": "t", "share": "0.5"}],
        "holdout": "h",
    }
    dumped = rules.model_dump()
    dumped["campaigns"][0]["experiment"] = trial
    tried = RuleSet.model_validate(dumped)
    seen = replace(context, customer=("shop", customer))
    result = evaluate(tried, purchase, seen, version=1)
    without = evaluate(rules, purchase, seen, version=1)
    campaign = rules.campaigns[0].id
    held = [a for a in result.experiments if a.campaign == campaign and a.holdout]
    if held:
        assert campaign not in result.campaigns and campaign not in result.budget_consumption
    else:  # the variant without an extra rate: the program exactly as written
        assert result.cashback == without.cashback
    assert sum(result.budget_consumption.values()) <= result.cashback
    assert Decimal(result.cashback) <= result.gross
