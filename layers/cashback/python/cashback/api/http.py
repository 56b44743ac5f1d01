"""The HTTP edge every API function shares: one resolver setup, one error shape.

Domain errors carry their code (cashback.domain.errors) and get their status from the one
table (cashback.api.errors); this module turns them, and the resolver's own validation
errors, into `{"code", "message", "details"}` replies.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from botocore.exceptions import ClientError

from cashback.api.bodies import MAX_BODY_BYTES, StrictJson, as_checked, body_problem
from cashback.api.errors import STATUSES, http_status
from cashback.api.payloads import ErrorReply
from cashback.domain.clock import from_epoch_ms
from cashback.domain.errors import CashbackError, Forbidden, ServiceUnavailable, Throttled
from cashback.observability import count_by, logger

# DynamoDB's answers that mean "too fast, later" (the SDK has already retried them).
THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "Throttling",
        "TooManyRequestsException",
    }
)


def error_response(
    status: int, code: str, message: str, details: Any = None, retry_after: int | None = None
) -> Response:
    """The one error shape. Every 503 carries Retry-After (seconds): the error's own, or
    ServiceUnavailable's."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    headers = None
    if status == 503:
        headers = {"Retry-After": str(retry_after or STATUSES[ServiceUnavailable].retry_after)}
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body),
        headers=headers,
    )


def throttled(error: ClientError) -> bool:
    """DynamoDB throttled the call, or a transaction whose items it throttled."""
    response = error.response or {}
    if response.get("Error", {}).get("Code") in THROTTLING_CODES:
        return True
    reasons = response.get("CancellationReasons") or []
    return any(
        reason.get("Code") in ("ThrottlingError", "ProvisionedThroughputExceeded")
        for reason in reasons
    )


def json_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response[Any]:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers
    )


def _field(loc: Any) -> str:
    parts = [str(p) for p in loc if p != "body"] if isinstance(loc, list | tuple) else [str(loc)]
    return ".".join(parts) or "body"


def _validation_reply(error: RequestValidationError) -> Response:
    errors = error.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "invalid_json", "the body is not valid JSON")
    details = [
        {"field": _field(e.get("loc", ())), "problem": e.get("msg", "invalid")} for e in errors
    ]
    summary = "; ".join(f"{d['field']}: {d['problem']}" for d in details[:5])
    return error_response(422, "validation_error", summary, details)


class CashbackResolver(APIGatewayRestResolver):
    """Powertools' REST resolver, refusing bodies it must not read (too large, empty, not
    JSON, not UTF-8, not strict JSON) before anything parses them: its request validation
    runs before any middleware could."""

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        problem = body_problem(event)
        if problem is not None:
            return {
                "statusCode": http_status(problem).status,
                "headers": {"Content-Type": content_types.APPLICATION_JSON},
                "body": json.dumps({"code": problem.code, "message": problem.message}),
                "isBase64Encoded": False,
            }
        return super().resolve(as_checked(event), context)


def make_resolver() -> CashbackResolver:
    app = CashbackResolver(enable_validation=True, json_body_deserializer=StrictJson.loads)

    @app.exception_handler(CashbackError)
    def _domain_error(error: CashbackError) -> Response:
        status = http_status(error)
        return error_response(
            status.status,
            error.code,
            error.message,
            error.details,
            retry_after=status.retry_after,
        )

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response:
        return _validation_reply(error)

    @app.not_found
    def _no_route(_: NotFoundError) -> Response:
        # API Gateway only sends this function the routes it serves, so a miss here means
        # a path parameter holds characters no id may contain.
        if app.current_event.resource:
            return error_response(
                422, "validation_error", "a path parameter holds characters an id may not contain"
            )
        return error_response(404, "route_not_found", "no such route")

    @app.exception_handler(ClientError)
    def _aws_error(error: ClientError) -> Response:
        if throttled(error):
            logger.warning("throttled by AWS", extra={"error": str(error)})
            busy = Throttled("the ledger is busy; retry after the time in Retry-After")
            return _domain_error(busy)
        return _unexpected(error)

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger.exception("unhandled error")
        # Answered, so Lambda's Errors metric never sees it: the errors alarms count this.
        count_by("InternalErrors", 1, function=os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local"))
        return error_response(500, "internal_error", "something went wrong on our side")

    return app


# What a client can get back besides the success, for the OpenAPI document: the gateway's
# own answers (template.yaml's GatewayResponses, same {code, message} shape), the edge's
# (this module) and each route's domain errors. One table, so routes only name extras.
_GATEWAY_ERRORS = {
    401: "unauthorized: no key, or not a valid one (API Gateway)",
    403: "forbidden: the key lacks the scope for this route (API Gateway); tenant_not_configured",
    429: "throttled: over the storefront's rate or burst (API Gateway); retry after "
    "Retry-After seconds",
}
_BODY_ERRORS = {
    400: "The body cannot be read: invalid_json, duplicate_key, json_too_deep, "
    "invalid_encoding, empty_body",
    413: f"body_too_large: over {MAX_BODY_BYTES} bytes (API Gateway's own limit is 10 MB)",
    415: "unsupported_media_type: the body must be application/json (UTF-8)",
    422: "validation_error: the body breaks the request model (details names each field)",
}
_PATH_ERRORS = {
    404: "route_not_found: no route for this path, e.g. an empty path parameter",
    422: "validation_error: a path parameter or the query breaks its pattern or range",
}
_QUERY_ERRORS = {422: _PATH_ERRORS[422]}


def documented(
    status: int,
    model: Any,
    description: str,
    errors: dict[int, str] | None = None,
    *,
    body: bool = False,
    path: bool = False,
    query: bool = False,
) -> dict[int, OpenAPIResponse]:
    """`responses=` for a route decorator: its success reply and every 4xx (and 503) it can
    answer, each error in the one ErrorReply shape. Route-specific texts join the shared
    ones for the same status."""
    found: dict[int, list[str]] = {}
    for table in (
        _GATEWAY_ERRORS,
        _BODY_ERRORS if body else {},
        _PATH_ERRORS if path else {},
        _QUERY_ERRORS if query else {},
        errors or {},
    ):
        for code, text in table.items():
            if text not in found.setdefault(code, []):
                found[code].append(text)
    responses: dict[int, OpenAPIResponse] = {
        status: {
            "description": description,
            "content": {content_types.APPLICATION_JSON: {"model": model}},
        }
    }
    for code in sorted(found):
        responses[code] = {
            "description": "; ".join(found[code]),
            "content": {content_types.APPLICATION_JSON: {"model": ErrorReply}},
        }
    return responses


@dataclass(frozen=True)
class Caller:
    tenant: str
    now: datetime
    key_id: str = ""  # which API key (its public prefix), for audit trails


def caller(app: BaseRouter) -> Caller:
    """Who is calling (from the authorizer, never from the request) and when API Gateway
    received the request: the only clock a request handler reads. `app`: the function's
    resolver, or a Router it includes (they share the event being resolved)."""
    context = app.current_event.raw_event.get("requestContext") or {}
    authorizer = context.get("authorizer")
    tenant = (authorizer or {}).get("tenant")
    if not tenant:
        raise Forbidden("the request carries no tenant from the authorizer")
    return Caller(
        tenant=tenant,
        now=from_epoch_ms(int(context["requestTimeEpoch"])),
        key_id=str((authorizer or {}).get("principalId", "")),
    )
