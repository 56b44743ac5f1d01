"""template.yaml's API on localhost: HTTP requests become API Gateway events for the handlers.

The same port serves Lambda's Invoke API (lambda_api.py) and records EventBridge's
PutEvents (eventbridge.py); each function runs in worker processes of its own (pool.py).
"""

from __future__ import annotations

import json
import re
import sys
import time
import traceback
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import unquote, urlsplit

from cashback_tools.local import build, lambda_api
from cashback_tools.local.authorizer import Authorized, TokenAuthorizer
from cashback_tools.local.eventbridge import TARGET as PUT_EVENTS
from cashback_tools.local.eventbridge import EventRecorder
from cashback_tools.local.gateway_responses import GatewayResponses, Refusal
from cashback_tools.local.http_server import JSON, Handler, LocalServer, Reply, header
from cashback_tools.local.iam import Policies
from cashback_tools.local.invocation import FunctionError, LambdaContext
from cashback_tools.local.pool import INIT_TIMEOUT, Pools, worker_environment
from cashback_tools.local.proxy_integration import json_headers, proxy_event, proxy_reply
from cashback_tools.local.template import AuthorizerSpec, FunctionSpec, Route, Template
from cashback_tools.local.throttle import Clock, Throttle


@dataclass(frozen=True)
class _CompiledRoute:
    route: Route
    pattern: re.Pattern[str]
    names: tuple[str, ...]
    rank: tuple[int, ...]


class LocalGateway:
    """The API of a template on (host, port), port 0 for any free one, from start() until
    stop(); `env` is added to every function's environment."""

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
        # The stack's variables, for every function's workers (never this process's).
        self.env = dict(env)
        self.quiet = quiet
        self.functions = template.functions(refs)
        self.stage = template.stage_name
        self.routes = [_compile(route) for route in template.api_routes()]
        self.responses = GatewayResponses(template)
        self.api_key_source = template.api_key_source
        self.throttle = _throttle(template, throttling, clock)
        self.authorizer = self._authorizer(template.authorizer())
        self._pools = Pools(
            template,
            self.worker_environment,
            cap=workers_per_function,
            init_timeout=init_timeout,
            enforce_timeouts=enforce_timeouts,
        )
        # IAM for the AWS calls the gateway itself answers (EventBridge's PutEvents).
        self._recorder = EventRecorder(policies)
        self._http = LocalServer(self, _RequestHandler, (host, port), "local-gateway")

    def _authorizer(self, spec: AuthorizerSpec | None) -> TokenAuthorizer | None:
        """The API's authorizer, once every function the API calls is known to exist."""
        needed = {compiled.route.function for compiled in self.routes}
        if spec:
            needed.add(spec.function)
        if missing := needed - self.functions.keys():
            raise ValueError(f"the API refers to functions not in the template: {sorted(missing)}")
        if spec is None:
            return None
        return TokenAuthorizer(spec, self.stage, lambda event: self.invoke(spec.function, event))

    @property
    def url(self) -> str:
        return self._http.url

    @property
    def events(self) -> list[dict[str, Any]]:
        """What the functions published to EventBridge so far."""
        return self._recorder.events

    def start(self) -> Self:
        if self._http.running:
            return self
        # The layers the functions use, and the runtime's boto3 (built once, kept fresh).
        build.ensure_for(self.template, self.functions, quiet=self.quiet)
        self._http.start()
        return self

    def stop(self) -> None:
        if not self._http.running:
            return
        self._http.stop()
        self._pools.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def invoke(self, function: str, event: Any) -> Any:
        """Run one function in its worker, as Lambda's Invoke would: its result, or
        FunctionError with what Lambda would report."""
        spec = self.functions[function]
        return self._pools.call(spec, event, LambdaContext(spec))

    def worker_environment(self, spec: FunctionSpec) -> dict[str, str]:
        """A worker's environment (pool.worker_environment); PutEvents is recorded by this
        gateway (the stack may point it elsewhere)."""
        return worker_environment(spec, self.env, self.url if self._http.running else None)

    def workers(self) -> dict[str, int]:
        """How many workers each function has now (warm or busy)."""
        return self._pools.sizes()

    def handle(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
    ) -> Reply:
        parts = urlsplit(target)
        invoke = lambda_api.INVOKE_PATH.fullmatch(parts.path)
        if method == "POST" and invoke:
            name = unquote(invoke.group(1))
            return lambda_api.invoke(self.functions, self._pools.call, name, headers, body)
        if method == "POST" and header(headers, "X-Amz-Target") == PUT_EVENTS:
            return self._recorder.put_events(headers, body)
        if method == "GET" and parts.path == "/_local/events":
            return Reply(200, json.dumps(self._recorder.recorded()).encode(), [JSON])
        return self._api(method, parts.path, parts.query, headers, body, source_ip)

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
            refusal = Refusal("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
            return self.responses.reply(refusal, request_id)
        route, params = found
        path = unquote(raw_path)
        outcome = self._admit(route, method, path, headers)
        if isinstance(outcome, Refusal):
            return self.responses.reply(outcome, request_id)
        event = proxy_event(
            route, method, path, query, params, headers, body, source_ip, request_id, self.stage
        )
        if outcome is not None:
            event["requestContext"]["authorizer"] = outcome.context
        try:
            return proxy_reply(self.invoke(route.function, event), request_id)
        except FunctionError:  # API Gateway turns any function error into a 502
            body_out = json.dumps({"message": "Internal server error"}).encode()
            return Reply(502, body_out, json_headers(request_id))

    def _admit(
        self, route: Route, method: str, path: str, headers: list[tuple[str, str]]
    ) -> Authorized | Refusal | None:
        """The authorizer's verdict (None without one), then the API key and its usage
        plan's throttling."""
        authorized = None
        if route.authorized:
            assert self.authorizer is not None
            outcome = self.authorizer.check(method, path, headers)
            if isinstance(outcome, Refusal):
                return outcome
            authorized = outcome
        if route.api_key_required:
            usage_key = authorized.usage_key if authorized else None
            if self.api_key_source != "AUTHORIZER":
                usage_key = header(headers, "x-api-key")
            if not usage_key:
                return Refusal("INVALID_API_KEY", "Forbidden")
            # API Gateway sends the THROTTLED response as the template defines it (its
            # Retry-After header included); the wait itself is not exposed.
            if self.throttle is not None and self.throttle.take(usage_key) is not None:
                return Refusal("THROTTLED", "Too Many Requests")
        return authorized

    def _match(self, method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
        matches = [
            (compiled, match)
            for compiled in self.routes
            if (match := compiled.pattern.fullmatch(raw_path))
        ]
        if not matches and len(raw_path) > 1 and raw_path.endswith("/"):
            # Like a REST API: /console/ reaches the /console resource (the event keeps
            # the path as sent).
            return self._match(method, raw_path[:-1])
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


class _RequestHandler(Handler):
    def _dispatch(self) -> None:
        started = time.monotonic()
        gateway: LocalGateway = self.owner
        try:
            body = self._read_body()
            headers = list(self.headers.items())
            reply = gateway.handle(self.command, self.path, headers, body, self.client_address[0])
        except Exception:  # noqa: BLE001 - a bad request must not take the connection down silently
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True  # the rest of the stream cannot be trusted
            reply = Reply(500, b'{"message": "Internal server error"}', [JSON])
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


def _throttle(template: Template, throttling: bool, clock: Clock) -> Throttle | None:
    """Usage plans: a token bucket per API key, as API Gateway throttles each key on a
    plan (`throttling=False` lifts the limits, for tests that burst on purpose)."""
    plans = template.usage_plans()
    if len(plans) > 1:
        raise ValueError(
            "the local gateway puts every API key on the API's one usage "
            f"plan; the template has {[plan.name for plan in plans]}"
        )
    return Throttle(plans[0], clock) if plans and throttling else None


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
