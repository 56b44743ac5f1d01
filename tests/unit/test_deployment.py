"""Operable once deployed: stages, canaries, logs and alarms that reach someone."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest

from cashback_tools.local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
DOCUMENT = TEMPLATE.document
RESOURCES = DOCUMENT["Resources"]
PARAMETERS = DOCUMENT["Parameters"]
FUNCTIONS = {
    name: r["Properties"]
    for name, r in RESOURCES.items()
    if r["Type"] == "AWS::Serverless::Function"
}
API_FUNCTIONS = {
    name
    for name, props in FUNCTIONS.items()
    if any(e["Type"] == "Api" for e in (props.get("Events") or {}).values())
}
ALARMS = {
    name: r["Properties"] for name, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"
}
SAMCONFIG = tomllib.loads((ROOT / "samconfig.toml").read_text())


def _watched(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    if "MetricName" in alarm:
        return [{key: alarm.get(key) for key in ("Namespace", "MetricName", "Dimensions")}]
    return [query["MetricStat"]["Metric"] for query in alarm["Metrics"] if "MetricStat" in query]


def _dimensions(metric: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in metric.get("Dimensions") or []}


def _errors_alarm_of(function: str) -> str:
    (name,) = [
        name
        for name, alarm in ALARMS.items()
        if any(
            m["Namespace"] == "AWS/Lambda"
            and m["MetricName"] == "Errors"
            and _dimensions(m) == {"FunctionName": {"Ref": function}}
            for m in _watched(alarm)
        )
    ]
    return name


def test_every_alarm_notifies_the_alarm_topic() -> None:
    assert len(ALARMS) >= 9
    for name, alarm in ALARMS.items():
        assert {"Ref": "AlarmTopic"} in alarm.get("AlarmActions", []), name
        assert {"Ref": "AlarmTopic"} in alarm.get("OKActions", []), name
    assert RESOURCES["AlarmTopic"]["Type"] == "AWS::SNS::Topic"


def test_the_alarm_email_is_subscribed_only_when_given() -> None:
    subscription = RESOURCES["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert subscription["Properties"]["TopicArn"] == {"Ref": "AlarmTopic"}
    assert DOCUMENT["Conditions"]["HasAlarmEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]
    }
    assert PARAMETERS["AlarmEmail"]["Default"] == ""
    pattern = re.compile(PARAMETERS["AlarmEmail"]["AllowedPattern"])
    assert pattern.fullmatch("") and pattern.fullmatch("oncall@example.com")
    assert not pattern.fullmatch("oncall")


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_function_has_an_errors_alarm(function: str) -> None:
    alarm = ALARMS[_errors_alarm_of(function)]
    assert alarm["Threshold"] == 1
    assert alarm["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize("function", sorted(API_FUNCTIONS))
def test_api_functions_errors_alarms_also_count_the_500s_they_answer(function: str) -> None:
    # The resolver turns an unexpected exception into a 500 reply, which Lambda does not
    # count as an error: the alarm adds the InternalErrors metric the handler emits.
    alarm = ALARMS[_errors_alarm_of(function)]
    internal = [m for m in _watched(alarm) if m["MetricName"] == "InternalErrors"]
    assert internal and _dimensions(internal[0]) == {
        "service": "cashback",
        "function": {"Ref": function},
    }
    (expression,) = [q["Expression"] for q in alarm["Metrics"] if q.get("ReturnData")]
    assert "+" in expression


def test_the_authorizers_alarm_does_not_count_refused_keys() -> None:
    alarm = ALARMS[_errors_alarm_of("AuthorizerFunction")]
    assert "KeysRefused" in {m["MetricName"] for m in _watched(alarm)}
    (expression,) = [q["Expression"] for q in alarm["Metrics"] if q.get("ReturnData")]
    assert "-" in expression


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_function_logs_to_a_group_with_retention(function: str) -> None:
    group = FUNCTIONS[function]["LoggingConfig"]["LogGroup"]["Ref"]
    log_group = RESOURCES[group]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert function in log_group["Properties"]["LogGroupName"]["Fn::Sub"]


def test_log_groups_are_one_per_function() -> None:
    groups = [props["LoggingConfig"]["LogGroup"]["Ref"] for props in FUNCTIONS.values()]
    assert len(set(groups)) == len(FUNCTIONS)


def test_api_functions_roll_out_as_a_canary_watched_by_their_errors_alarm() -> None:
    canaried = {
        "AccrualFunction",
        "RedemptionFunction",
        "PayoutFunction",
        "ReviewFunction",
        "AdminFunction",
        "ConsoleFunction",
        "ReportsFunction",
    }
    assert canaried == API_FUNCTIONS
    for function in API_FUNCTIONS:
        props = FUNCTIONS[function]
        assert props["AutoPublishAlias"] == "live"
        preference = props["DeploymentPreference"]
        assert preference["Type"] == {"Ref": "DeploymentType"}
        assert preference["Alarms"] == [{"Ref": _errors_alarm_of(function)}]
    assert PARAMETERS["DeploymentType"]["Default"] == "Canary10Percent5Minutes"


def test_the_authorizer_and_the_job_are_not_canaried() -> None:
    # The authorizer's Errors count every refused key, and API Gateway caches its answers
    # per key: a canary could neither judge it nor split its traffic. Its FunctionArn stays
    # the function's (a change takes effect at once); the API 5XX alarm watches it.
    for function in ("AuthorizerFunction", "ExpiryFunction"):
        assert "DeploymentPreference" not in FUNCTIONS[function]
    authorizer = RESOURCES["CashbackApi"]["Properties"]["Auth"]["Authorizers"]["KeyAuthorizer"]
    assert authorizer["FunctionArn"] == {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]}


def test_the_api_writes_json_access_logs_with_the_tenant() -> None:
    api = RESOURCES["CashbackApi"]["Properties"]
    setting = api["AccessLogSetting"]
    group = setting["DestinationArn"]["Fn::GetAtt"]
    assert group[1] == "Arn"
    assert RESOURCES[group[0]]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    fields = json.loads(setting["Format"])  # one JSON object per line
    assert "\n" not in setting["Format"]
    assert {"requestId", "ip", "tenant", "route", "status", "latencyMs"} <= set(fields)
    assert fields["tenant"] == "$context.authorizer.tenant"
    assert fields["ip"] == "$context.identity.sourceIp"
    assert fields["requestId"] == "$context.requestId"
    assert fields["status"] == "$context.status"


def test_stage_wide_throttling_comes_from_parameters() -> None:
    (settings,) = RESOURCES["CashbackApi"]["Properties"]["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}
    assert (
        PARAMETERS["ApiThrottlingRateLimit"]["Default"],
        PARAMETERS["ApiThrottlingBurstLimit"]["Default"],
    ) == (100, 200)


def test_api_5xx_alarm_watches_this_api_and_stage() -> None:
    (alarm,) = [a for a in ALARMS.values() if a.get("MetricName") == "5XXError"]
    assert alarm["Namespace"] == "AWS/ApiGateway"
    assert _dimensions(alarm) == {
        "ApiName": RESOURCES["CashbackApi"]["Properties"]["Name"],
        "Stage": {"Ref": "StageName"},
    }


def test_dead_letter_queue_depth_is_alarmed() -> None:
    schedule = FUNCTIONS["ExpiryFunction"]["Events"]["Hourly"]
    # SAM names the queue it creates <Function><Event>Queue unless QueueLogicalId says.
    assert "QueueLogicalId" not in schedule["Properties"]["DeadLetterConfig"]
    alarms = [
        a for a in ALARMS.values() if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
    ]
    assert all(alarm["Namespace"] == "AWS/SQS" for alarm in alarms)
    # The lifecycle schedule's queue, and the one the stream's consumer gives up batches to.
    assert sorted(_dimensions(alarm)["QueueName"]["Fn::GetAtt"][0] for alarm in alarms) == [
        "ExpiryFunctionHourlyQueue",
        "ReportsDeadLetterQueue",
    ]
    stream = FUNCTIONS["ReportsFunction"]["Events"]["LedgerStream"]["Properties"]
    assert stream["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["ReportsDeadLetterQueue", "Arn"]
    }


def test_lifecycle_failures_alarm_matches_what_the_job_emits() -> None:
    (alarm,) = [a for a in ALARMS.values() if a.get("MetricName") == "LifecycleFailures"]
    assert (
        alarm["Namespace"]
        == DOCUMENT["Globals"]["Function"]["Environment"]["Variables"][
            "POWERTOOLS_METRICS_NAMESPACE"
        ]
    )
    assert _dimensions(alarm) == {"service": "cashback"}


# ---- samconfig.toml ----


def _overrides(stage: str) -> dict[str, str]:
    text = SAMCONFIG[stage]["deploy"]["parameters"]["parameter_overrides"]
    return dict(pair.split("=", 1) for pair in shlex.split(text))


@pytest.mark.parametrize("stage", ["default", "staging", "prod"])
def test_each_stage_deploys_a_stack_of_its_own(stage: str) -> None:
    deploy = SAMCONFIG[stage]["deploy"]["parameters"]
    assert deploy["stack_name"] == f"cashback-{'dev' if stage == 'default' else stage}"
    assert deploy["region"]
    assert "CAPABILITY_IAM" in deploy["capabilities"]
    assert deploy["resolve_s3"] is True
    for name, value in _overrides(stage).items():
        spec = PARAMETERS[name]  # every override names a template parameter
        if "AllowedValues" in spec:
            assert value in [str(v) for v in spec["AllowedValues"]], (name, value)
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], value), (name, value)
        if "MinValue" in spec:
            assert int(value) >= spec["MinValue"], (name, value)


def test_prod_asks_before_it_changes_and_rolls_out_as_a_canary() -> None:
    assert SAMCONFIG["prod"]["deploy"]["parameters"]["confirm_changeset"] is True
    assert _overrides("prod")["DeploymentType"].startswith("Canary")
    assert _overrides("prod")["AlarmEmail"]
    assert (
        len(
            {
                SAMCONFIG[s]["deploy"]["parameters"]["stack_name"]
                for s in ("default", "staging", "prod")
            }
        )
        == 3
    )
