"""Domain errors. Each carries a stable machine-readable code (and details) and no HTTP
status: the HTTP edge maps each class to its status in one table (cashback.api.errors)."""

from __future__ import annotations

from typing import Any


class CashbackError(Exception):
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details


class BadRequest(CashbackError):
    code = "bad_request"


class NotFound(CashbackError):
    code = "not_found"


class Conflict(CashbackError):
    """The same idempotency key was used with a different request body."""

    code = "idempotency_conflict"


class Unprocessable(CashbackError):
    """Well-formed but breaks a business rule (currency, amounts, dates)."""

    code = "unprocessable"


class ServiceUnavailable(CashbackError):
    """Try again shortly: nothing was changed. The HTTP edge tells the client when to retry
    (Retry-After, from cashback.api.errors)."""

    code = "unavailable"


class Contention(ServiceUnavailable):
    """Too many concurrent writers on one account; safe to retry."""

    code = "contention"


class Throttled(ServiceUnavailable):
    """DynamoDB throttled us beyond the SDK's own retries; safe to retry."""

    code = "throttled"


class Forbidden(CashbackError):
    code = "forbidden"


class PayloadTooLarge(CashbackError):
    code = "body_too_large"


class UnsupportedMediaType(CashbackError):
    code = "unsupported_media_type"
