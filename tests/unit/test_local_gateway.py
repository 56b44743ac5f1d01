"""The local runner's pure parts: routing, policies, authorizer answers, store errors.

Everything that needs a socket is in tests/integration/test_local_gateway.py."""

from pathlib import Path

import pytest

from cashback_tools.local import authorizer, gateway, proxy_integration
from cashback_tools.local.dynamodb_local import (
    DynamoDBLocal,
    DynamoDBLocalNotInstalled,
    JavaNotFound,
    start_store,
)
from cashback_tools.local.template import Route, UsagePlan, load_template
from cashback_tools.local.throttle import Throttle

LIVE = "arn:aws:execute-api:*:*:local/live"
ARN = "arn:aws:execute-api:us-east-1:000000000000:local/live/GET/v1/customers/c1/balance"


def policy(*statements: tuple[str, str | list[str]]) -> dict[str, object]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}
            for effect, resource in statements
        ],
    }


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (policy(("Allow", ARN)), "Allow"),
        (policy(("Allow", LIVE + "/GET/v1/customers/*")), "Allow"),
        (
            policy(("Allow", LIVE + "/GET/v1/customers/*/balance")),
            "Allow",
        ),
        (policy(("Allow", LIVE + "/???/v1/customers/*")), "Allow"),
        (policy(("Allow", LIVE + "/POST/*")), None),
        (policy(("Allow", ["x", "*"]), ("Deny", "*/GET/v1/customers/*")), "Deny"),
        (policy(("Deny", "nothing-like-it"), ("Allow", "*")), "Allow"),
        ({"Statement": {"Action": "EXECUTE-API:*", "Effect": "Allow", "Resource": "*"}}, "Allow"),
        ({"Statement": [{"Action": "s3:*", "Effect": "Allow", "Resource": "*"}]}, None),
        ({}, None),
    ],
)
def test_policy_effect(document: dict[str, object], expected: str | None) -> None:
    assert authorizer._policy_effect(document, ARN) == expected


def test_authorizer_context_is_stringified_or_rejected() -> None:
    answer = {"principalId": "k1", "policyDocument": {}, "context": {"a": True, "n": 2, "s": "x"}}

    assert authorizer._authorizer_context(answer) == {"a": "true", "n": "2", "s": "x"}
    assert authorizer._authorizer_context({**answer, "context": {"nested": {"x": 1}}}) is None
    assert authorizer._authorizer_context({**answer, "context": {"list": [1]}}) is None
    assert authorizer._authorizer_context({"policyDocument": {}}) is None
    assert authorizer._authorizer_context({"principalId": "k1"}) is None
    assert authorizer._authorizer_context("Allow") is None


def test_route_patterns() -> None:
    item = gateway._compile(Route("GET", "/v1/customers/{customer_id}/balance", "F", True))
    greedy = gateway._compile(Route("ANY", "/files/{path+}", "F", True))
    root = gateway._compile(Route("GET", "/", "F", True))

    assert item.pattern.fullmatch("/v1/customers/c%2F1/balance")
    assert not item.pattern.fullmatch("/v1/customers/a/b/balance")  # never spans a '/'
    assert not item.pattern.fullmatch("/v1/customers//balance")
    assert item.names == ("customer_id",)
    assert greedy.pattern.fullmatch("/files/a/b/c")
    assert root.pattern.fullmatch("/")
    # A literal segment outranks {param}, which outranks {greedy+}.
    assert item.rank == (0, 0, 1, 0)
    assert greedy.rank == (0, 2)


def test_proxy_reply_merges_headers_and_rejects_malformed_results() -> None:
    reply = proxy_integration.proxy_reply(
        {
            "statusCode": 204,
            "headers": {"A": "1", "B": 2, "Content-Length": "999"},
            "multiValueHeaders": {"B": ["x", "y"]},
        },
        "rid",
    )

    assert reply.status == 204
    assert reply.body == b""
    assert ("A", "1") in reply.headers
    assert [value for name, value in reply.headers if name == "B"] == ["x", "y"]
    assert not any(name == "Content-Length" for name, _ in reply.headers)
    for malformed in [None, {}, {"statusCode": "abc"}, {"statusCode": 200, "body": {"a": 1}}]:
        assert proxy_integration.proxy_reply(malformed, "rid").status == 502


def test_store_errors_say_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(DynamoDBLocalNotInstalled, match="make setup"):
        DynamoDBLocal(tmp_path).start()
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(JavaNotFound, match="--store memory"):
        DynamoDBLocal(tmp_path).start()
    with pytest.raises(ValueError, match="unknown store"):
        start_store("sqlite", tmp_path)  # type: ignore[arg-type]


def test_a_token_bucket_per_key_allows_the_burst_then_refills_at_the_rate() -> None:
    now = [100.0]
    throttle = Throttle(UsagePlan("Plan", rate=2.0, burst=3), clock=lambda: now[0])

    assert [throttle.take("a") for _ in range(3)] == [None, None, None]
    assert throttle.take("a") == pytest.approx(0.5)  # one token comes back in 1/rate s
    assert throttle.take("b") is None  # another key has its own bucket
    now[0] += 0.5
    assert throttle.take("a") is None
    assert throttle.take("a") is not None
    now[0] += 60  # refills up to the burst, never beyond
    assert [throttle.take("a") for _ in range(4)][-1] is not None


def test_the_gateway_throttles_as_the_templates_usage_plan_says_unless_told_not_to() -> None:
    template = load_template(Path(__file__).resolve().parents[2] / "template.yaml")
    default = gateway.LocalGateway(template, {})
    assert default.throttle is not None
    assert default.throttle.plan == template.usage_plans()[0]
    assert gateway.LocalGateway(template, {}, throttling=False).throttle is None
