"""The local runner over real sockets: API Gateway's behaviour, Lambda's Invoke API, the stores."""

import base64
import json
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel
from botocore.config import Config

from cashback_tools.local.dynamodb_local import DynamoDBLocal, MotoDynamoDB
from cashback_tools.local.gateway import LocalGateway
from cashback_tools.local.template import load_template

pytestmark = [pytest.mark.integration, pytest.mark.enable_socket]

ROOT = Path(__file__).resolve().parents[2]

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  StageName: {Type: String, Default: test}
Globals:
  Function:
    Handler: app.lambda_handler
    Timeout: 3
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: !Ref StageName
      Auth:
        DefaultAuthorizer: Keys
        Authorizers:
          Keys:
            FunctionArn: !GetAtt AuthFunction.Arn
            Identity:
              Header: Authorization
              ValidationExpression: "^Bearer [a-z]+$"
      GatewayResponses:
        UNAUTHORIZED:
          StatusCode: 401
          ResponseTemplates:
            application/json: '{"code": "unauthorized", "request": "$context.requestId"}'
  AuthFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: auth/
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      MemorySize: 256
      Events:
        Item: {Type: Api, Properties: {RestApiId: !Ref Api, Path: "/items/{item_id}", Method: get}}
        Mine: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /items/mine, Method: get}}
        Create: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /items, Method: post}}
        Proxy: {Type: Api, Properties: {RestApiId: !Ref Api, Path: "/any/{proxy+}", Method: any}}
        Public:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /public
            Method: get
            Auth: {Authorizer: NONE}
  SlowFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: slow/
      Timeout: 1
"""

AUTHORIZER = """\
from pathlib import Path

REVOKED = Path(__file__).parent / "revoked"


def lambda_handler(event, context):
    token = event["authorizationToken"]
    if token == "Bearer bad" or (REVOKED.exists() and token in REVOKED.read_text()):
        raise Exception("Unauthorized")
    if token == "Bearer broken":
        raise RuntimeError("the key store is down")
    if token == "Bearer malformed":
        return {"principalId": "user-1", "context": {"nested": {"no": "objects"}}}
    resource = event["methodArn"]
    if token == "Bearer narrow":
        resource = resource.split("/")[0] + "/*/GET/items/*"
    effect = "Deny" if token == "Bearer denied" else "Allow"
    return {
        "principalId": "user-1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
        "context": {"tenant": "acme", "admin": False, "limit": 5},
    }
"""

ECHO = """\
import base64
import json
import os

GREETING_AT_IMPORT = os.environ.get("GREETING")


def lambda_handler(event, context):
    if "httpMethod" not in event:  # called through the Invoke API
        if event.get("fail"):
            raise ValueError("asked to fail")
        return {"received": event, "function": context.function_name}
    mode = (event["queryStringParameters"] or {}).get("mode")
    if mode == "boom":
        raise RuntimeError("boom")
    if mode == "malformed":
        return {"body": "no statusCode"}
    if mode == "binary":
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "application/octet-stream"},
            "body": base64.b64encode(bytes([0, 255, 1])).decode(),
            "isBase64Encoded": True,
        }
    context_seen = {
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
    }
    return {
        "statusCode": 201 if event["httpMethod"] == "POST" else 200,
        "headers": {"X-Echo": "yes", "Set-Cookie": "overridden=1"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": json.dumps(
            {"event": event, "context": context_seen, "greeting": GREETING_AT_IMPORT}
        ),
    }
"""

SLOW = """\
import time


def lambda_handler(event, context):
    time.sleep(1.2)
    return {"done": True}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    (root / "template.yaml").write_text(TEMPLATE, encoding="utf-8")
    for folder, source in [("auth", AUTHORIZER), ("echo", ECHO), ("slow", SLOW)]:
        (root / folder).mkdir()
        (root / folder / "app.py").write_text(source, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def gateway(project: Path) -> Iterator[LocalGateway]:
    before = os.environ.get("GREETING")
    with LocalGateway(load_template(project / "template.yaml"), {"GREETING": "hello"}) as gw:
        yield gw
    assert os.environ.get("GREETING") == before


def call(
    gateway: LocalGateway, method: str, path: str, token: str | None = "Bearer good", **kw: Any
) -> requests.Response:
    headers = kw.pop("headers", {})
    if token is not None:
        headers["Authorization"] = token
    return requests.request(method, gateway.url + path, headers=headers, timeout=10, **kw)


def echoed(response: requests.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    seen: dict[str, Any] = json.loads(response.text)
    return seen


def lambda_client(gateway: LocalGateway) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=gateway.url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"max_attempts": 1}, read_timeout=10),
    )


def test_event_is_shaped_like_api_gateway_rest_v1(gateway: LocalGateway) -> None:
    started = time.time()
    response = call(
        gateway,
        "GET",
        "/items/abc%20d?x=1&x=2&empty=&plus=a+b",
        headers={"X-Custom-Header": "v1"},
    )
    seen = echoed(response)
    event = seen["event"]

    assert event["resource"] == "/items/{item_id}"
    assert event["path"] == "/items/abc d"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"item_id": "abc d"}
    assert event["queryStringParameters"] == {"x": "2", "empty": "", "plus": "a b"}
    assert event["multiValueQueryStringParameters"] == {
        "x": ["1", "2"],
        "empty": [""],
        "plus": ["a b"],
    }
    assert event["headers"]["X-Custom-Header"] == "v1"  # names as the client sent them
    assert event["multiValueHeaders"]["X-Custom-Header"] == ["v1"]
    assert event["stageVariables"] is None
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["accountId"] == "000000000000"
    assert ctx["apiId"] == "local"
    assert ctx["stage"] == "test"
    assert ctx["resourcePath"] == "/items/{item_id}"
    assert ctx["httpMethod"] == "GET"
    assert ctx["path"] == "/test/items/abc d"
    assert uuid.UUID(ctx["requestId"])
    assert started * 1000 - 1000 <= ctx["requestTimeEpoch"] <= time.time() * 1000 + 1000
    assert ctx["identity"]["sourceIp"] == "127.0.0.1"
    assert ctx["protocol"] == "HTTP/1.1"
    assert ctx["authorizer"]["principalId"] == "user-1"
    # API Gateway hands the authorizer's context on with every value as a string.
    assert {k: ctx["authorizer"][k] for k in ("tenant", "admin", "limit")} == {
        "tenant": "acme",
        "admin": "false",
        "limit": "5",
    }
    APIGatewayProxyEventModel.model_validate(event)  # Powertools accepts it as a real event

    assert response.headers["X-Echo"] == "yes"
    assert response.headers["Content-Type"] == "application/json"
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert response.headers["x-amzn-RequestId"] == ctx["requestId"]


def test_handlers_get_a_lambda_context_and_the_environment(gateway: LocalGateway) -> None:
    seen = echoed(call(gateway, "GET", "/items/1"))
    context = seen["context"]

    assert seen["greeting"] == "hello"  # set before the handler module was imported
    # The functions' variables go to their workers only, never into the gateway's process.
    assert os.environ.get("GREETING") != "hello"
    assert context["function_name"] == "EchoFunction"
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == (
        "arn:aws:lambda:us-east-1:000000000000:function:EchoFunction"
    )
    assert context["memory_limit_in_mb"] == "256"
    assert uuid.UUID(context["aws_request_id"])
    assert context["log_group_name"] == "/aws/lambda/EchoFunction"
    assert context["log_stream_name"]
    assert 2000 < context["remaining"] <= 3000


def test_bodies_text_and_binary(gateway: LocalGateway) -> None:
    text = echoed(call(gateway, "POST", "/items", json={"name": "café"}))["event"]
    binary = echoed(call(gateway, "POST", "/items", data=b"\xff\x00\xfe"))["event"]
    chunked = echoed(call(gateway, "POST", "/items", data=iter([b"ab", b"cd"])))["event"]

    assert json.loads(text["body"]) == {"name": "café"}
    assert text["isBase64Encoded"] is False
    assert base64.b64decode(binary["body"]) == b"\xff\x00\xfe"
    assert binary["isBase64Encoded"] is True
    assert chunked["headers"]["Transfer-Encoding"] == "chunked"
    assert chunked["body"] == "abcd"
    response = call(gateway, "GET", "/items/1?mode=binary")
    assert response.content == bytes([0, 255, 1])
    assert response.headers["Content-Type"] == "application/octet-stream"


def test_routing(gateway: LocalGateway) -> None:
    mine = echoed(call(gateway, "GET", "/items/mine"))["event"]
    greedy = echoed(call(gateway, "PUT", "/any/a/b%2Fc/d"))["event"]
    public = echoed(call(gateway, "GET", "/public", token=None))["event"]

    assert mine["resource"] == "/items/mine"  # a literal segment beats {item_id}
    assert mine["pathParameters"] is None
    assert greedy["pathParameters"] == {"proxy": "a/b/c/d"}
    assert greedy["httpMethod"] == "PUT"
    assert "authorizer" not in public["requestContext"]  # Auth: {Authorizer: NONE}
    for method, path in [("GET", "/nowhere"), ("DELETE", "/items"), ("GET", "/items/a/b")]:
        response = call(gateway, method, path)
        assert response.status_code == 403
        assert response.json() == {"message": "Missing Authentication Token"}


def test_authorizer_rejections(gateway: LocalGateway) -> None:
    for token in (None, "", "Bearer BAD!", "Basic abc", "Bearer bad"):
        response = call(gateway, "GET", "/items/1", token=token)
        assert response.status_code == 401, token
        body = response.json()
        assert body["code"] == "unauthorized"
        assert body["request"] == response.headers["x-amzn-RequestId"]

    denied = call(gateway, "GET", "/items/1", token="Bearer denied")
    assert denied.status_code == 403
    assert "explicit deny" in denied.json()["message"]

    for token in ("Bearer broken", "Bearer malformed"):
        failed = call(gateway, "GET", "/items/1", token=token)
        assert failed.status_code == 500
        assert failed.json() == {"message": None}


def test_policy_wildcards(gateway: LocalGateway) -> None:
    assert call(gateway, "GET", "/items/42", token="Bearer narrow").status_code == 200
    refused = call(gateway, "POST", "/items", token="Bearer narrow", json={})
    assert refused.status_code == 403
    assert refused.json() == {"message": "User is not authorized to access this resource"}


def test_authorizer_results_are_not_cached(gateway: LocalGateway, project: Path) -> None:
    revoked = project / "auth" / "revoked"
    assert call(gateway, "GET", "/items/1", token="Bearer revokeme").status_code == 200
    revoked.write_text("Bearer revokeme", encoding="utf-8")
    try:
        assert call(gateway, "GET", "/items/1", token="Bearer revokeme").status_code == 401
    finally:
        revoked.unlink()


def test_handler_failures_are_502(gateway: LocalGateway, capfd: pytest.CaptureFixture[str]) -> None:
    for mode in ("boom", "malformed"):
        response = call(gateway, "GET", f"/items/1?mode={mode}")
        assert response.status_code == 502
        assert response.json() == {"message": "Internal server error"}
    err = capfd.readouterr().err
    assert "RuntimeError: boom" in err
    assert "Bearer good" not in err  # the request log never shows the Authorization header


def test_concurrent_requests(gateway: LocalGateway) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        paths = [f"/items/{n}" for n in range(32)]
        results = list(pool.map(lambda path: echoed(call(gateway, "GET", path)), paths))
    assert [r["event"]["pathParameters"]["item_id"] for r in results] == [str(n) for n in range(32)]


def test_invoke_api(gateway: LocalGateway) -> None:
    client = lambda_client(gateway)

    ok = client.invoke(FunctionName="EchoFunction", Payload=json.dumps({"n": 1}))
    assert ok["StatusCode"] == 200
    assert "FunctionError" not in ok
    assert json.loads(ok["Payload"].read()) == {"received": {"n": 1}, "function": "EchoFunction"}

    empty = client.invoke(FunctionName="EchoFunction")
    assert json.loads(empty["Payload"].read())["received"] == {}

    failed = client.invoke(FunctionName="EchoFunction", Payload=json.dumps({"fail": True}))
    assert failed["StatusCode"] == 200
    assert failed["FunctionError"] == "Unhandled"
    error = json.loads(failed["Payload"].read())
    assert error["errorMessage"] == "asked to fail"
    assert error["errorType"] == "ValueError"
    assert isinstance(error["stackTrace"], list) and error["stackTrace"]

    with pytest.raises(client.exceptions.ResourceNotFoundException) as missing:
        client.invoke(FunctionName="NoSuchFunction", Payload=b"{}")
    assert "Function not found" in str(missing.value)


def test_invoke_timeout(gateway: LocalGateway) -> None:
    result = lambda_client(gateway).invoke(FunctionName="SlowFunction")

    assert result["FunctionError"] == "Unhandled"
    error = json.loads(result["Payload"].read())
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in error["errorMessage"]


def test_dynamodb_local_creates_the_template_table() -> None:
    if shutil.which("java") is None:
        pytest.skip("java is not on PATH, so DynamoDB Local cannot run here")
    params = load_template(ROOT / "template.yaml").table_create_params(table_name="cashback-it")

    with DynamoDBLocal(ROOT) as store:
        client = store.client()
        client.create_table(**params)
        assert client.list_tables()["TableNames"] == ["cashback-it"]
        table = client.describe_table(TableName="cashback-it")["Table"]
        assert sorted(index["IndexName"] for index in table["GlobalSecondaryIndexes"]) == [
            "due",
            "queue",
            "queue_age",
            "queue_amount",
        ]
        # -sharedDb: other credentials and regions see the same tables.
        other = boto3.client(
            "dynamodb",
            endpoint_url=store.endpoint_url,
            region_name="eu-west-1",
            aws_access_key_id="SomeoneElse42",
            aws_secret_access_key="x",
        )
        assert other.list_tables()["TableNames"] == ["cashback-it"]
        port = int(store.endpoint_url.rsplit(":", 1)[1])
        process = store._process
        assert process is not None
    assert process.poll() is not None
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_moto_store() -> None:
    params = load_template(ROOT / "template.yaml").table_create_params(table_name="cashback-it")

    with MotoDynamoDB() as store:
        assert store.endpoint_url.startswith("http://127.0.0.1:")
        client = store.client()
        client.create_table(**params)
        assert client.list_tables()["TableNames"] == ["cashback-it"]
