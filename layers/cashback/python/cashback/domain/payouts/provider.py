"""The payout provider port: what any PIX or bank provider offers the program (batched,
idempotent submission, status polling), and its signed status callbacks.

Submission: the payout's id is the provider's idempotency key, so submitting a payout again
(after a timeout, or a job run twice) never pays twice. A `ProviderTimeout` means the
provider's answer is unknown: retry with the same key, or poll `status`.

Callbacks are signed as Stripe signs webhooks: the header is `t=<unix seconds>,v1=<hex>`,
the signature HMAC-SHA256 with the shared secret over `<t>.<raw body>`. A callback is
refused when its header is malformed or no v1 signature matches (`signature_invalid`), or
when `t` is more than the tolerance away from now, either way (`signature_stale`): a
replayed old callback cannot be re-signed without the secret."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator

from cashback.domain.clock import Timestamp
from cashback.domain.errors import Forbidden, ServiceUnavailable
from cashback.domain.ids import StoreId
from cashback.domain.payouts.destinations import PayoutMethod

ProviderStatus = Literal["submitted", "paid", "failed", "returned"]
SIGNATURE_HEADER = "Cashback-Signature"
DEFAULT_TOLERANCE_SECONDS = 300
FailureCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
_V1 = re.compile(r"[0-9a-f]{64}")
_UNIX = re.compile(r"[0-9]{1,10}")  # up to the year 2286
# What the provider knows a payout by (its idempotency key): "<tenant>:<payout_id>", unique
# across storefronts, so a callback names the storefront and its payout.
# The storefront's id alphabet, long enough for a tenant (40), the colon and an id (100).
ProviderKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@+\-]{0,140}$")]


def provider_key(tenant: str, payout_id: str) -> str:
    return f"{tenant}:{payout_id}"


def from_provider_key(key: str) -> tuple[str, str]:
    """(tenant, payout_id) of a provider key."""
    tenant, _, payout_id = key.partition(":")
    return tenant, payout_id


@dataclass(frozen=True)
class PayoutOrder:
    """One payout as the provider is asked to make it."""

    payout_id: str  # the idempotency key
    amount: int  # minor units
    currency: str
    method: PayoutMethod  # the method and its destination


@dataclass(frozen=True)
class Acknowledgement:
    """The provider's answer to one submitted payout: taken (`submitted`; it will call back
    or can be polled), or refused at once (`failed`, with a code: it will never be paid)."""

    payout_id: str
    reference: str  # the provider's own id of the payment
    status: Literal["submitted", "failed"] = "submitted"
    failure_code: str | None = None


@dataclass(frozen=True)
class ProviderReport:
    """What polling the provider tells about one payout."""

    payout_id: str
    status: ProviderStatus
    occurred_at: datetime  # when it reached that status, by the provider's clock
    failure_code: str | None = None


class ProviderTimeout(ServiceUnavailable):
    """The provider did not answer: whether it took the payouts is unknown. Submit them
    again with the same ids (it never pays twice) or poll their status."""

    code = "provider_timeout"


class PayoutProvider(Protocol):
    """Any PIX or bank provider the submission job and the callback route can use."""

    name: str  # the {name} of POST /v1/providers/{name}/events
    max_batch: int  # the most payouts one submit takes

    def submit(self, payouts: Sequence[PayoutOrder]) -> list[Acknowledgement]:
        """One acknowledgement per payout, in order; payouts it already has are answered
        as before and never paid again. May raise ProviderTimeout."""
        ...

    def status(self, payout_id: str) -> ProviderReport | None:
        """Where the payout stands at the provider; None when it never received it (the
        job submits it again, with the same key)."""
        ...


def batches(payouts: Sequence[PayoutOrder], size: int) -> Iterator[Sequence[PayoutOrder]]:
    """The payouts in submission batches of at most `size`, in order."""
    if size < 1:
        raise ValueError("a batch holds at least one payout")
    for start in range(0, len(payouts), size):
        yield payouts[start : start + size]


class ProviderEvent(BaseModel):
    """A provider's status callback, as its body is read once the signature is verified."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: StoreId  # the same event delivered twice has the same id
    payout_id: ProviderKey
    status: ProviderStatus
    occurred_at: Timestamp
    failure_code: FailureCode | None = None

    @model_validator(mode="after")
    def _failure_only_when_it_failed(self) -> ProviderEvent:
        if self.failure_code is not None and self.status not in ("failed", "returned"):
            raise ValueError("failure_code is given only with status failed or returned")
        return self


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def signature(secret: str | bytes, body: str | bytes, timestamp: int) -> str:
    """The hex HMAC-SHA256 of `<timestamp>.<body>` under `secret`."""
    signed = str(timestamp).encode() + b"." + _as_bytes(body)
    return hmac.new(_as_bytes(secret), signed, hashlib.sha256).hexdigest()


def sign(secret: str | bytes, body: str | bytes, timestamp: int) -> str:
    """The signature header of a callback body sent at `timestamp` (unix seconds)."""
    return f"t={timestamp},v1={signature(secret, body, timestamp)}"


def verify(
    secret: str | bytes,
    body: str | bytes,
    header: str | None,
    now: datetime,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> datetime:
    """The time the callback was signed, if `header` signs exactly this raw `body` with
    `secret` within `tolerance_seconds` of `now`; else Forbidden (`signature_invalid`,
    `signature_stale`). Several v1 signatures may be given (a secret being rotated)."""
    timestamp, candidates = _parse_header(header)
    expected = signature(secret, body, timestamp)
    # Every candidate is compared, in constant time each, whatever matched before.
    matched = [hmac.compare_digest(expected, candidate) for candidate in candidates]
    if not any(matched):
        raise _invalid("no signature in the header matches the body")
    signed_at = datetime.fromtimestamp(timestamp, tz=UTC)
    if abs((now - signed_at).total_seconds()) > tolerance_seconds:
        raise Forbidden(
            f"the callback was signed at {timestamp}, more than {tolerance_seconds} "
            "seconds from now",
            code="signature_stale",
            details={"tolerance_seconds": tolerance_seconds},
        )
    return signed_at


def _parse_header(header: str | None) -> tuple[int, list[str]]:
    """`t` and the v1 signatures of `t=<unix>,v1=<hex>[,v1=<hex>...]`; other schemes (a
    v0) are ignored, as Stripe's libraries do."""
    if not header or len(header) > 1024:
        raise _invalid(f"the {SIGNATURE_HEADER} header is missing or too long")
    timestamps, candidates = [], []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise _invalid(f"the {SIGNATURE_HEADER} header is not t=<unix>,v1=<hex>")
        if key == "t":
            timestamps.append(value)
        elif key == "v1" and _V1.fullmatch(value):
            candidates.append(value)
    if len(timestamps) != 1 or not _UNIX.fullmatch(timestamps[0]) or not candidates:
        raise _invalid(f"the {SIGNATURE_HEADER} header is not t=<unix>,v1=<hex>")
    return int(timestamps[0]), candidates


def _invalid(message: str) -> Forbidden:
    return Forbidden(message, code="signature_invalid")
