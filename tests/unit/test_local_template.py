"""The local runner reads template.yaml: table, functions, routes, authorizer, responses."""

import json
import re
from pathlib import Path

import pytest

from cashback_tools.local.template import Route, Template, TemplateError, UsagePlan, load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")


def test_table_params_come_from_the_ledger_table() -> None:
    params = TEMPLATE.table_create_params(table_name="cashback-test")

    assert params["TableName"] == "cashback-test"
    assert params["BillingMode"] == "PAY_PER_REQUEST"
    assert params["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    attributes = {a["AttributeName"]: a["AttributeType"] for a in params["AttributeDefinitions"]}
    assert attributes == {
        "pk": "S",
        "sk": "S",
        "due_bucket": "S",
        "due_at": "S",
        "queue_pk": "S",
        "queue_sk": "S",
        "live_sk": "S",
        "age_sk": "S",
        "amount_sk": "S",
    }
    (live,) = params["LocalSecondaryIndexes"]
    assert live == {
        "IndexName": "live",
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "live_sk", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }
    (due,) = [i for i in params["GlobalSecondaryIndexes"] if i["IndexName"] == "due"]
    assert due == {
        "IndexName": "due",
        "KeySchema": [
            {"AttributeName": "due_bucket", "KeyType": "HASH"},
            {"AttributeName": "due_at", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }
    allowed = {
        "TableName",
        "AttributeDefinitions",
        "KeySchema",
        "BillingMode",
        "GlobalSecondaryIndexes",
        "LocalSecondaryIndexes",
        "StreamSpecification",
    }
    assert set(params) <= allowed


def test_functions_resolve_code_handler_limits_and_environment() -> None:
    functions = TEMPLATE.functions({"LedgerTable": "cashback-local"})

    assert {"AuthorizerFunction", "AccrualFunction", "RedemptionFunction"} <= set(functions)
    for logical_id, job in [
        ("AuthorizerFunction", "authorizer"),
        ("AccrualFunction", "accrual"),
        ("RedemptionFunction", "redemption"),
    ]:
        spec = functions[logical_id]
        assert spec.code_dir == ROOT / "functions" / job
        assert spec.module_file == ROOT / "functions" / job / "app.py"
        assert spec.handler_name == "lambda_handler"
        assert spec.environment["TABLE_NAME"] == "cashback-local"
        assert spec.environment["POWERTOOLS_LOG_LEVEL"] == "INFO"  # the parameter's Default
        assert spec.environment["POWERTOOLS_LOGGER_LOG_EVENT"] == "false"
    assert (functions["AuthorizerFunction"].timeout, functions["AuthorizerFunction"].memory) == (
        5,
        256,
    )
    assert (functions["AccrualFunction"].timeout, functions["AccrualFunction"].memory) == (10, 512)


def test_unresolvable_references_are_dropped() -> None:
    functions = TEMPLATE.functions()  # no value for !Ref LedgerTable

    assert "TABLE_NAME" not in functions["AccrualFunction"].environment
    assert functions["AccrualFunction"].environment["POWERTOOLS_SERVICE_NAME"] == "cashback"


def test_routes_and_their_authorizer() -> None:
    routes = set(TEMPLATE.api_routes())

    assert {
        Route("POST", "/v1/purchases", "AccrualFunction", True, True),
        Route("POST", "/v1/refunds", "AccrualFunction", True, True),
        Route("GET", "/v1/customers/{customer_id}/balance", "RedemptionFunction", True, True),
        Route("GET", "/v1/customers/{customer_id}/entries", "RedemptionFunction", True, True),
    } <= routes
    authorizer = TEMPLATE.authorizer()
    assert authorizer is not None
    assert authorizer.function == "AuthorizerFunction"
    assert authorizer.header == "Authorization"
    assert authorizer.validation_expression is not None
    assert re.fullmatch(authorizer.validation_expression, "Bearer abc_DEF-123")
    assert not re.fullmatch(authorizer.validation_expression, "Basic abc")


def test_stage_and_gateway_responses() -> None:
    assert TEMPLATE.stage_name == "live"
    responses = TEMPLATE.gateway_responses()
    status, body = responses["UNAUTHORIZED"]
    assert status == 401
    assert json.loads(body)["code"] == "unauthorized"
    assert responses["ACCESS_DENIED"][0] == 403
    assert responses["THROTTLED"][0] == 429
    for kind, customised in responses.items():
        assert TEMPLATE.gateway_response(kind) == customised
    assert TEMPLATE.gateway_response_headers("THROTTLED") == [("Retry-After", "1")]
    assert TEMPLATE.gateway_response_headers("UNAUTHORIZED") == []


def test_the_tenants_usage_plan_and_where_keys_come_from() -> None:
    parameters = TEMPLATE.document["Parameters"]
    [plan] = TEMPLATE.usage_plans()
    assert plan == UsagePlan(
        "TenantUsagePlan",
        rate=float(parameters["TenantRateLimit"]["Default"]),
        burst=int(parameters["TenantBurstLimit"]["Default"]),
    )
    assert TEMPLATE.api_key_source == "AUTHORIZER"
    # Every route a key can call needs the key; the one route without the authorizer (a
    # payout provider's signed callbacks) needs none: the signature stands in for it.
    routes = TEMPLATE.api_routes()
    assert all(route.api_key_required for route in routes if route.authorized)
    unkeyed = {(r.method, r.path) for r in routes if not r.authorized}
    assert unkeyed == {("POST", "/v1/providers/{name}/events")}
    assert not any(r.api_key_required for r in routes if not r.authorized)


FIXTURE = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev}
  Color: {Type: String, Default: blue}
Globals:
  Function:
    Handler: app.handler
    Environment:
      Variables:
        COLOR: !Ref Color
        URL: !Sub "https://${Api}.execute-api.${AWS::Region}.amazonaws.com/${Stage}"
        LITERAL: !Sub "${!NotAVariable}"
        ARN: !GetAtt Table.Arn
        JOINED: !Join ["-", [!Ref Color, "x"]]
        FLAG: true
        UNKNOWN: !If [IsProd, "a", "b"]
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PROVISIONED
      ProvisionedThroughput: {ReadCapacityUnits: 1, WriteCapacityUnits: 1}
      AttributeDefinitions:
        - {AttributeName: id, AttributeType: S}
        - {AttributeName: at, AttributeType: N}
      KeySchema:
        - {AttributeName: id, KeyType: HASH}
      LocalSecondaryIndexes:
        - IndexName: by_at
          KeySchema:
            - {AttributeName: id, KeyType: HASH}
            - {AttributeName: at, KeyType: RANGE}
          Projection: {ProjectionType: KEYS_ONLY}
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: !Ref Stage
      GatewayResponses:
        DEFAULT_4XX:
          ResponseTemplates:
            application/json: '{"error": $context.error.messageString}'
  One:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/one
      Handler: pkg.main.run
      Timeout: 30
      Environment:
        Variables:
          COLOR: red
      Events:
        Open:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: "/open/{proxy+}", Method: any}
        Tick:
          Type: Schedule
          Properties: {Schedule: rate(1 hour)}
  Two:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ./two/
"""


@pytest.fixture
def fixture_template(tmp_path: Path) -> Template:
    path = tmp_path / "template.yaml"
    path.write_text(FIXTURE, encoding="utf-8")
    return load_template(path)


def test_short_tags_and_resolution(fixture_template: Template) -> None:
    functions = fixture_template.functions({"Api": "abc123", "Stage": "prod"})
    env = functions["Two"].environment

    assert env["COLOR"] == "blue"
    assert functions["One"].environment["COLOR"] == "red"  # the function's own value wins
    assert env["URL"] == "https://abc123.execute-api.us-east-1.amazonaws.com/prod"
    assert env["LITERAL"] == "${NotAVariable}"
    assert env["JOINED"] == "blue-x"
    assert env["FLAG"] == "true"
    assert "ARN" not in env and "UNKNOWN" not in env
    assert fixture_template.functions({"Table.Arn": "arn:t"})["Two"].environment["ARN"] == "arn:t"
    assert fixture_template.document["Globals"]["Function"]["Environment"]["Variables"][
        "UNKNOWN"
    ] == {"Fn::If": ["IsProd", "a", "b"]}


def test_handler_paths_and_defaults(fixture_template: Template, tmp_path: Path) -> None:
    one = fixture_template.functions()["One"]
    two = fixture_template.functions()["Two"]

    assert one.module_file == tmp_path / "src" / "one" / "pkg" / "main.py"
    assert one.handler_name == "run"
    assert one.timeout == 30
    assert two.module_file == tmp_path / "two" / "app.py"  # Globals' Handler
    assert (two.timeout, two.memory) == (3, 128)  # Lambda's own defaults


def test_fixture_table_routes_and_responses(fixture_template: Template) -> None:
    params = fixture_template.table_create_params("Table", table_name="t")

    assert params["BillingMode"] == "PAY_PER_REQUEST"
    assert "ProvisionedThroughput" not in params
    assert params["LocalSecondaryIndexes"][0]["IndexName"] == "by_at"
    assert params["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert fixture_template.api_routes() == [Route("ANY", "/open/{proxy+}", "One", False)]
    assert fixture_template.authorizer() is None
    assert fixture_template.stage_name == "dev"
    # Types the template does not customise fall back to DEFAULT_4XX's body.
    assert fixture_template.gateway_response("UNAUTHORIZED") == (
        401,
        '{"error": $context.error.messageString}',
    )
    # Neither the type nor DEFAULT_5XX is customised: API Gateway's built-in response.
    assert fixture_template.gateway_response("AUTHORIZER_FAILURE") == (
        500,
        '{"message":$context.error.messageString}',
    )
    with pytest.raises(TemplateError):
        fixture_template.table_create_params("Api", table_name="t")
