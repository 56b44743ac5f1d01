"""The rule set model: the example program validates, and every bad program is refused
with an error that names the offending field."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from pydantic import ValidationError

from cashback.domain.rules.ruleset import RuleSet
from cashback_tools import rules_schema as schema

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE: dict[str, Any] = json.loads(
    (ROOT / "docs" / "rules.example.json").read_text(encoding="utf-8")
)


def _program(**changes: Any) -> dict[str, Any]:
    program: dict[str, Any] = copy.deepcopy(EXAMPLE)
    program.update(changes)
    return program


def _campaign(**changes: Any) -> dict[str, Any]:
    return {
        "id": "c1",
        "name": "C1",
        "starts_at": "2026-11-27T00:00:00",
        "ends_at": "2026-11-30T00:00:00",
        "rate": "0.05",
        **changes,
    }


def _errors(program: dict[str, Any]) -> dict[str, str]:
    """Refused fields by dotted path, with their messages."""
    with pytest.raises(ValidationError) as caught:
        RuleSet.model_validate_json(json.dumps(program))
    return {
        ".".join(str(part) for part in error["loc"]): error["msg"]
        for error in caught.value.errors()
    }


def test_example_program_validates_and_round_trips() -> None:
    rules = RuleSet.model_validate(EXAMPLE)
    assert rules.currency == "BRL" and rules.time_zone == "America/Sao_Paulo"
    assert len(rules.campaigns) == 5 and rules.refund_policy == "record_debt"
    again = RuleSet.model_validate_json(rules.model_dump_json())
    assert again == rules


def test_committed_schema_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "rules.schema.json").read_text(encoding="utf-8")
    assert committed == schema.rendered(), "run: python -m cashback_tools.rules_schema"


def test_schema_accepts_the_example_and_refuses_a_float_rate() -> None:
    validator = jsonschema.Draft202012Validator(schema.json_schema())
    validator.validate(EXAMPLE)
    assert not validator.is_valid(_program(base_rate=0.03))


def test_schema_command_checks_and_writes(tmp_path: Path) -> None:
    out = tmp_path / "rules.schema.json"
    assert schema.main(["--out", str(out), "--check"]) == 1
    assert schema.main(["--out", str(out)]) == 0
    assert schema.main(["--out", str(out), "--check"]) == 0


def test_rule_set_is_immutable() -> None:
    rules = RuleSet.model_validate(EXAMPLE)
    with pytest.raises(ValidationError):
        rules.base_rate = rules.base_rate


@pytest.mark.parametrize("rate", [0.05, 5, "5%", "5e-2", "1.5", "0.1234567", "-0.01", True])
def test_rate_must_be_a_decimal_string_between_zero_and_one(rate: object) -> None:
    assert list(_errors(_program(base_rate=rate))) == ["base_rate"]


def test_unknown_field_is_refused_where_it_is() -> None:
    program = _program(caps={"per_order": 100, "per_week": 5})
    assert list(_errors(program)) == ["caps.per_week"]


def test_money_must_be_an_integer_of_minor_units() -> None:
    assert list(_errors(_program(min_order_amount=50.0))) == ["min_order_amount"]
    assert list(_errors(_program(min_order_amount="5000"))) == ["min_order_amount"]


def test_overlapping_tiers_name_the_level() -> None:
    tiers = {
        "levels": [
            {"name": "A", "min_spend": 0, "extra_rate": "0"},
            {"name": "B", "min_spend": 500, "extra_rate": "0.01"},
            {"name": "C", "min_spend": 500, "extra_rate": "0.02"},
        ]
    }
    errors = _errors(_program(tiers=tiers))
    assert list(errors) == ["tiers.levels.2.min_spend"]
    assert "overlap" in errors["tiers.levels.2.min_spend"]


def test_duplicate_tier_name_is_refused() -> None:
    tiers = {
        "levels": [
            {"name": "A", "min_spend": 0, "extra_rate": "0"},
            {"name": "A", "min_spend": 500, "extra_rate": "0.01"},
        ]
    }
    assert list(_errors(_program(tiers=tiers))) == ["tiers.levels.1.name"]


def test_campaign_ending_before_it_starts_names_ends_at() -> None:
    campaign = _campaign(starts_at="2026-11-30T00:00:00", ends_at="2026-11-27T00:00:00")
    errors = _errors(_program(campaigns=[campaign]))
    assert list(errors) == ["campaigns.0.ends_at"]
    assert "before it starts" in errors["campaigns.0.ends_at"]


def test_campaign_times_are_local_wall_clock_without_offset() -> None:
    campaign = _campaign(starts_at="2026-11-27T00:00:00-03:00")
    assert list(_errors(_program(campaigns=[campaign]))) == ["campaigns.0.starts_at"]


def test_exclusive_campaign_without_priority_names_priority() -> None:
    errors = _errors(_program(campaigns=[_campaign(), _campaign(id="c2", stacking="exclusive")]))
    assert list(errors) == ["campaigns.1.priority"]


def test_duplicate_campaign_id_is_refused() -> None:
    assert list(_errors(_program(campaigns=[_campaign(), _campaign()]))) == ["campaigns.1.id"]


@pytest.mark.parametrize(
    "name",
    [
        "Mars/Olympus_Mons",
        "localtime",
        "/etc/localtime",
        "../zoneinfo/UTC",
        "america/sao_paulo",
        "",
    ],
)
def test_unknown_time_zone_names_time_zone(name: str) -> None:
    assert list(_errors(_program(time_zone=name))) == ["time_zone"]


def test_unknown_currency_and_naive_effective_from_are_refused() -> None:
    assert list(_errors(_program(currency="XYZ"))) == ["currency"]
    assert list(_errors(_program(effective_from="2026-11-01T00:00:00"))) == ["effective_from"]


def test_excluded_category_cannot_have_a_rate_or_be_targeted() -> None:
    program = _program(
        excluded_categories=["fashion"], campaigns=[_campaign(categories=["shoes", "fashion"])]
    )
    assert sorted(_errors(program)) == ["campaigns.0.categories.1", "category_rates.fashion"]


def test_expiry_that_could_come_before_the_return_window_ends_is_refused() -> None:
    for expiry in (
        {"kind": "rolling", "days": 30},
        {"kind": "end_of_month"},
        {"kind": "end_of_month", "months_after": 1},
        {"kind": "end_of_year"},
        {"kind": "inactivity", "days": 10},
    ):
        lifecycle = {"return_window_days": 30, "expiry": expiry}
        assert list(_errors(_program(lifecycle=lifecycle))) == ["lifecycle.expiry"], expiry


def test_expiry_policies_that_leave_time_are_accepted() -> None:
    for window, expiry in (
        (30, {"kind": "rolling", "days": 31}),
        (30, {"kind": "end_of_month", "months_after": 2}),
        (0, {"kind": "end_of_month"}),
        (30, {"kind": "end_of_year", "years_after": 1}),
        (30, {"kind": "never"}),
        (30, {"kind": "inactivity", "days": 90}),
    ):
        RuleSet.model_validate(_program(lifecycle={"return_window_days": window, "expiry": expiry}))


def test_campaign_lifecycle_is_checked_against_the_program_window() -> None:
    campaign = _campaign(lifecycle={"expiry": {"kind": "rolling", "days": 20}})
    assert list(_errors(_program(campaigns=[campaign]))) == ["campaigns.0.lifecycle.expiry"]
    campaign = _campaign(lifecycle={"return_window_days": 200})
    assert list(_errors(_program(campaigns=[campaign]))) == [
        "campaigns.0.lifecycle.return_window_days"
    ]


def test_unknown_expiry_kind_is_refused() -> None:
    lifecycle = {"expiry": {"kind": "sometimes"}}
    assert list(_errors(_program(lifecycle=lifecycle))) == ["lifecycle.expiry"]


def test_points_mode_needs_positive_decimal_factors() -> None:
    points = {"points_per_currency_unit": "0", "minor_units_per_point": "1"}
    assert list(_errors(_program(points=points))) == ["points.points_per_currency_unit"]
    points = {"points_per_currency_unit": "10", "minor_units_per_point": "1"}
    assert RuleSet.model_validate(_program(points=points)).unit == "points"


def test_all_problems_are_reported_at_once() -> None:
    program = _program(
        time_zone="Nowhere/City", base_rate="2", campaigns=[_campaign(stacking="exclusive")]
    )
    assert sorted(_errors(program)) == ["base_rate", "campaigns.0.priority", "time_zone"]


def test_error_message_with_braces_is_not_mistaken_for_a_template() -> None:
    campaign = _campaign(id="c1")
    errors = _errors(_program(campaigns=[campaign, {**campaign, "name": "{oops}"}]))
    assert "'c1' appears twice" in errors["campaigns.1.id"]


def test_campaign_only_in_channels_that_do_not_earn_is_refused() -> None:
    program = _program(
        channels={"store": {"earns": False}}, campaigns=[_campaign(channels=["store"])]
    )
    assert list(_errors(program)) == ["campaigns.0.channels"]
