"""List entries in the table (moto): a put and its audit item as transaction items another
transaction can carry, tombstones that apply to nothing, and pages by cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cashback.adapters.dynamodb.lists import entry_writes
from cashback.adapters.dynamodb.store import Store
from cashback.adapters.dynamodb.table import put_new
from cashback.domain.lists import new_entry, removal

from .test_events import table  # noqa: F401 - fixture

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_entry_writes_ride_in_another_transaction(table: Store) -> None:  # noqa: F811
    entry = new_entry("acme", "watch_customer", "ana", "decided: refund abuse", "cbk_a", NOW)
    other = put_new({"pk": "TEST#acme", "sk": "DECISION", "by": "cbk_a"})
    table._transact([other, *entry_writes(entry)], first_is_idempotency_record=False)
    assert table.get_list_entry("acme", "watch_customer", "ana") == entry
    changes, _ = table.list_changes("acme", 10, None)
    assert [(c.action, c.entry) for c in changes] == [("put", entry)]
    found = table.load_purchase("acme", "o-1", "ana", (), (("watch_customer", "ana"),))
    assert found[3] == [entry]


def test_a_removed_entry_is_a_tombstone_that_is_neither_listed_nor_live(
    table: Store,  # noqa: F811
) -> None:
    entry = new_entry("acme", "deny_device", "d-1", "stolen", "cbk_a", NOW)
    table.put_list_entry(entry)
    removed, change = removal(entry, "cbk_b", NOW + timedelta(minutes=1))
    assert table.remove_list_entry(entry, removed, change)
    assert not table.remove_list_entry(entry, removed, change)  # removed already
    stored = table.get_list_entry("acme", "deny_device", "d-1")
    assert stored is not None and not stored.live(NOW + timedelta(minutes=1))
    assert table.list_entries("acme", None, "2026-11-30T12:02:00Z", 10, None) == ([], None)
    item = table._get({"pk": "LIST#acme", "sk": "deny_device#d-1"})
    assert item is not None and item["ttl"] == int((NOW + timedelta(minutes=1)).timestamp())


def test_pages_skip_expired_entries_and_follow_cursors(table: Store) -> None:  # noqa: F811
    for n in range(5):
        expires = NOW + timedelta(hours=1) if n % 2 else None
        table.put_list_entry(
            new_entry("acme", "deny_customer", f"c-{n}", "r", "cbk_a", NOW, expires)
        )
    later = "2026-11-30T14:00:00Z"  # the odd ones expired
    first, cursor = table.list_entries("acme", "deny_customer", later, 2, None)
    assert [e.value for e in first] == ["c-0", "c-2"] and cursor is not None
    rest, _ = table.list_entries("acme", "deny_customer", later, 2, cursor)
    assert [e.value for e in rest] == ["c-4"]
