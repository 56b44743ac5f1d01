"""The payout provider port (issue 10): the signed callbacks (a known HMAC-SHA256 vector,
every way a header is refused, the tolerance both ways, secret rotation, constant-time
comparison), the callback event model, and submission batches."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from cashback.domain.errors import Forbidden, ServiceUnavailable
from cashback.domain.payouts import provider
from cashback.domain.payouts.destinations import parse_payout_method
from cashback.domain.payouts.provider import (
    PayoutOrder,
    ProviderEvent,
    ProviderTimeout,
    batches,
    sign,
    verify,
)

SECRET = "whsec_test"
BODY = (
    b'{"event_id":"evt_1","payout_id":"po_1","status":"paid","occurred_at":"2026-11-30T15:00:00Z"}'
)
SIGNED_AT = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
T = 1796050800  # SIGNED_AT in unix seconds
# openssl dgst -sha256 -hmac whsec_test over "1796050800.<BODY>"
V1 = "1f1a25c75205eb207ae812a3339f276c9b9fc984cf2efe3650b2003a2ef50418"
HEADER = f"t={T},v1={V1}"


def refused(header: str | None, body: bytes = BODY, now: datetime = SIGNED_AT) -> tuple[str, Any]:
    with pytest.raises(Forbidden) as caught:
        verify(SECRET, body, header, now)
    return caught.value.code, caught.value.details


def test_sign_gives_the_stripe_style_header_of_the_known_vector() -> None:
    assert sign(SECRET, BODY, T) == HEADER
    assert sign(SECRET.encode(), BODY.decode(), T) == HEADER


def test_a_callback_signed_with_the_secret_is_verified_and_its_time_returned() -> None:
    assert verify(SECRET, BODY, HEADER, SIGNED_AT + timedelta(seconds=30)) == SIGNED_AT


@pytest.mark.parametrize(
    "body",
    [
        BODY.replace(b'"paid"', b'"failed"'),
        BODY + b" ",
        BODY.replace(b"po_1", b"po_2"),
        b"",
    ],
)
def test_a_body_changed_after_signing_is_refused(body: bytes) -> None:
    assert refused(HEADER, body) == ("signature_invalid", None)


def test_a_callback_signed_with_another_secret_is_refused() -> None:
    with pytest.raises(Forbidden) as caught:
        verify("whsec_other", BODY, HEADER, SIGNED_AT)
    assert caught.value.code == "signature_invalid"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        f"v1={V1}",  # no timestamp
        f"t={T}",  # no signature
        f"t={T},v0={V1}",  # only a scheme we do not check
        f"t={T},v1={V1.upper()}",  # not lower-case hex
        f"t={T},v1={V1[:-1]}",  # too short
        f"t=abc,v1={V1}",
        f"t=-{T},v1={V1}",
        f"t={T}0000,v1={V1}",  # beyond any date we take
        f"t={T},t={T},v1={V1}",
        f"t={T};v1={V1}",
        f"t={T},v1={V1}," + "x" * 1024,
    ],
)
def test_a_malformed_header_is_refused_as_invalid(header: str | None) -> None:
    assert refused(header)[0] == "signature_invalid"


def test_the_timestamp_is_part_of_what_is_signed() -> None:
    assert refused(f"t={T + 1},v1={V1}", now=SIGNED_AT)[0] == "signature_invalid"


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(0, True), (300, True), (-300, True), (301, False), (-301, False), (86_400, False)],
)
def test_a_signature_older_or_newer_than_the_tolerance_is_stale(
    offset: int, accepted: bool
) -> None:
    now = SIGNED_AT + timedelta(seconds=offset)
    if accepted:
        assert verify(SECRET, BODY, HEADER, now) == SIGNED_AT
    else:
        assert refused(HEADER, now=now) == ("signature_stale", {"tolerance_seconds": 300})


def test_the_tolerance_can_be_chosen() -> None:
    later = SIGNED_AT + timedelta(seconds=600)
    assert verify(SECRET, BODY, HEADER, later, tolerance_seconds=600) == SIGNED_AT
    with pytest.raises(Forbidden, match="more than 60 seconds"):
        verify(SECRET, BODY, HEADER, SIGNED_AT + timedelta(seconds=61), tolerance_seconds=60)


def test_while_a_secret_is_rotated_either_signature_verifies() -> None:
    old = sign("whsec_old", BODY, T).partition(",")[2]
    assert verify(SECRET, BODY, f"t={T},{old},v1={V1}", SIGNED_AT) == SIGNED_AT
    assert verify(SECRET, BODY, f"t={T}, v0=abc, v1={V1}", SIGNED_AT) == SIGNED_AT


def test_signatures_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[str, str]] = []
    compare_digest = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return compare_digest(a, b)

    monkeypatch.setattr(provider.hmac, "compare_digest", spy)
    verify(SECRET, BODY, f"t={T},v1={V1},v1={'0' * 64}", SIGNED_AT)
    assert compared == [(V1, V1), (V1, "0" * 64)]


@given(
    secret=st.binary(min_size=1, max_size=64),
    body=st.binary(max_size=512),
    timestamp=st.integers(min_value=946_684_800, max_value=4_102_444_799),
    flip=st.integers(min_value=0),
)
def test_any_signed_body_verifies_and_any_changed_byte_is_refused(
    secret: bytes, body: bytes, timestamp: int, flip: int
) -> None:
    now = datetime.fromtimestamp(timestamp, tz=UTC)
    header = sign(secret, body, timestamp)
    assert verify(secret, body, header, now) == now
    if body:
        at = flip % len(body)
        changed = body[:at] + bytes([body[at] ^ 1]) + body[at + 1 :]
        with pytest.raises(Forbidden):
            verify(secret, changed, header, now)


# The callback event


def test_a_verified_body_reads_as_a_provider_event() -> None:
    event = ProviderEvent.model_validate_json(BODY)
    assert event == ProviderEvent(
        event_id="evt_1", payout_id="po_1", status="paid", occurred_at=SIGNED_AT
    )
    assert event.failure_code is None


@pytest.mark.parametrize("status", ["submitted", "paid", "failed", "returned"])
def test_each_provider_status_is_an_event(status: str) -> None:
    event = {
        "event_id": "e",
        "payout_id": "p",
        "status": status,
        "occurred_at": "2026-11-30T15:00:00Z",
    }
    assert ProviderEvent.model_validate(event).status == status


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "requested"}, "status"),
        ({"status": "canceled"}, "status"),
        ({"occurred_at": 1796050800}, "occurred_at"),
        ({"occurred_at": "2026-11-30T15:00:00"}, "occurred_at"),
        ({"payout_id": "po 1"}, "payout_id"),
        ({"event_id": ""}, "event_id"),
        ({"failure_code": "Account Closed", "status": "failed"}, "failure_code"),
        ({"amount": 100}, "amount"),
    ],
)
def test_a_wrong_event_is_refused_at_its_field(change: dict[str, Any], field: str) -> None:
    event = {"event_id": "evt_1", "payout_id": "po_1", "status": "paid"}
    event |= {"occurred_at": "2026-11-30T15:00:00Z", **change}
    with pytest.raises(ValidationError) as caught:
        ProviderEvent.model_validate(event)
    assert [error["loc"] for error in caught.value.errors()] == [(field,)]


def test_a_failure_code_comes_only_with_a_failure_or_a_return() -> None:
    event = {"event_id": "e", "payout_id": "p", "occurred_at": "2026-11-30T15:00:00Z"}
    failed = ProviderEvent.model_validate({**event, "status": "failed", "failure_code": "closed"})
    assert failed.failure_code == "closed"
    with pytest.raises(ValidationError, match="failure_code is given only"):
        ProviderEvent.model_validate({**event, "status": "paid", "failure_code": "closed"})


# Submission


def order(payout_id: str) -> PayoutOrder:
    method = parse_payout_method({"method": "store_credit"})
    return PayoutOrder(payout_id=payout_id, amount=2000, currency="BRL", method=method)


def test_payouts_are_submitted_in_batches_of_at_most_the_providers_size() -> None:
    orders = [order(f"po_{i}") for i in range(250)]
    sizes = [len(batch) for batch in batches(orders, 100)]
    assert sizes == [100, 100, 50]
    assert [o for batch in batches(orders, 100) for o in batch] == orders
    assert list(batches([], 100)) == []
    with pytest.raises(ValueError):
        list(batches(orders, 0))


def test_a_provider_timeout_is_a_retryable_error_with_its_own_code() -> None:
    timeout = ProviderTimeout("the provider did not answer")
    assert isinstance(timeout, ServiceUnavailable)
    assert timeout.code == "provider_timeout"
