"""Bad input gets a clear 4xx with a stable code, and changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from .client import Api, now_iso, purchase_body, unique


def _line(amount: Any, **extra: Any) -> list[dict[str, Any]]:
    return [{"sku": "sku-1", "category": "shoes", "amount": amount, **extra}]


PURCHASE_CASES: dict[str, tuple[dict[str, Any], int, str]] = {
    "negative amount": ({"amount": -100, "lines": _line(-100)}, 422, "validation_error"),
    "zero amount": ({"amount": 0, "lines": _line(0)}, 422, "validation_error"),
    "fractional amount": ({"amount": 100.5, "lines": _line(100.5)}, 422, "validation_error"),
    "float amount": ({"amount": 100.0, "lines": _line(100.0)}, 422, "validation_error"),
    "amount as string": ({"amount": "100", "lines": _line("100")}, 422, "validation_error"),
    "amount as boolean": ({"amount": True, "lines": _line(True)}, 422, "validation_error"),
    "absurd amount": ({"amount": 10**15, "lines": _line(10**15)}, 422, "validation_error"),
    "unknown currency": ({"currency": "XYZ"}, 422, "validation_error"),
    "lowercase currency": ({"currency": "brl"}, 422, "validation_error"),
    "mismatched currency": ({"currency": "USD"}, 422, "currency_mismatch"),
    "lines that do not add up": ({"lines": _line(999)}, 422, "validation_error"),
    "no lines": ({"lines": []}, 422, "validation_error"),
    "occurred in the future": (
        {"occurred_at": now_iso(timedelta(days=1))},
        422,
        "occurred_at_in_future",
    ),
    "beyond the back-dating window": (
        {"occurred_at": now_iso(timedelta(days=-8))},
        422,
        "occurred_at_too_old",
    ),
    "time without a zone": ({"occurred_at": "2026-11-25T10:00:00"}, 422, "validation_error"),
    "time as a number": ({"occurred_at": 1764064800}, 422, "validation_error"),
    "time that is not a time": ({"occurred_at": "yesterday"}, 422, "validation_error"),
    **{
        f"time {label}": ({"occurred_at": value}, 422, "validation_error")
        for label, value in {  # finding 3: each was a 500 or read as epoch seconds
            "at the end of year 9999 behind UTC": "9999-12-31T23:59:59-14:00",
            "at the start of year 1 ahead of UTC": "0001-01-01T00:00:00+14:00",
            "as a numeric string": "1767225600",
            "as a numeric string with a fraction": "1767225600.5",
            "before 2000": "1999-12-31T23:59:59Z",
            "from 2100": "2100-01-01T00:00:00Z",
            "without seconds": "2026-01-01T10:00Z",
            "with a space": "2026-01-01 10:00:00Z",
            "with an offset without a colon": "2026-01-01T10:00:00+0300",
        }.items()
    },
    "extra field": ({"balance": 1_000_000}, 422, "validation_error"),
    "extra field in a line": ({"lines": _line(10000, discount=5)}, 422, "validation_error"),
    "order id too long": ({"order_id": "o" * 101}, 422, "validation_error"),
    "order id with a control character": ({"order_id": "o-\x07-1"}, 422, "validation_error"),
    "order id with a key separator": ({"order_id": "o#1"}, 422, "validation_error"),
    "customer id with a space": ({"customer_id": "c 1"}, 422, "validation_error"),
    "unknown channel": ({"channel": "fax"}, 422, "validation_error"),
    "eco as text": ({"lines": _line(10000, eco="yes")}, 422, "validation_error"),
}


@pytest.mark.parametrize("case", PURCHASE_CASES, ids=list(PURCHASE_CASES))
def test_bad_purchase_is_refused_and_changes_nothing(acme: Api, customer: str, case: str) -> None:
    changes, status, code = PURCHASE_CASES[case]
    body = purchase_body(customer, 10000)
    body.update(changes)
    reply = acme.post("/v1/purchases", body)
    assert reply.status_code == status, reply.text
    assert reply.json()["code"] == code
    assert reply.json()["message"]
    assert acme.entries(customer).json()["items"] == []


@pytest.mark.parametrize(
    "missing", ["order_id", "customer_id", "amount", "currency", "occurred_at", "channel", "lines"]
)
def test_purchase_missing_a_field_names_it(acme: Api, customer: str, missing: str) -> None:
    body = purchase_body(customer, 10000)
    del body[missing]
    reply = acme.post("/v1/purchases", body)
    assert (reply.status_code, reply.json()["code"]) == (422, "validation_error")
    assert missing in reply.json()["message"]
    assert acme.entries(customer).json()["items"] == []


RAW_CASES: dict[str, tuple[str, dict[str, str], int, str]] = {
    "not JSON": ("{oops", {"Content-Type": "application/json"}, 400, "invalid_json"),
    "empty body": ("", {"Content-Type": "application/json"}, 400, "empty_body"),
    "oversized body": (
        '{"pad": "' + "x" * 40_000 + '"}',
        {"Content-Type": "application/json"},
        413,
        "body_too_large",
    ),
    "a JSON array": ("[]", {"Content-Type": "application/json"}, 422, "validation_error"),
    "JSON null": ("null", {"Content-Type": "application/json"}, 422, "validation_error"),
}


@pytest.mark.parametrize("case", RAW_CASES, ids=list(RAW_CASES))
@pytest.mark.parametrize("path", ["/v1/purchases", "/v1/refunds"])
def test_unreadable_bodies_are_refused(acme: Api, case: str, path: str) -> None:
    data, headers, status, code = RAW_CASES[case]
    reply = acme.post(path, data=data.encode(), headers=headers)
    assert reply.status_code == status, reply.text
    assert reply.json()["code"] == code


@pytest.fixture
def order(acme: Api, customer: str) -> dict[str, Any]:
    return acme.purchase(customer, 10000).json()  # type: ignore[no-any-return]


REFUND_CASES: dict[str, tuple[dict[str, Any], int, str]] = {
    "zero amount": ({"amount": 0}, 422, "validation_error"),
    "negative amount": ({"amount": -1}, 422, "validation_error"),
    "amount as string": ({"amount": "10"}, 422, "validation_error"),
    "float amount": ({"amount": 10.0}, 422, "validation_error"),
    "lines that do not add up": (
        {"lines": [{"sku": "sku-1", "amount": 7}]},
        422,
        "validation_error",
    ),
    "occurred in the future": (
        {"occurred_at": now_iso(timedelta(days=1))},
        422,
        "occurred_at_in_future",
    ),
    "extra field": ({"customer_id": "someone-else"}, 422, "validation_error"),
    "time at the end of year 9999": (
        {"occurred_at": "9999-12-31T23:59:59-14:00"},
        422,
        "validation_error",
    ),
    "time at the start of year 1": (
        {"occurred_at": "0001-01-01T00:00:00+14:00"},
        422,
        "validation_error",
    ),
    "time as a numeric string": ({"occurred_at": "1767225600"}, 422, "validation_error"),
    "refund id with a control character": ({"refund_id": "r\n1"}, 422, "validation_error"),
    "refund id too long": ({"refund_id": "r" * 101}, 422, "validation_error"),
}


@pytest.mark.parametrize("case", REFUND_CASES, ids=list(REFUND_CASES))
def test_bad_refund_is_refused_and_changes_nothing(
    acme: Api, customer: str, order: dict[str, Any], case: str
) -> None:
    changes, status, code = REFUND_CASES[case]
    body = {
        "refund_id": unique("r"),
        "order_id": order["order_id"],
        "amount": 10,
        "occurred_at": now_iso(),
        **changes,
    }
    reply = acme.post("/v1/refunds", body)
    assert reply.status_code == status, reply.text
    assert reply.json()["code"] == code
    assert acme.balance(customer)["pending"] == 500
    assert len(acme.entries(customer).json()["items"]) == 1


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"limit": "ten"}])
def test_entries_limit_out_of_range_is_422(
    acme: Api, customer: str, params: dict[str, Any]
) -> None:
    reply = acme.entries(customer, **params)
    assert (reply.status_code, reply.json()["code"]) == (422, "validation_error")


# seq:0, seq:-1, seq:1 (never issued: nothing is older), seq:² (a digit, but not ASCII)
@pytest.mark.parametrize("cursor", ["garbage", "c2VxOjA", "c2VxOi0x", "c2VxOjE", "c2VxOsKy", "!!!"])
def test_entries_cursor_not_ours_is_400(acme: Api, customer: str, cursor: str) -> None:
    reply = acme.entries(customer, cursor=cursor)
    assert (reply.status_code, reply.json()["code"]) == (400, "invalid_cursor")


@pytest.mark.parametrize("customer_id", ["c%201", "c%07", "x" * 101])
def test_customer_id_in_the_path_is_validated(acme: Api, customer_id: str) -> None:
    reply = acme.get(f"/v1/customers/{customer_id}/balance")
    assert (reply.status_code, reply.json()["code"]) == (422, "validation_error")


def test_unknown_route_is_404_in_the_same_error_shape(acme: Api) -> None:
    reply = acme.get("/v1/nothing-here")
    assert reply.status_code == 404
    assert reply.json()["code"] == "route_not_found"
