"""template.yaml is what gets deployed: it must lint clean and keep its promises."""

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cashback.local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES = TEMPLATE.document["Resources"]
ALARMS = {name: r["Properties"] for name, r in RESOURCES.items()
          if r["Type"] == "AWS::CloudWatch::Alarm"}


def _watched(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics an alarm reads: its own, or those of its metric math."""
    if "MetricName" in alarm:
        return [{key: alarm.get(key) for key in ("Namespace", "MetricName", "Dimensions")}]
    return [query["MetricStat"]["Metric"] for query in alarm["Metrics"] if "MetricStat" in query]


def test_template_passes_cfn_lint() -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(cfn_lint), str(ROOT / "template.yaml")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_table_is_on_demand_recoverable_and_protected() -> None:
    table = RESOURCES["LedgerTable"]
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"


def test_functions_run_python_312_on_arm64() -> None:
    function_globals = TEMPLATE.document["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.12"
    assert function_globals["Architectures"] == ["arm64"]
    assert "POWERTOOLS_SERVICE_NAME" in function_globals["Environment"]["Variables"]


def test_functions_built_so_far_have_their_logical_ids() -> None:
    functions = {name for name, r in RESOURCES.items()
                 if r["Type"] == "AWS::Serverless::Function"}
    assert functions == {"AuthorizerFunction", "AccrualFunction", "RedemptionFunction",
                         "ExpiryFunction", "AdminFunction", "ReviewFunction"}


@pytest.mark.parametrize(("function", "actions"), [
    ("AuthorizerFunction", {"dynamodb:GetItem"}),
    ("RedemptionFunction", {"dynamodb:GetItem", "dynamodb:Query"}),
    ("AccrualFunction", {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem",
                         "dynamodb:PutItem", "dynamodb:UpdateItem",
                         "dynamodb:ConditionCheckItem"}),
    ("AdminFunction", {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem",
                       "dynamodb:ConditionCheckItem"}),
    ("ReviewFunction", {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query",
                        "dynamodb:PutItem", "dynamodb:UpdateItem",
                        "dynamodb:ConditionCheckItem"}),
    ("ExpiryFunction", {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem",
                        "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem",
                        "events:PutEvents"}),
])
def test_each_function_has_only_the_permissions_it_uses(function: str, actions: set[str]) -> None:
    statements = [s for policy in RESOURCES[function]["Properties"]["Policies"]
                  for s in policy["Statement"]]
    granted = {action for s in statements for action in s["Action"]}
    assert granted == actions
    # No function may delete anything: ledger entries are never updated or deleted.
    assert not any("Delete" in action for action in granted)


def test_every_route_goes_through_the_key_authorizer() -> None:
    api = RESOURCES["CashbackApi"]["Properties"]
    assert api["Auth"]["DefaultAuthorizer"] == "KeyAuthorizer"
    routes = TEMPLATE.api_routes()
    assert {(r.method, r.path) for r in routes} == {
        ("POST", "/v1/purchases"), ("POST", "/v1/refunds"),
        ("GET", "/v1/customers/{customer_id}/balance"),
        ("GET", "/v1/customers/{customer_id}/entries"),
        ("PUT", "/v1/rules"), ("GET", "/v1/rules"), ("GET", "/v1/rules/{version}"),
        ("GET", "/v1/reviews"), ("GET", "/v1/reviews/{order_id}"),
        ("POST", "/v1/reviews/{order_id}/decision"),
    }
    assert all(r.authorized for r in routes)


def test_lifecycle_job_runs_hourly_with_the_scheduled_time_and_a_dead_letter_queue() -> None:
    job = RESOURCES["ExpiryFunction"]["Properties"]
    schedule = job["Events"]["Hourly"]
    assert schedule["Type"] == "ScheduleV2"
    assert schedule["Properties"]["ScheduleExpression"] == "rate(1 hour)"
    assert "<aws.scheduler.scheduled-time>" in schedule["Properties"]["Input"]
    assert schedule["Properties"]["DeadLetterConfig"]["Type"] == "SQS"
    assert job["ReservedConcurrentExecutions"] == 1
    names = {metric["MetricName"] for alarm in ALARMS.values() for metric in _watched(alarm)}
    assert names >= {"Errors", "LifecycleFailures"}


def test_due_index_is_defined_in_the_template() -> None:
    params = TEMPLATE.table_create_params(table_name="t1")
    assert [i["IndexName"] for i in params["GlobalSecondaryIndexes"]] == ["due", "queue"]


def test_the_model_ships_as_its_own_layer_on_the_accrual_function() -> None:
    layer = RESOURCES["ModelLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == "layers/model/python/"
    assert layer["Properties"]["RetentionPolicy"] == "Retain"  # roll back to an old model
    assert {"Ref": "ModelLayer"} in RESOURCES["AccrualFunction"]["Properties"]["Layers"]
