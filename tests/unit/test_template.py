"""template.yaml is what gets deployed: it must lint clean and keep its promises."""

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cashback_tools.local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES = TEMPLATE.document["Resources"]
ALARMS = {
    name: r["Properties"] for name, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"
}


def _watched(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics an alarm reads: its own, or those of its metric math."""
    if "MetricName" in alarm:
        return [{key: alarm.get(key) for key in ("Namespace", "MetricName", "Dimensions")}]
    return [query["MetricStat"]["Metric"] for query in alarm["Metrics"] if "MetricStat" in query]


def test_template_passes_cfn_lint() -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(
        [str(cfn_lint), str(ROOT / "template.yaml")], capture_output=True, text=True, check=False
    )
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
    functions = {name for name, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}
    assert functions == {
        "AuthorizerFunction",
        "AccrualFunction",
        "RedemptionFunction",
        "PayoutFunction",
        "ExpiryFunction",
        "AdminFunction",
        "ReviewFunction",
        "ConsoleFunction",
        "ReportsFunction",
    }


TABLE, BUS = "table", "bus"


def _grants(function: str) -> set[tuple[str, str]]:
    """(action, resource) pairs a function's policy statements allow; resources named
    `table`, `index/<name>` or `bus`."""
    statements = [
        s for policy in RESOURCES[function]["Properties"]["Policies"] for s in policy["Statement"]
    ]
    assert all(s["Effect"] == "Allow" for s in statements)
    grants = set()
    for statement in statements:
        actions = statement["Action"]
        resources = statement["Resource"]
        for action in [actions] if isinstance(actions, str) else actions:
            for resource in resources if isinstance(resources, list) else [resources]:
                grants.add((action, _resource_name(resource)))
    return grants


def _resource_name(resource: object) -> str:
    if resource == {"Fn::GetAtt": ["LedgerTable", "Arn"]}:
        return TABLE
    if resource == {"Fn::GetAtt": ["CashbackEventBus", "Arn"]}:
        return BUS
    if isinstance(resource, dict) and isinstance(resource.get("Fn::Sub"), str):
        prefix = "${LedgerTable.Arn}/"
        text = resource["Fn::Sub"]
        assert text.startswith(prefix), text
        return text.removeprefix(prefix)
    raise AssertionError(f"unexpected resource {resource!r}")


def _on(resource: str, *actions: str) -> set[tuple[str, str]]:
    return {(f"dynamodb:{action}", resource) for action in actions}


# Exactly what each handler's code path calls (see the README's "IAM" section): Store
# methods map to GetItem, BatchGetItem, Query (table or index), PutItem / UpdateItem
# (alone or inside TransactWriteItems). Nothing deletes, nothing condition-checks alone.
@pytest.mark.parametrize(
    ("function", "grants"),
    [
        ("AuthorizerFunction", _on(TABLE, "GetItem")),
        # index/live: a customer's lots that still hold cashback (balances, refunds, cases).
        # index/due: the every-minute sweep finds expired checkout holds (HOLD# buckets).
        (
            "RedemptionFunction",
            _on(TABLE, "GetItem", "Query", "BatchGetItem", "PutItem", "UpdateItem")
            | _on("index/live", "Query")
            | _on("index/due", "Query"),
        ),
        (
            "AccrualFunction",
            _on(TABLE, "GetItem", "Query", "BatchGetItem", "PutItem", "UpdateItem")
            | _on("index/live", "Query"),
        ),
        # index/due: the job finds requested and late payouts (PAYOUT# buckets); the bus:
        # payout.<status> events.
        (
            "PayoutFunction",
            _on(TABLE, "GetItem", "Query", "BatchGetItem", "PutItem", "UpdateItem")
            | _on("index/live", "Query")
            | _on("index/due", "Query")
            | {("events:PutEvents", BUS)},
        ),
        # UpdateItem: publishing a version that changes a campaign's budget resizes its shards.
        ("AdminFunction", _on(TABLE, "GetItem", "Query", "PutItem", "UpdateItem")),
        (
            "ReviewFunction",
            _on(TABLE, "GetItem", "BatchGetItem", "Query", "PutItem", "UpdateItem")
            | _on("index/queue", "Query")
            | _on("index/queue_age", "Query")
            | _on("index/queue_amount", "Query")
            | _on("index/live", "Query"),
        ),
        (
            "ExpiryFunction",
            _on(TABLE, "GetItem", "PutItem", "UpdateItem")
            | _on("index/due", "Query")
            | {("events:PutEvents", BUS)},
        ),
    ],
)
def test_each_function_has_only_the_permissions_it_uses(
    function: str, grants: set[tuple[str, str]]
) -> None:
    assert _grants(function) == grants
    # No function may delete anything: ledger entries are never updated or deleted.
    assert not any("Delete" in action for action, _ in grants)


def test_every_route_goes_through_the_key_authorizer() -> None:
    api = RESOURCES["CashbackApi"]["Properties"]
    assert api["Auth"]["DefaultAuthorizer"] == "KeyAuthorizer"
    routes = TEMPLATE.api_routes()
    assert {(r.method, r.path) for r in routes} == {
        ("POST", "/v1/purchases"),
        ("POST", "/v1/refunds"),
        ("POST", "/v1/redemptions"),
        ("GET", "/v1/redemptions/{redemption_id}"),
        ("POST", "/v1/redemptions/{redemption_id}/capture"),
        ("POST", "/v1/redemptions/{redemption_id}/cancel"),
        ("POST", "/v1/redemptions/{redemption_id}/reversals"),
        ("GET", "/v1/customers/{customer_id}/balance"),
        ("GET", "/v1/customers/{customer_id}/entries"),
        ("PUT", "/v1/rules"),
        ("GET", "/v1/rules"),
        ("GET", "/v1/rules/{version}"),
        ("GET", "/v1/reviews"),
        ("GET", "/v1/reviews/{order_id}"),
        ("POST", "/v1/reviews/{order_id}/decision"),
        ("POST", "/v1/reviews/{order_id}/claim"),
        ("POST", "/v1/reviews/{order_id}/notes"),
        ("GET", "/v1/review-stats"),
        ("GET", "/v1/risk/settings"),
        ("PUT", "/v1/risk/settings"),
        ("POST", "/v1/risk/backtest"),
        ("GET", "/v1/lists"),
        ("GET", "/v1/lists/audit"),
        ("PUT", "/v1/lists/{kind}/{value}"),
        ("DELETE", "/v1/lists/{kind}/{value}"),
        ("POST", "/v1/payouts"),
        ("GET", "/v1/payouts/{payout_id}"),
        ("POST", "/v1/payouts/{payout_id}/cancel"),
        ("POST", "/v1/providers/{name}/events"),
        ("GET", "/console"),
        ("GET", "/console/{path+}"),
    }
    # All but the payout providers' callbacks, which are verified by their signature, and
    # the console's static files (no data: every call the page makes carries a key).
    unauthorized = {(r.method, r.path) for r in routes if not r.authorized}
    assert unauthorized == {
        ("POST", "/v1/providers/{name}/events"),
        ("GET", "/console"),
        ("GET", "/console/{path+}"),
    }


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
    assert [i["IndexName"] for i in params["GlobalSecondaryIndexes"]] == [
        "due",
        "queue",
        "queue_age",
        "queue_amount",
    ]


def test_the_model_ships_as_its_own_layer_on_the_accrual_function() -> None:
    layer = RESOURCES["ModelLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == "layers/model/python/"
    assert layer["Properties"]["RetentionPolicy"] == "Retain"  # roll back to an old model
    assert {"Ref": "ModelLayer"} in RESOURCES["AccrualFunction"]["Properties"]["Layers"]


def test_each_tenant_is_throttled_by_its_own_usage_plan_key() -> None:
    api = RESOURCES["CashbackApi"]["Properties"]
    assert api["ApiKeySourceType"] == "AUTHORIZER"
    assert api["Auth"]["ApiKeyRequired"] is True
    plan = RESOURCES["TenantUsagePlan"]
    assert plan["Type"] == "AWS::ApiGateway::UsagePlan"
    assert plan["Properties"]["ApiStages"] == [
        {"ApiId": {"Ref": "CashbackApi"}, "Stage": {"Ref": "CashbackApi.Stage"}}
    ]
    assert plan["Properties"]["Throttle"] == {
        "RateLimit": {"Ref": "TenantRateLimit"},
        "BurstLimit": {"Ref": "TenantBurstLimit"},
    }
    throttled = api["GatewayResponses"]["THROTTLED"]
    assert throttled["StatusCode"] == 429
    assert throttled["ResponseParameters"]["Headers"]["Retry-After"] == "'1'"
    assert TEMPLATE.document["Outputs"]["TenantUsagePlanId"]["Value"] == {"Ref": "TenantUsagePlan"}
