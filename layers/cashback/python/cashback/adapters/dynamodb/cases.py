"""Where cases are found: three sparse indexes over the orders that opened one, one per
sort (risk, age, amount), partitioned by the case's state, and the cursors that page them.

An order that opens a case carries `queue_pk = REVIEW#<tenant>#open` and one sort key per
index; closing the case only rewrites `queue_pk` (approved, rejected, or refunded when a
refund closed it), so decided cases stay listed, in the same three orders."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
from typing import Any

from cashback.domain.cases import CaseSort, CaseState
from cashback.domain.clock import from_iso
from cashback.domain.errors import BadRequest
from cashback.domain.ids import ID_PATTERN
from cashback.domain.orders import Order

# The index of each sort and the attribute it sorts on.
INDEXES: dict[CaseSort, tuple[str, str]] = {
    "risk": ("queue", "queue_sk"),
    "age": ("queue_age", "age_sk"),
    "amount": ("queue_amount", "amount_sk"),
}
AMOUNT_DIGITS = 15
_TIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"
_ID = ID_PATTERN.strip("^$")
_SORT_KEYS: dict[CaseSort, re.Pattern[str]] = {
    "risk": re.compile(rf"[0-9]{{6}}#({_TIME})#({_ID})"),
    "age": re.compile(rf"({_TIME})#({_ID})"),
    "amount": re.compile(rf"[0-9]{{{AMOUNT_DIGITS}}}#({_TIME})#({_ID})"),
}


def queue_pk(tenant: str, state: CaseState) -> str:
    return f"REVIEW#{tenant}#{state}"


def case_keys(order: Order) -> dict[str, str]:
    """The index keys of an order that opens a case: riskiest first ((1 - score)
    ascending), oldest first, and largest purchase first; each then by time and id."""
    if order.case_status != "open" or not order.risk:
        return {}
    score = float(order.risk.get("score") or 0)
    inverted = f"{max(0, min(999999, round((1 - score) * 1_000_000))):06d}"
    largest = 10**AMOUNT_DIGITS - 1
    amount = f"{largest - max(0, min(largest, order.amount)):0{AMOUNT_DIGITS}d}"
    when = f"{order.occurred_at}#{order.order_id}"
    return {
        "queue_pk": queue_pk(order.tenant, "open"),
        "queue_sk": f"{inverted}#{when}",
        "age_sk": when,
        "amount_sk": f"{amount}#{when}",
    }


def cursor_of(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    plain = {name: value["S"] for name, value in key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def key_of(cursor: str, tenant: str, state: CaseState, sort: CaseSort) -> dict[str, Any]:
    """The index position a cursor names. Only a cursor this API could have returned for
    this tenant, state and sort is one: the exact encoding, the four keys of an order's
    index entry, each in its format and agreeing with the others. Anything else is 400,
    never a query."""
    plain: Any = None
    with contextlib.suppress(binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        plain = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    attribute = INDEXES[sort][1]
    found = (
        _SORT_KEYS[sort].fullmatch(plain.get(attribute, ""))
        if isinstance(plain, dict) and all(isinstance(value, str) for value in plain.values())
        else None
    )
    valid = found is not None and plain == {
        "pk": f"ORDER#{tenant}#{found.group(2)}",
        "sk": "ORDER",
        "queue_pk": queue_pk(tenant, state),
        attribute: found.group(0),
    }
    if valid:
        try:
            from_iso(found.group(1))  # type: ignore[union-attr]
        except ValueError:
            valid = False
    key = {name: {"S": value} for name, value in plain.items()} if valid else None
    if key is None or cursor_of(key) != cursor:
        raise BadRequest("cursor is not one this API returned", code="invalid_cursor")
    return key
