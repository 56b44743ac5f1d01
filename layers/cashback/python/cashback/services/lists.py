"""Analysts manage a storefront's allow, deny and watch lists: put, remove, page through
the live entries and the audit trail. Each change is audited in its own transaction."""

from __future__ import annotations

from datetime import datetime

from cashback.domain import lists
from cashback.domain.clock import to_iso
from cashback.domain.errors import Contention, NotFound
from cashback.domain.lists import ListChange, ListEntry, ListKind
from cashback.services.ports import ListStore

MAX_ATTEMPTS = 3


def put(
    store: ListStore,
    tenant: str,
    kind: ListKind,
    value: str,
    reason: str,
    by: str,
    now: datetime,
    expires_at: datetime | None = None,
) -> ListEntry:
    """Put a value on a list (over its earlier entry, if any); the next purchase sees it.
    An expiry must be in the future (422 expiry_in_past)."""
    entry = lists.new_entry(tenant, kind, value, reason, by, now, expires_at)
    store.put_list_entry(entry)
    return entry


def remove(
    store: ListStore, tenant: str, kind: ListKind, value: str, by: str, now: datetime
) -> None:
    """Take a value off a list (404 list_entry_not_found when it is not on it, or its entry
    expired); the audit item keeps the entry as it was."""
    for _ in range(MAX_ATTEMPTS):
        entry = store.get_list_entry(tenant, kind, value)
        if entry is None or not entry.live(now):
            raise NotFound(f"{value} is not on the {kind} list", code="list_entry_not_found")
        removed, change = lists.removal(entry, by, now)
        if store.remove_list_entry(entry, removed, change):
            return
    raise Contention("the entry kept changing; retry the request")


def page(
    store: ListStore,
    tenant: str,
    kind: ListKind | None,
    now: datetime,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[ListEntry], str | None]:
    """Live entries (of one kind, or all) by kind and value, and the next page's cursor."""
    return store.list_entries(tenant, kind, to_iso(now), limit, cursor)


def audit(
    store: ListStore, tenant: str, limit: int, cursor: str | None = None
) -> tuple[list[ListChange], str | None]:
    """The audit trail of every change, newest first, and the next page's cursor."""
    return store.list_changes(tenant, limit, cursor)
