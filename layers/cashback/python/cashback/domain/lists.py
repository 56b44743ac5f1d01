"""A storefront's risk lists as entries: each kind, an entry with its reason, author, time
and optional expiry, its audit record, and which entries a purchase is screened against."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal, get_args

from cashback.domain.clock import from_iso, to_iso
from cashback.domain.errors import Unprocessable
from cashback.domain.risk.policy import RiskLists

ListKind = Literal[
    "allow_customer", "deny_customer", "deny_device", "deny_payment", "watch_customer"
]
KINDS: tuple[ListKind, ...] = get_args(ListKind)
ListAction = Literal["put", "delete"]
ListSubject = tuple[ListKind, str]  # (kind, value): the entry's place in the table


@dataclass(frozen=True)
class ListEntry:
    """One value on one list. `at`, `expires_at` and `removed_at` are ISO-8601 UTC; an entry
    applies until it expires or is removed (then it is neither listed nor applied)."""

    tenant: str
    kind: ListKind
    value: str
    reason: str
    by: str  # the API key's id of whoever put it
    at: str
    expires_at: str | None = None
    removed_at: str | None = None

    def live(self, now: datetime) -> bool:
        if self.removed_at is not None:
            return False
        return self.expires_at is None or from_iso(self.expires_at) > now


@dataclass(frozen=True)
class ListChange:
    """The audit record of one change: who put or removed which entry, and when."""

    action: ListAction
    entry: ListEntry  # as put, or as it was when removed
    by: str
    at: str


def new_entry(
    tenant: str,
    kind: ListKind,
    value: str,
    reason: str,
    by: str,
    now: datetime,
    expires_at: datetime | None = None,
) -> ListEntry:
    """An entry put now; an expiry must lie in the future (422 expiry_in_past)."""
    if expires_at is not None and expires_at <= now:
        raise Unprocessable(
            "expires_at must be in the future",
            code="expiry_in_past",
            details={"expires_at": to_iso(expires_at), "now": to_iso(now)},
        )
    return ListEntry(
        tenant=tenant,
        kind=kind,
        value=value,
        reason=reason,
        by=by,
        at=to_iso(now),
        expires_at=to_iso(expires_at) if expires_at is not None else None,
    )


def put_change(entry: ListEntry) -> ListChange:
    return ListChange(action="put", entry=entry, by=entry.by, at=entry.at)


def removal(entry: ListEntry, by: str, now: datetime) -> tuple[ListEntry, ListChange]:
    """The entry as removed (kept as a tombstone until the table's TTL deletes it) and the
    audit record of its removal."""
    at = to_iso(now)
    return replace(entry, removed_at=at), ListChange(action="delete", entry=entry, by=by, at=at)


def purchase_subjects(
    customer_id: str, device_id: str | None, payment_fingerprint: str | None
) -> tuple[ListSubject, ...]:
    """The entries a purchase is screened against: its customer on the allow, deny and
    watch lists, its device and payment fingerprint on the deny lists."""
    subjects: list[ListSubject] = [
        ("allow_customer", customer_id),
        ("deny_customer", customer_id),
        ("watch_customer", customer_id),
    ]
    if device_id:
        subjects.append(("deny_device", device_id))
    if payment_fingerprint:
        subjects.append(("deny_payment", payment_fingerprint))
    return tuple(subjects)


def risk_lists(entries: Iterable[ListEntry], now: datetime) -> RiskLists:
    """The lists the decision reads, from the entries that apply at `now`."""
    values: dict[ListKind, set[str]] = {kind: set() for kind in KINDS}
    for entry in entries:
        if entry.live(now):
            values[entry.kind].add(entry.value)
    return RiskLists(
        allow_customers=frozenset(values["allow_customer"]),
        deny_customers=frozenset(values["deny_customer"]),
        deny_devices=frozenset(values["deny_device"]),
        deny_payments=frozenset(values["deny_payment"]),
        watch_customers=frozenset(values["watch_customer"]),
    )
