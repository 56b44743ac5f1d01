"""The HTTP edge every API function shares: one resolver setup, one error shape.

Domain errors carry their status and code (cashback.errors); this module maps them, and
the resolver's own validation errors, to `{"code", "message", "details"}` replies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from botocore.exceptions import ClientError

from cashback.clock import from_epoch_ms
from cashback.errors import (
    BadRequest,
    CashbackError,
    Forbidden,
    PayloadTooLarge,
    ServiceUnavailable,
    Throttled,
)
from cashback.observability import logger

MAX_BODY_BYTES = 32 * 1024

# DynamoDB's answers that mean "too fast, later" (the SDK has already retried them).
THROTTLING_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "Throttling", "TooManyRequestsException"})


def error_response(status: int, code: str, message: str, details: Any = None,
                   retry_after: int | None = None) -> Response:
    """The one error shape. Every 503 carries Retry-After (seconds): ServiceUnavailable's
    own, or one second."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    headers = None
    if status == 503:
        headers = {"Retry-After": str(retry_after or ServiceUnavailable.retry_after)}
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body=json.dumps(body), headers=headers)


def throttled(error: ClientError) -> bool:
    """DynamoDB throttled the call, or a transaction whose items it throttled."""
    response = error.response or {}
    if response.get("Error", {}).get("Code") in THROTTLING_CODES:
        return True
    reasons = response.get("CancellationReasons") or []
    return any(reason.get("Code") in ("ThrottlingError", "ProvisionedThroughputExceeded")
               for reason in reasons)


def json_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None
                  ) -> Response[Any]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body=body, headers=headers)


def _field(loc: Any) -> str:
    parts = [str(p) for p in loc if p != "body"] if isinstance(loc, list | tuple) else [str(loc)]
    return ".".join(parts) or "body"


def _validation_reply(error: RequestValidationError) -> Response:
    errors = error.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "invalid_json", "the body is not valid JSON")
    details = [{"field": _field(e.get("loc", ())), "problem": e.get("msg", "invalid")}
               for e in errors]
    summary = "; ".join(f"{d['field']}: {d['problem']}" for d in details[:5])
    return error_response(422, "validation_error", summary, details)


def _body_problem(event: dict[str, Any]) -> CashbackError | None:
    body = event.get("body") or ""
    if len(body.encode()) > MAX_BODY_BYTES:
        return PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES} bytes")
    if event.get("httpMethod") in ("POST", "PUT", "PATCH") and not body.strip():
        return BadRequest("this request needs a JSON body", code="empty_body")
    return None


class CashbackResolver(APIGatewayRestResolver):
    """Powertools' REST resolver, refusing oversized or empty bodies before anything parses
    them (its request validation runs before any middleware could)."""

    def resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        problem = _body_problem(event)
        if problem is not None:
            return {"statusCode": problem.status,
                    "headers": {"Content-Type": content_types.APPLICATION_JSON},
                    "body": json.dumps({"code": problem.code, "message": problem.message}),
                    "isBase64Encoded": False}
        return super().resolve(event, context)


def make_resolver() -> CashbackResolver:
    app = CashbackResolver(enable_validation=True)

    @app.exception_handler(CashbackError)
    def _domain_error(error: CashbackError) -> Response:
        return error_response(error.status, error.code, error.message, error.details,
                              retry_after=getattr(error, "retry_after", None))

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response:
        return _validation_reply(error)

    @app.not_found
    def _no_route(_: NotFoundError) -> Response:
        # API Gateway only sends this function the routes it serves, so a miss here means
        # a path parameter holds characters no id may contain.
        if app.current_event.resource:
            return error_response(422, "validation_error",
                                  "a path parameter holds characters an id may not contain")
        return error_response(404, "route_not_found", "no such route")

    @app.exception_handler(ClientError)
    def _aws_error(error: ClientError) -> Response:
        if throttled(error):
            logger.warning("throttled by AWS", extra={"error": str(error)})
            busy = Throttled("the ledger is busy; retry after the time in Retry-After")
            return error_response(busy.status, busy.code, busy.message,
                                  retry_after=busy.retry_after)
        return _unexpected(error)

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(500, "internal_error", "something went wrong on our side")

    return app


@dataclass(frozen=True)
class Caller:
    tenant: str
    now: datetime
    key_id: str = ""  # which API key (its public prefix), for audit trails


def caller(app: APIGatewayRestResolver) -> Caller:
    """Who is calling (from the authorizer, never from the request) and when API Gateway
    received the request: the only clock a request handler reads."""
    context = app.current_event.request_context
    authorizer = (app.current_event.raw_event.get("requestContext") or {}).get("authorizer")
    tenant = (authorizer or {}).get("tenant")
    if not tenant:
        raise Forbidden("the request carries no tenant from the authorizer")
    return Caller(tenant=tenant, now=from_epoch_ms(context.request_time_epoch),
                  key_id=str((authorizer or {}).get("principalId", "")))
