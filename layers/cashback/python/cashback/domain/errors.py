"""Domain errors. Each carries the stable machine-readable code and HTTP status the API
replies with; the HTTP edge maps them in one place (cashback.api.http)."""

from __future__ import annotations

from typing import Any


class CashbackError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details


class BadRequest(CashbackError):
    status = 400
    code = "bad_request"


class NotFound(CashbackError):
    status = 404
    code = "not_found"


class Conflict(CashbackError):
    """The same idempotency key was used with a different request body."""

    status = 409
    code = "idempotency_conflict"


class Unprocessable(CashbackError):
    """Well-formed but breaks a business rule (currency, amounts, dates)."""

    status = 422
    code = "unprocessable"


class ServiceUnavailable(CashbackError):
    """Try again shortly: nothing was changed. Every 503 tells the client when to retry
    (the HTTP edge adds `Retry-After: <retry_after>` seconds)."""

    status = 503
    code = "unavailable"
    retry_after = 1


class Contention(ServiceUnavailable):
    """Too many concurrent writers on one account; safe to retry."""

    code = "contention"


class Throttled(ServiceUnavailable):
    """DynamoDB throttled us beyond the SDK's own retries; safe to retry."""

    code = "throttled"
    retry_after = 2


class Forbidden(CashbackError):
    status = 403
    code = "forbidden"


class PayloadTooLarge(CashbackError):
    status = 413
    code = "body_too_large"


class UnsupportedMediaType(CashbackError):
    status = 415
    code = "unsupported_media_type"
