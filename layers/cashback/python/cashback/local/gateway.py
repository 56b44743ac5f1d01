"""template.yaml's API on localhost: HTTP requests become API Gateway events for the handlers.

Also serves Lambda's Invoke API (like `sam local start-lambda`), so boto3's lambda client
pointed at the gateway's URL runs any function of the template.
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
import json
import os
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from cashback.local.iam import Policies, access_key_id, event_bus_arn
from cashback.local.template import DEFAULT_GATEWAY_RESPONSES, FunctionSpec, Route, Template
from cashback.local.throttle import Clock, Throttle

ACCOUNT_ID = "000000000000"
REGION = "us-east-1"
API_ID = "local"
_INVOKE_PATH = re.compile(r"/2015-03-31/functions/([^/]+)/invocations")
_JSON = ("Content-Type", "application/json")
_HOP_BY_HOP = {"connection", "content-length", "keep-alive", "transfer-encoding"}
_ERROR_TYPES = {
    "UNAUTHORIZED": "UnauthorizedException",
    "ACCESS_DENIED": "AccessDeniedException",
    "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
    "AUTHORIZER_FAILURE": "AuthorizerFailureException",
    "AUTHORIZER_CONFIGURATION_ERROR": "AuthorizerConfigurationException",
    "THROTTLED": "TooManyRequestsException",
    "INVALID_API_KEY": "ForbiddenException",
}
_IDENTITY_FIELDS = [
    "accessKey",
    "accountId",
    "caller",
    "cognitoAuthenticationProvider",
    "cognitoAuthenticationType",
    "cognitoIdentityId",
    "cognitoIdentityPoolId",
    "principalOrgId",
    "user",
    "userArn",
]
Handler = Callable[[Any, Any], Any]


class FunctionError(Exception):
    """A failure of the Lambda runtime rather than of the handler's own code."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class LambdaContext:
    """The context object the Python Lambda runtime passes to a handler."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.function_name = spec.logical_id
        self.function_version = "$LATEST"
        self.invoked_function_arn = _function_arn(spec.logical_id)
        # The real runtime reads it from the environment, so it is a string there too.
        self.memory_limit_in_mb = str(spec.memory)
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.logical_id}"
        self.log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self.timeout = spec.timeout
        self._deadline = time.monotonic() + spec.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _CompiledRoute:
    route: Route
    pattern: re.Pattern[str]
    names: tuple[str, ...]
    rank: tuple[int, ...]


class LocalGateway:
    def __init__(
        self,
        template: Template,
        env: Mapping[str, str],
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        quiet: bool = False,
        enforce_timeouts: bool = True,
        policies: Policies | None = None,
        throttling: bool = True,
        clock: Clock = time.monotonic,
    ) -> None:
        self.template = template
        # IAM for the AWS calls the gateway itself answers (EventBridge's PutEvents).
        self.policies = policies
        self.env = dict(env)
        self.quiet = quiet
        self.enforce_timeouts = enforce_timeouts
        self.functions = template.functions()
        self.stage = template.stage_name
        self.authorizer = template.authorizer()
        routes = template.api_routes()
        self.routes = [_compile(route) for route in routes]
        self.responses = {
            kind: template.gateway_response(kind) for kind in DEFAULT_GATEWAY_RESPONSES
        }
        self.response_headers = {
            kind: template.gateway_response_headers(kind)
            or template.gateway_response_headers(
                "DEFAULT_4XX" if self.responses[kind][0] < 500 else "DEFAULT_5XX")
            for kind in DEFAULT_GATEWAY_RESPONSES
        }
        # Usage plans: a token bucket per API key, as API Gateway throttles each key on a
        # plan (`throttling=False` lifts the limits, for tests that burst on purpose).
        self.api_key_source = template.api_key_source
        plans = template.usage_plans()
        if len(plans) > 1:
            raise ValueError("the local gateway puts every API key on the API's one usage "
                             f"plan; the template has {[plan.name for plan in plans]}")
        self.throttle = Throttle(plans[0], clock) if plans and throttling else None
        needed = {route.function for route in routes}
        if self.authorizer:
            needed.add(self.authorizer.function)
        if missing := needed - self.functions.keys():
            raise ValueError(f"the API refers to functions not in the template: {sorted(missing)}")
        self._address = (host, port)
        self._handlers: dict[str, Handler] = {}
        self._import_lock = threading.Lock()
        self.events: list[dict[str, Any]] = []
        self._events_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._saved_env: dict[str, str | None] = {}

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the gateway is not running; call start() first")
        return f"http://{self._address[0]}:{self._server.server_port}"

    def start(self) -> Self:
        if self._server is not None:
            return self
        server = _Server(self._address, _RequestHandler)
        server.gateway = self
        self._saved_env = {key: os.environ.get(key) for key in self.env}
        os.environ.update(self.env)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="local-gateway")
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def invoke(self, function: str, event: Any) -> Any:
        """Run one function's handler in this process, as Lambda's Invoke would."""
        spec = self.functions[function]
        return self._call(spec, event, LambdaContext(spec))

    def handle(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
    ) -> Reply:
        parts = urlsplit(target)
        invoke = _INVOKE_PATH.fullmatch(parts.path)
        if method == "POST" and invoke:
            return self._invoke_api(unquote(invoke.group(1)), headers, body)
        if method == "POST" and _header(headers, "X-Amz-Target") == "AWSEvents.PutEvents":
            return self._put_events(headers, body)
        if method == "GET" and parts.path == "/_local/events":
            with self._events_lock:
                return Reply(200, json.dumps(self.events).encode(), [_JSON])
        return self._api(method, parts.path, parts.query, headers, body, source_ip)

    # EventBridge's PutEvents (JSON 1.1), recorded so tests and the demo can see what
    # storefronts would receive.

    def _put_events(self, headers: list[tuple[str, str]], body: bytes) -> Reply:
        entries = json.loads(body).get("Entries", [])
        if self.policies is not None:
            caller = access_key_id(_header(headers, "Authorization"))
            needs = [("events:PutEvents", event_bus_arn(entry.get("EventBusName")))
                     for entry in entries]
            denial = self.policies.check(caller, dict.fromkeys(needs))
            if denial is not None:
                payload = json.dumps({"__type": "AccessDeniedException",
                                      "message": denial.message}).encode()
                return Reply(400, payload, [("Content-Type", "application/x-amz-json-1.1"),
                                            ("x-amzn-ErrorType", "AccessDeniedException")])
        results = []
        with self._events_lock:
            for entry in entries:
                event_id = str(uuid.uuid4())
                self.events.append({
                    "id": event_id, "source": entry.get("Source"),
                    "detail-type": entry.get("DetailType"),
                    "bus": entry.get("EventBusName", "default"),
                    "detail": json.loads(entry.get("Detail") or "{}"),
                })
                results.append({"EventId": event_id})
        payload = json.dumps({"FailedEntryCount": 0, "Entries": results}).encode()
        return Reply(200, payload, [("Content-Type", "application/x-amz-json-1.1")])

    # Lambda's Invoke API

    def _invoke_api(self, name: str, headers: list[tuple[str, str]], body: bytes) -> Reply:
        if name.startswith("arn:"):
            name = name.split(":function:", 1)[-1].split(":")[0]
        spec = self.functions.get(name)
        if spec is None:
            message = f"Function not found: {_function_arn(name)}"
            return _lambda_error(404, "ResourceNotFoundException", message)
        mode = _header(headers, "X-Amz-Invocation-Type") or "RequestResponse"
        if mode == "DryRun":
            return Reply(204)
        try:
            event = json.loads(body) if body.strip() else {}
        except ValueError as exc:
            message = f"Could not parse request body into json: {exc}"
            return _lambda_error(400, "InvalidRequestContentException", message)
        context = LambdaContext(spec)
        extra = [("X-Amz-Executed-Version", "$LATEST"), _JSON]
        try:
            result = self._call(spec, event, context)
            try:
                payload = json.dumps(result).encode()
            except (TypeError, ValueError) as exc:
                message = f"Unable to marshal response: {exc}"
                raise FunctionError("Runtime.MarshalError", message) from exc
        except Exception as exc:  # noqa: BLE001 - any handler failure is the function's error
            traceback.print_exc(file=sys.stderr)
            error = {
                "errorMessage": str(exc),
                "errorType": getattr(exc, "error_type", type(exc).__name__),
                "requestId": context.aws_request_id,
                "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)),
            }
            extra.append(("X-Amz-Function-Error", "Unhandled"))
            return Reply(200, json.dumps(error).encode(), extra)
        # Event invocations run to the end here too, which keeps local runs deterministic.
        return Reply(202, b"", extra) if mode == "Event" else Reply(200, payload, extra)

    # API Gateway (REST API, Lambda proxy integration, payload 1.0)

    def _api(
        self,
        method: str,
        raw_path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        source_ip: str,
    ) -> Reply:
        request_id = str(uuid.uuid4())
        found = self._match(method, raw_path)
        if found is None:
            message = "Missing Authentication Token"
            return self._gateway_reply("MISSING_AUTHENTICATION_TOKEN", message, request_id)
        route, params = found
        path = unquote(raw_path)
        authorizer_context = None
        usage_key = None
        if route.authorized:
            outcome = self._authorize(method, path, headers, request_id)
            if isinstance(outcome, Reply):
                return outcome
            authorizer_context, usage_key = outcome
        if route.api_key_required:
            if self.api_key_source != "AUTHORIZER":
                usage_key = _header(headers, "x-api-key")
            if not usage_key:
                return self._gateway_reply("INVALID_API_KEY", "Forbidden", request_id)
            # API Gateway sends the THROTTLED response as the template defines it (its
            # Retry-After header included); the wait itself is not exposed.
            if self.throttle is not None and self.throttle.take(usage_key) is not None:
                return self._gateway_reply("THROTTLED", "Too Many Requests", request_id)
        event = _proxy_event(
            route, method, path, query, params, headers, body, source_ip, request_id, self.stage
        )
        if authorizer_context is not None:
            event["requestContext"]["authorizer"] = authorizer_context
        spec = self.functions[route.function]
        try:
            result = self._call(spec, event, LambdaContext(spec))
            return _proxy_reply(result, request_id)
        except Exception:  # noqa: BLE001 - API Gateway turns any function error into a 502
            traceback.print_exc(file=sys.stderr)
            body_out = json.dumps({"message": "Internal server error"}).encode()
            return Reply(502, body_out, _json_headers(request_id))

    def _match(self, method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
        matches = [
            (compiled, match)
            for compiled in self.routes
            if (match := compiled.pattern.fullmatch(raw_path))
        ]
        if not matches:
            return None
        # Like API Gateway: the most specific resource wins (literal > {param} > {greedy+}).
        best = min(compiled.rank for compiled, _ in matches)
        for wanted in (method, "ANY"):
            for compiled, match in matches:
                if compiled.rank == best and compiled.route.method == wanted:
                    values = (unquote(value) for value in match.groups())
                    return compiled.route, dict(zip(compiled.names, values, strict=True))
        return None

    def _authorize(
        self, method: str, path: str, headers: list[tuple[str, str]], request_id: str
    ) -> tuple[dict[str, Any], str | None] | Reply:
        """The authorizer's context for the handler and its usageIdentifierKey, or the
        gateway's refusal."""
        spec = self.authorizer
        assert spec is not None
        token = _header(headers, spec.header)
        if not token or (
            spec.validation_expression and not re.fullmatch(spec.validation_expression, token)
        ):
            return self._gateway_reply("UNAUTHORIZED", "Unauthorized", request_id)
        method_arn = (
            f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{self.stage}/{method}/"
            + path.lstrip("/")
        )
        event = {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
        function = self.functions[spec.function]
        started = time.monotonic()
        try:
            answer = self._call(function, event, LambdaContext(function))
        except Exception as exc:  # noqa: BLE001 - the authorizer's way to say 401 is to raise
            if str(exc) == "Unauthorized":
                return self._gateway_reply("UNAUTHORIZED", "Unauthorized", request_id)
            traceback.print_exc(file=sys.stderr)
            return self._gateway_reply("AUTHORIZER_FAILURE", None, request_id)
        latency = int((time.monotonic() - started) * 1000)
        context = _authorizer_context(answer)
        if context is None:
            print(f"{spec.function} returned an invalid authorizer response", file=sys.stderr)
            return self._gateway_reply("AUTHORIZER_CONFIGURATION_ERROR", None, request_id)
        effect = _policy_effect(answer["policyDocument"], method_arn)
        if effect != "Allow":
            message = "User is not authorized to access this resource"
            if effect == "Deny":
                message += " with an explicit deny"
            return self._gateway_reply("ACCESS_DENIED", message, request_id)
        usage_key = answer.get("usageIdentifierKey")
        context = {**context, "principalId": answer["principalId"], "integrationLatency": latency}
        return context, usage_key if isinstance(usage_key, str) else None

    def _gateway_reply(self, kind: str, message: str | None, request_id: str) -> Reply:
        status, template = self.responses[kind]
        values = {
            "error.messageString": json.dumps(message),
            "error.message": message or "",
            "error.responseType": kind,
            "requestId": request_id,
        }
        body = re.sub(
            r"\$context\.([A-Za-z.]+[A-Za-z])",
            lambda found: values.get(found.group(1), ""),
            template,
        )
        headers = [*_json_headers(request_id), ("x-amzn-ErrorType", _ERROR_TYPES.get(kind, kind)),
                   *self.response_headers[kind]]
        return Reply(status, body.encode(), headers)

    # Running handlers

    def _call(self, spec: FunctionSpec, event: Any, context: LambdaContext) -> Any:
        handler = self._handler(spec)
        started = time.monotonic()
        result = handler(event, context)
        # The handler cannot be stopped in-process, but its result is dropped as Lambda would.
        if self.enforce_timeouts and time.monotonic() - started > spec.timeout:
            raise FunctionError(
                "Sandbox.Timedout",
                f"RequestId: {context.aws_request_id} Error: "
                f"Task timed out after {spec.timeout:.2f} seconds",
            )
        return result

    def _handler(self, spec: FunctionSpec) -> Handler:
        with self._import_lock:
            if spec.logical_id not in self._handlers:
                self._handlers[spec.logical_id] = _import_handler(spec)
            return self._handlers[spec.logical_id]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 makes concurrent clients wait a second for a SYN retry.
    request_queue_size = 128
    gateway: LocalGateway


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # idle keep-alive connections must not hold a thread forever
    # Headers and body go out in two writes; with Nagle on, keep-alive clients wait ~40 ms.
    disable_nagle_algorithm = True

    def _dispatch(self) -> None:
        started = time.monotonic()
        assert isinstance(self.server, _Server)
        gateway = self.server.gateway
        try:
            body = self._read_body()
            headers = list(self.headers.items())
            reply = gateway.handle(self.command, self.path, headers, body, self.client_address[0])
        except Exception:  # noqa: BLE001 - a bad request must not take the connection down silently
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True  # the rest of the stream cannot be trusted
            reply = Reply(500, b'{"message": "Internal server error"}', [_JSON])
        if not gateway.quiet:
            # Logged before replying, so the line is out before the client sees the answer.
            elapsed = (time.monotonic() - started) * 1000
            path = urlsplit(self.path).path
            print(f"{self.command} {path} {reply.status} {elapsed:.0f}ms", file=sys.stderr)
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():  # trailers
                pass
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class name
        # The base class would log the full request line; _dispatch logs a safer one.
        pass


def _compile(route: Route) -> _CompiledRoute:
    parts, names, rank = [], [], []
    for segment in route.path.strip("/").split("/"):
        if param := re.fullmatch(r"\{([^}+]+)(\+?)\}", segment):
            names.append(param.group(1))
            parts.append("(.+)" if param.group(2) else "([^/]+)")
            rank.append(2 if param.group(2) else 1)
        else:
            parts.append(re.escape(segment))
            rank.append(0)
    return _CompiledRoute(route, re.compile("/" + "/".join(parts)), tuple(names), tuple(rank))


def _proxy_event(
    route: Route,
    method: str,
    path: str,
    query: str,
    params: dict[str, str],
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    request_id: str,
    stage: str,
) -> dict[str, Any]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value
        multi.setdefault(name, []).append(value)
    query_single: dict[str, str] = {}
    query_multi: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        query_single[name] = value
        query_multi.setdefault(name, []).append(value)
    try:
        text, encoded = (body.decode("utf-8") if body else None), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    now = time.time()
    return {
        "resource": route.path,
        "path": path,
        "httpMethod": method,
        "headers": single or None,
        "multiValueHeaders": multi or None,
        "queryStringParameters": query_single or None,
        "multiValueQueryStringParameters": query_multi or None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "resourceId": "local",
            "resourcePath": route.path,
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTimeEpoch": int(now * 1000),
            "requestTime": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "protocol": "HTTP/1.1",
            "domainName": single.get("Host") or single.get("host"),
            "identity": {
                "sourceIp": source_ip,
                "userAgent": _header(headers, "User-Agent"),
                **dict.fromkeys(_IDENTITY_FIELDS),
            },
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def _proxy_reply(result: Any, request_id: str) -> Reply:
    try:
        status = int(result["statusCode"])
        text = result.get("body")
        if text is not None and not isinstance(text, str):
            raise TypeError("body must be a string")
        body = (text or "").encode()
        if result.get("isBase64Encoded") and text:
            body = base64.b64decode(text, validate=True)
        headers = [(name, str(value)) for name, value in (result.get("headers") or {}).items()]
        multi = result.get("multiValueHeaders") or {}
    except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as exc:
        print(f"Malformed Lambda proxy response: {exc!r}", file=sys.stderr)
        body = json.dumps({"message": "Internal server error"}).encode()
        return Reply(502, body, _json_headers(request_id))
    # API Gateway merges the two maps; for a name in both, multiValueHeaders wins.
    headers = [(n, v) for n, v in headers if n not in multi]
    headers += [(name, str(value)) for name, values in multi.items() for value in values]
    headers = [(n, v) for n, v in headers if n.lower() not in _HOP_BY_HOP]
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    headers.append(("x-amzn-RequestId", request_id))
    return Reply(status, body, headers)


def _authorizer_context(answer: Any) -> dict[str, str] | None:
    """The authorizer's context as API Gateway passes it on (values stringified), or None."""
    if not isinstance(answer, dict) or not answer.get("principalId"):
        return None
    if not isinstance(answer.get("policyDocument"), dict):
        return None
    context = answer.get("context") or {}
    if not isinstance(context, dict):
        return None
    result = {}
    for key, value in context.items():
        if isinstance(value, bool):
            result[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            result[key] = str(value)
        elif value is not None:
            return None
    return result


def _policy_effect(policy: dict[str, Any], method_arn: str) -> str | None:
    """Allow, Deny or None (nothing matched) for execute-api:Invoke on method_arn."""
    statements = policy.get("Statement") or []
    effect = None
    for statement in [statements] if isinstance(statements, dict) else statements:
        actions = _as_list(statement.get("Action"))
        resources = _as_list(statement.get("Resource"))
        if not any(_wildcard(a, "execute-api:Invoke", ignore_case=True) for a in actions):
            continue
        if not any(_wildcard(resource, method_arn) for resource in resources):
            continue
        if statement.get("Effect") == "Deny":
            return "Deny"
        if statement.get("Effect") == "Allow":
            effect = "Allow"
    return effect


def _wildcard(pattern: Any, value: str, *, ignore_case: bool = False) -> bool:
    if not isinstance(pattern, str):
        return False
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch(regex, value, flags) is not None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    found = [value for key, value in headers if key.lower() == name.lower()]
    return found[-1] if found else None


def _json_headers(request_id: str) -> list[tuple[str, str]]:
    return [_JSON, ("x-amzn-RequestId", request_id)]


def _lambda_error(status: int, error_type: str, message: str) -> Reply:
    body = json.dumps({"Type": "User", "message": message}).encode()
    headers = [_JSON, ("x-amzn-errortype", error_type)]
    return Reply(status, body, headers)


def _function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"


def _module_name(spec: FunctionSpec) -> str:
    base = spec.logical_id.removesuffix("Function") or spec.logical_id
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", base).lower()
    module = spec.handler.rpartition(".")[0].replace(".", "_")
    return f"cashback_fn_{snake}_{module}"


def _import_handler(spec: FunctionSpec) -> Handler:
    name = _module_name(spec)
    module_path = spec.handler.rpartition(".")[0]
    try:
        loader_spec = importlib.util.spec_from_file_location(name, spec.module_file)
        if loader_spec is None or loader_spec.loader is None:
            raise ImportError(f"no module at {spec.module_file}")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[name] = module
        loader_spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        message = f"Unable to import module '{module_path}': {exc}"
        raise FunctionError("Runtime.ImportModuleError", message) from exc
    handler = getattr(module, spec.handler_name, None)
    if not callable(handler):
        message = f"Handler '{spec.handler_name}' missing on module '{module_path}'"
        raise FunctionError("Runtime.HandlerNotFound", message)
    return cast(Handler, handler)
