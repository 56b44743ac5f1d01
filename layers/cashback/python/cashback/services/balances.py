"""What a customer has: balances, the next deadline, and the ledger history."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime

from cashback.domain.balances import DEADLINES_SHOWN, Balance, History, NextExpiry, monthly_cap
from cashback.domain.errors import BadRequest
from cashback.domain.ledger import NEVER
from cashback.domain.rules.ruleset import RuleSet
from cashback.services import growth
from cashback.services.ports import AccountStore

_CURSOR_PREFIX = "seq:"


def balance(
    store: AccountStore,
    tenant: str,
    customer_id: str,
    *,
    rules: RuleSet | None = None,
    now: datetime | None = None,
) -> Balance:
    """The account's balances and next deadlines; with the program in force (`rules`) and
    the time of the request (`now`), also this month's cap and what is left of it."""
    account = store.get_account(tenant, customer_id)
    deadlines = _next_deadlines(store, tenant, customer_id) if account.exists else ()
    cap = monthly_cap(rules, account, now) if now is not None else None
    ahead = tuple(growth.towards(account, rules, now)) if now is not None else ()
    return Balance(account, deadlines, cap, tuple(growth.reached_at(account)), ahead)


def _next_deadlines(store: AccountStore, tenant: str, customer_id: str) -> tuple[NextExpiry, ...]:
    """The earliest deadlines with cashback still on them (pending or available), and how
    much falls due at each: the live lots (only lots that hold cashback are on the index),
    earliest deadline first, summed per deadline. One read: the shown deadlines' lots and
    the first lot past them (it tells the last shown deadline has no more lots), unless
    several lots share a deadline."""
    due: dict[str, int] = {}
    for lot in store.live_lots(tenant, customer_id, page=DEADLINES_SHOWN + 1):
        if lot.ends_at == NEVER:  # sorts last: nothing after it expires either
            break
        if lot.ends_at not in due and len(due) == DEADLINES_SHOWN:
            break
        due[lot.ends_at] = due.get(lot.ends_at, 0) + lot.pending + lot.available
    return tuple(NextExpiry(at=at, amount=amount) for at, amount in due.items())


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    digits = text.removeprefix(_CURSOR_PREFIX)
    if (
        not text.startswith(_CURSOR_PREFIX)
        or not re.fullmatch(r"[1-9][0-9]{0,11}", digits)
        or int(digits) < 2
        or encode_cursor(int(digits)) != cursor
    ):
        raise BadRequest("cursor is not one this API returned", code="invalid_cursor")
    return int(digits)


def entries(
    store: AccountStore, tenant: str, customer_id: str, limit: int, cursor: str | None
) -> History:
    """One page of the customer's ledger, newest first, from where `cursor` says."""
    before = decode_cursor(cursor) if cursor is not None else None
    page, next_seq = store.entries_page(tenant, customer_id, limit, before)
    return History(page, encode_cursor(next_seq) if next_seq else None)
