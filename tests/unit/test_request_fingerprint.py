"""A purchase's and a refund's fingerprint (what makes a retry the same request) is the
request's content: the domain input the handler makes of a request hashes exactly as the
request itself, so records written before the services took domain inputs still match."""

from __future__ import annotations

from typing import Any

import pytest

from cashback.api.payloads import PurchaseRequest, RefundRequest
from cashback.domain.clock import to_iso
from cashback.domain.orders import NewPurchase, NewRefund, request_hash

PURCHASE: dict[str, Any] = {
    "order_id": "ord-1",
    "customer_id": "ana",
    "amount": 25990,
    "currency": "BRL",
    "occurred_at": "2026-11-25T10:00:00-03:00",
    "channel": "online",
    "lines": [
        {"sku": "tenis-42", "category": "shoes", "amount": 19990},
        {"sku": "meia-3", "category": "apparel", "amount": 6000, "eco": True},
    ],
}


def _as_requested(request: PurchaseRequest | RefundRequest) -> str:
    body = request.model_dump(mode="json")
    if body.get("segments") == []:
        del body["segments"]  # requests before segments existed hashed without them
    return request_hash({**body, "occurred_at": to_iso(request.occurred_at)})


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"device_id": "d1", "payment_fingerprint": "p1", "birthday": "02-29"},
        {"segments": ["vip", "b2b"]},
    ],
)
def test_a_purchase_hashes_as_its_request(extra: dict[str, Any]) -> None:
    request = PurchaseRequest.model_validate({**PURCHASE, **extra})
    assert NewPurchase.from_dict(request.model_dump()).fingerprint() == _as_requested(request)


@pytest.mark.parametrize("lines", [None, [{"sku": "meia-3", "amount": 6000}]])
def test_a_refund_hashes_as_its_request(lines: list[dict[str, Any]] | None) -> None:
    fields = {"refund_id": "r1", "order_id": "ord-1", "amount": 6000}
    request = RefundRequest.model_validate(
        {**fields, "occurred_at": "2026-11-26T10:00:00+01:00", "lines": lines}
    )
    assert NewRefund.from_dict(request.model_dump()).fingerprint() == _as_requested(request)


def test_segments_are_part_of_a_purchase_only_when_sent() -> None:
    plain = NewPurchase.from_dict(PurchaseRequest.model_validate(PURCHASE).model_dump())
    vip = PurchaseRequest.model_validate({**PURCHASE, "segments": ["vip"]})
    assert NewPurchase.from_dict(vip.model_dump()).fingerprint() != plain.fingerprint()
    assert plain.fingerprint() == request_hash(
        {
            **PURCHASE,
            "lines": [{**line, "eco": line.get("eco", False)} for line in PURCHASE["lines"]],
            "device_id": None,
            "payment_fingerprint": None,
            "birthday": None,
            "occurred_at": "2026-11-25T13:00:00Z",
        }
    )
