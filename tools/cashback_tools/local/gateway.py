"""template.yaml's API on localhost: HTTP requests become API Gateway events for the handlers.

Also serves Lambda's Invoke API (like `sam local start-lambda`), so boto3's lambda client
pointed at the gateway's URL runs any function of the template.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import select
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from cashback_tools.local import build
from cashback_tools.local.iam import Policies, access_key_id, event_bus_arn, wildcard_match
from cashback_tools.local.template import DEFAULT_GATEWAY_RESPONSES, FunctionSpec, Route, Template
from cashback_tools.local.throttle import Clock, Throttle
from cashback_tools.local.worker import read_message, write_message

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
WORKER_SCRIPT = Path(__file__).with_name("worker.py")
# Lambda's init phase; generous here, because a loaded test machine imports slowly.
INIT_TIMEOUT = 60.0
# What the Lambda Python runtime sets in every function's environment (sam local too).
_LAMBDA_ENV = {
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_SAM_LOCAL": "true",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "TZ": ":UTC",
    "LANG": "en_US.UTF-8",
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    # No ~/.aws of the developer's, no instance metadata: only what the function is given.
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}


class FunctionError(Exception):
    """A function's error as Lambda reports it: the handler's exception, or a failure of the
    runtime (init, timeout, exit)."""

    def __init__(
        self, error_type: str, message: str, stack_trace: list[str] | None = None, trace: str = ""
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.stack_trace = stack_trace or []
        self.trace = trace


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

    def start(self) -> None:
        self._deadline = time.monotonic() + self.timeout

    def fields(self) -> dict[str, Any]:
        """What the worker rebuilds its context object from."""
        return {
            "function_name": self.function_name,
            "function_version": self.function_version,
            "invoked_function_arn": self.invoked_function_arn,
            "memory_limit_in_mb": self.memory_limit_in_mb,
            "aws_request_id": self.aws_request_id,
            "log_group_name": self.log_group_name,
            "log_stream_name": self.log_stream_name,
            "remaining_ms": self.get_remaining_time_in_millis(),
        }


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
        refs: Mapping[str, str] | None = None,
        workers_per_function: int = 4,
        init_timeout: float = INIT_TIMEOUT,
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
        self.workers_per_function = workers_per_function
        self.init_timeout = init_timeout
        self.functions = template.functions(refs)
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
                "DEFAULT_4XX" if self.responses[kind][0] < 500 else "DEFAULT_5XX"
            )
            for kind in DEFAULT_GATEWAY_RESPONSES
        }
        # Usage plans: a token bucket per API key, as API Gateway throttles each key on a
        # plan (`throttling=False` lifts the limits, for tests that burst on purpose).
        self.api_key_source = template.api_key_source
        plans = template.usage_plans()
        if len(plans) > 1:
            raise ValueError(
                "the local gateway puts every API key on the API's one usage "
                f"plan; the template has {[plan.name for plan in plans]}"
            )
        self.throttle = Throttle(plans[0], clock) if plans and throttling else None
        needed = {route.function for route in routes}
        if self.authorizer:
            needed.add(self.authorizer.function)
        if missing := needed - self.functions.keys():
            raise ValueError(f"the API refers to functions not in the template: {sorted(missing)}")
        self._address = (host, port)
        self._pools: dict[str, _Pool] = {}
        self._pools_lock = threading.Lock()
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
        # The layers the functions use, and the runtime's boto3 (built once, kept fresh).
        build.ensure_for(self.template, self.functions, quiet=self.quiet)
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
        with self._pools_lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
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
        """Run one function in its worker, as Lambda's Invoke would: its result, or
        FunctionError with what Lambda would report."""
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
            needs = [
                ("events:PutEvents", event_bus_arn(entry.get("EventBusName"))) for entry in entries
            ]
            denial = self.policies.check(caller, dict.fromkeys(needs))
            if denial is not None:
                payload = json.dumps(
                    {"__type": "AccessDeniedException", "message": denial.message}
                ).encode()
                return Reply(
                    400,
                    payload,
                    [
                        ("Content-Type", "application/x-amz-json-1.1"),
                        ("x-amzn-ErrorType", "AccessDeniedException"),
                    ],
                )
        results = []
        with self._events_lock:
            for entry in entries:
                event_id = str(uuid.uuid4())
                self.events.append(
                    {
                        "id": event_id,
                        "source": entry.get("Source"),
                        "detail-type": entry.get("DetailType"),
                        "bus": entry.get("EventBusName", "default"),
                        "detail": json.loads(entry.get("Detail") or "{}"),
                    }
                )
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
            # The worker marshalled it already (Runtime.MarshalError when it cannot).
            payload = json.dumps(self._call(spec, event, context)).encode()
        except FunctionError as exc:
            error = {
                "errorMessage": str(exc),
                "errorType": exc.error_type,
                "requestId": context.aws_request_id,
                "stackTrace": exc.stack_trace,
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
        except FunctionError:  # API Gateway turns any function error into a 502
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
        except FunctionError as exc:  # the authorizer's way to say 401 is to raise
            if str(exc) == "Unauthorized":
                return self._gateway_reply("UNAUTHORIZED", "Unauthorized", request_id)
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
        headers = [
            *_json_headers(request_id),
            ("x-amzn-ErrorType", _ERROR_TYPES.get(kind, kind)),
            *self.response_headers[kind],
        ]
        return Reply(status, body.encode(), headers)

    # Running functions: each in worker processes of its own (see worker.py)

    def _call(self, spec: FunctionSpec, event: Any, context: LambdaContext) -> Any:
        """The function's result, run by a warm worker (or a new one, up to the cap); any
        failure is a FunctionError, logged to stderr with the function's name."""
        pool = self._pool(spec)
        try:
            worker = pool.acquire()
            healthy = False
            try:
                result = worker.invoke(
                    event, context, spec.timeout if self.enforce_timeouts else None
                )
                healthy = True
                return result
            except FunctionError:
                healthy = worker.alive
                raise
            finally:
                pool.release(worker, healthy)
        except FunctionError as error:
            if str(error) != "Unauthorized":  # an authorizer's 401, not a failure
                _log_failure(spec.logical_id, error)
            raise

    def _pool(self, spec: FunctionSpec) -> _Pool:
        with self._pools_lock:
            if spec.logical_id not in self._pools:
                self._pools[spec.logical_id] = _Pool(self, spec, self.workers_per_function)
            return self._pools[spec.logical_id]

    def worker_environment(self, spec: FunctionSpec) -> dict[str, str]:
        """What Lambda sets, the function's variables from the template, the stack's, and
        credentials that name the function (the contract with the local IAM check)."""
        env = {
            **_LAMBDA_ENV,
            "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.logical_id}",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
            **spec.environment,
            **self.env,
            "AWS_ACCESS_KEY_ID": spec.logical_id,
            "AWS_SECRET_ACCESS_KEY": "local",
        }
        if self._server is not None:
            # PutEvents is recorded by this gateway (the stack may point it elsewhere).
            env.setdefault("AWS_ENDPOINT_URL_EVENTBRIDGE", self.url)
        env.pop("AWS_SESSION_TOKEN", None)
        return env

    def workers(self) -> dict[str, int]:
        """How many workers each function has now (warm or busy)."""
        with self._pools_lock:
            return {name: pool.size for name, pool in self._pools.items()}


class _Worker:
    """One function's execution environment: a `python -I -S` process with the function's
    import path, talking over two pipes of its own."""

    def __init__(self, gateway: LocalGateway, spec: FunctionSpec) -> None:
        self.spec = spec
        to_worker, self._requests = os.pipe()
        self._replies, from_worker = os.pipe()
        try:
            self.process = subprocess.Popen(  # noqa: S603 - our own worker script
                [sys.executable, "-I", "-S", str(WORKER_SCRIPT), str(to_worker), str(from_worker)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=gateway.worker_environment(spec),
                cwd=spec.code_dir,
                pass_fds=(to_worker, from_worker),
                close_fds=True,
            )
        except BaseException:
            for fd in (self._requests, self._replies):
                os.close(fd)
            raise
        finally:
            os.close(to_worker)
            os.close(from_worker)
        self.alive = True
        assert self.process.stdout is not None
        self._relay = threading.Thread(
            target=_relay,
            args=(spec.logical_id, self.process.stdout),
            name=f"log-{spec.logical_id}",
            daemon=True,
        )
        self._relay.start()

    def initialise(self, path: list[str], timeout: float) -> None:
        """Lambda's init phase: import the handler. FunctionError if it cannot."""
        write_message(
            self._requests,
            {"path": path, "task_root": str(self.spec.code_dir), "handler": self.spec.handler},
        )
        reply = self._receive(timeout, None)
        if "init_error" in reply:
            self.kill()
            failure = reply["init_error"]
            raise FunctionError(
                failure["errorType"],
                failure["errorMessage"],
                failure.get("stackTrace"),
                failure.get("trace", ""),
            )

    def invoke(self, event: Any, context: LambdaContext, timeout: float | None) -> Any:
        context.start()  # the function's clock starts now, after any wait or init
        try:
            write_message(self._requests, {"event": event, "context": context.fields()})
        except OSError as exc:
            self.kill()
            raise self._exited(context) from exc
        reply = self._receive(timeout, context)
        if "error" in reply:
            failure = reply["error"]
            raise FunctionError(
                failure["errorType"],
                failure["errorMessage"],
                failure.get("stackTrace"),
                failure.get("trace", ""),
            )
        return json.loads(reply["result"])

    def _receive(self, timeout: float | None, context: LambdaContext | None) -> dict[str, Any]:
        ready, _, _ = select.select([self._replies], [], [], timeout)
        if not ready:
            self.kill()
            if context is None:
                raise FunctionError(
                    "Runtime.InitTimeout", f"Init phase did not finish in {timeout:.0f} seconds"
                )
            raise FunctionError(
                "Sandbox.Timedout",
                f"RequestId: {context.aws_request_id} Error: "
                f"Task timed out after {self.spec.timeout:.2f} seconds",
            )
        reply = read_message(self._replies)
        if reply is None:
            self.kill()
            raise self._exited(context)
        return dict(reply)

    def _exited(self, context: LambdaContext | None) -> FunctionError:
        code = self.process.wait()
        request = f"RequestId: {context.aws_request_id} " if context else ""
        return FunctionError(
            "Runtime.ExitError", f"{request}Error: Runtime exited with error: exit status {code}"
        )

    def kill(self, *, graceful: bool = False) -> None:
        """Stop the process (at once, as Lambda does after a timeout or a crash; a graceful
        stop lets an idle worker end by itself) and free its pipes."""
        if not self.alive:
            return
        self.alive = False
        with contextlib.suppress(OSError):
            os.close(self._requests)  # a worker waiting for work ends by itself
        if self.process.poll() is None:
            try:
                self.process.wait(timeout=2 if graceful else 0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        with contextlib.suppress(OSError):
            os.close(self._replies)
        self._relay.join(timeout=2)


class _Pool:
    """A function's workers: a warm one is reused; with none free a new one starts, up to
    `cap`; past that a request waits for a free one (as Lambda's reserved concurrency)."""

    def __init__(self, gateway: LocalGateway, spec: FunctionSpec, cap: int) -> None:
        self.gateway, self.spec, self.cap = gateway, spec, max(1, cap)
        self.path = build.function_path(gateway.template, spec)
        self.size = 0
        self._idle: list[_Worker] = []
        self._closed = False
        self._changed = threading.Condition()

    def acquire(self) -> _Worker:
        with self._changed:
            while True:
                if self._closed:
                    raise FunctionError("Runtime.Unavailable", "the local gateway is stopping")
                if self._idle:
                    return self._idle.pop()
                if self.size < self.cap:
                    self.size += 1
                    break
                self._changed.wait()
        try:
            worker = _Worker(self.gateway, self.spec)
            worker.initialise(self.path, self.gateway.init_timeout)
            return worker
        except BaseException:
            with self._changed:
                self.size -= 1
                self._changed.notify()
            raise

    def release(self, worker: _Worker, healthy: bool) -> None:
        with self._changed:
            if healthy and worker.alive and not self._closed:
                self._idle.append(worker)
                self._changed.notify()
                return
            self.size -= 1
            self._changed.notify()
        worker.kill()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            idle, self._idle = self._idle, []
            self.size -= len(idle)
            self._changed.notify_all()
        for worker in idle:
            worker.kill(graceful=True)


def _relay(function: str, stream: IO[bytes]) -> None:
    """A worker's prints and logs, line by line, to this process's stderr."""
    with stream:
        for line in stream:
            text = line.decode("utf-8", "replace").rstrip("\n")
            with contextlib.suppress(Exception):  # a closed or swapped stderr loses the line
                print(f"[{function}] {text}", file=sys.stderr, flush=True)


def _log_failure(function: str, error: FunctionError) -> None:
    """Loud, in the gateway's log: which function, which error (as Lambda's log would)."""
    if error.error_type.startswith("Runtime.") and error.error_type not in (
        "Runtime.MarshalError",
        "Runtime.Unavailable",
    ):
        banner = f"!!! {function} cannot run: {error.error_type}: {error}"
    else:
        banner = f"{function} failed: {error.error_type}: {error}"
    lines = [banner]
    if error.trace.strip():
        lines.append(error.trace.rstrip())
    with contextlib.suppress(Exception):
        print("\n".join(lines), file=sys.stderr, flush=True)


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
        if not any(wildcard_match(a, "execute-api:Invoke", ignore_case=True) for a in actions):
            continue
        if not any(wildcard_match(resource, method_arn) for resource in resources):
            continue
        if statement.get("Effect") == "Deny":
            return "Deny"
        if statement.get("Effect") == "Allow":
            effect = "Allow"
    return effect


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
