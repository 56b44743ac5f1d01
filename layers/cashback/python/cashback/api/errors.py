"""The one table from domain errors to HTTP: each error's status, and for the 503s the
seconds a client waits before it retries (Retry-After). Statuses live only here."""

from __future__ import annotations

from dataclasses import dataclass

from cashback.domain.errors import (
    BadRequest,
    CashbackError,
    Conflict,
    Contention,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Throttled,
    Unprocessable,
    UnsupportedMediaType,
)


@dataclass(frozen=True)
class HttpStatus:
    status: int
    retry_after: int | None = None  # seconds; every 503 has one


STATUSES: dict[type[CashbackError], HttpStatus] = {
    CashbackError: HttpStatus(400),
    BadRequest: HttpStatus(400),
    Forbidden: HttpStatus(403),
    NotFound: HttpStatus(404),
    Conflict: HttpStatus(409),
    PayloadTooLarge: HttpStatus(413),
    UnsupportedMediaType: HttpStatus(415),
    Unprocessable: HttpStatus(422),
    # Try again shortly: nothing was changed.
    ServiceUnavailable: HttpStatus(503, retry_after=1),
    Contention: HttpStatus(503, retry_after=1),
    Throttled: HttpStatus(503, retry_after=2),
}


def http_status(error: CashbackError) -> HttpStatus:
    """The error's row, or its nearest ancestor's."""
    for kind in type(error).__mro__:
        if kind in STATUSES:
            return STATUSES[kind]
    raise AssertionError("CashbackError is in the table")  # unreachable
