"""A storefront's list entries (`LIST#<t>` / `<kind>#<value>`) and their audit trail
(`LISTLOG#<t>` / `<at>#<uuid>`): each change one transaction with its audit item.

A removed entry stays as a tombstone (removed_at) until the table's TTL deletes it: no
function may delete items, and a tombstone applies to nothing, like an expired entry.
`entry_writes` gives a put and its audit item as TransactWriteItems items, so another
transaction (an analyst's decision) can put a customer on a list in its own commit."""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import secrets
import time
from dataclasses import asdict
from typing import Any

from cashback.adapters.dynamodb.table import Table, from_item, put_new, to_item
from cashback.domain.changes import AccountMoved
from cashback.domain.clock import from_iso
from cashback.domain.errors import BadRequest
from cashback.domain.ids import ID_PATTERN
from cashback.domain.lists import KINDS, ListChange, ListEntry, put_change

# DynamoDB's TTL attribute (template.yaml's TimeToLiveSpecification): epoch seconds.
TTL_ATTRIBUTE = "ttl"
_ID = ID_PATTERN.strip("^$")
_ENTRY_SK = re.compile(f"({'|'.join(KINDS)})#({_ID})")
_AUDIT_SK = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)#[0-9a-f]{32}")


def list_pk(tenant: str) -> str:
    return f"LIST#{tenant}"


def audit_pk(tenant: str) -> str:
    return f"LISTLOG#{tenant}"


def entry_key(tenant: str, kind: str, value: str) -> dict[str, str]:
    return {"pk": list_pk(tenant), "sk": f"{kind}#{value}"}


def _epoch(iso: str | None) -> int | None:
    return int(from_iso(iso).timestamp()) if iso else None


def entry_item(entry: ListEntry) -> dict[str, Any]:
    """The entry's item; it carries the TTL attribute once it can no longer apply."""
    ttl = _epoch(entry.removed_at) or _epoch(entry.expires_at)
    fields = {k: v for k, v in asdict(entry).items() if k != "tenant"}
    return {**entry_key(entry.tenant, entry.kind, entry.value), **fields, TTL_ATTRIBUTE: ttl}


def entry_from_item(tenant: str, item: dict[str, Any]) -> ListEntry:
    return ListEntry(
        tenant=tenant,
        kind=item["kind"],
        value=item["value"],
        reason=item["reason"],
        by=item["by"],
        at=item["at"],
        expires_at=item.get("expires_at"),
        removed_at=item.get("removed_at"),
    )


def audit_item(change: ListChange, audit_id: str | None = None) -> dict[str, Any]:
    entry = change.entry
    return {
        "pk": audit_pk(entry.tenant),
        "sk": f"{change.at}#{audit_id or _audit_id()}",
        "action": change.action,
        "kind": entry.kind,
        "value": entry.value,
        "reason": entry.reason,
        "by": change.by,
        "at": change.at,
        "expires_at": entry.expires_at,
    }


def _audit_id() -> str:
    """Unique, and in the order changes were made within the same second (the clock only
    orders the trail; `at` is the request's time)."""
    return f"{time.time_ns():016x}{secrets.token_hex(8)}"


def change_from_item(tenant: str, item: dict[str, Any]) -> ListChange:
    entry = ListEntry(
        tenant=tenant,
        kind=item["kind"],
        value=item["value"],
        reason=item["reason"],
        by=item["by"],
        at=item["at"],
        expires_at=item.get("expires_at"),
    )
    return ListChange(action=item["action"], entry=entry, by=item["by"], at=item["at"])


def entry_writes(entry: ListEntry, audit_id: str | None = None) -> list[dict[str, Any]]:
    """Put `entry` (over any earlier entry of its kind and value) and its audit item, as
    TransactWriteItems items (Table._transact names the table)."""
    put = {"Put": {"Item": to_item(entry_item(entry))}}
    return [put, put_new(audit_item(put_change(entry), audit_id))]


class ListsTable(Table):
    def get_list_entry(self, tenant: str, kind: str, value: str) -> ListEntry | None:
        item = self._get(entry_key(tenant, kind, value))
        return entry_from_item(tenant, item) if item else None

    def put_list_entry(self, entry: ListEntry) -> None:
        self._transact(entry_writes(entry), first_is_idempotency_record=False)

    def remove_list_entry(self, entry: ListEntry, removed: ListEntry, change: ListChange) -> bool:
        """Turn `entry` into the tombstone `removed` with the audit item of `change`; False
        when the entry changed since it was read (put again, or removed)."""
        tombstone = {
            "Put": {
                "Item": to_item(entry_item(removed)),
                "ConditionExpression": "#at = :at AND attribute_not_exists(removed_at)",
                "ExpressionAttributeNames": {"#at": "at"},
                "ExpressionAttributeValues": to_item({":at": entry.at}),
            }
        }
        try:
            self._transact(
                [tombstone, put_new(audit_item(change))], first_is_idempotency_record=False
            )
        except AccountMoved:
            return False
        return True

    def list_entries(
        self, tenant: str, kind: str | None, now: str, limit: int, cursor: str | None
    ) -> tuple[list[ListEntry], str | None]:
        """Live entries (neither removed nor expired at `now`) by kind and value, from where
        `cursor` says; the next page's cursor (None: the last page)."""
        condition = "pk = :pk" + (" AND begins_with(sk, :kind)" if kind else "")
        values = {":pk": list_pk(tenant), ":now": now, ":kind": f"{kind}#" if kind else None}
        start = _entry_start(tenant, kind, cursor) if cursor else None
        found: list[ListEntry] = []
        while True:
            kwargs: dict[str, Any] = {
                "TableName": self.table_name,
                "Limit": limit - len(found),
                "ConsistentRead": True,
                "KeyConditionExpression": condition,
                "FilterExpression": "attribute_not_exists(removed_at) AND "
                "(attribute_not_exists(expires_at) OR expires_at > :now)",
                "ExpressionAttributeValues": to_item(values),
            }
            if start:
                kwargs["ExclusiveStartKey"] = start
            page = self.client.query(**kwargs)
            found += [entry_from_item(tenant, from_item(raw)) for raw in page["Items"]]
            start = page.get("LastEvaluatedKey")
            if not start or len(found) >= limit:
                return found, _cursor(start)

    def list_changes(
        self, tenant: str, limit: int, cursor: str | None
    ) -> tuple[list[ListChange], str | None]:
        """The audit trail, newest first, from where `cursor` says."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "Limit": limit,
            "ScanIndexForward": False,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": to_item({":pk": audit_pk(tenant)}),
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = _audit_start(tenant, cursor)
        page = self.client.query(**kwargs)
        changes = [change_from_item(tenant, from_item(raw)) for raw in page["Items"]]
        return changes, _cursor(page.get("LastEvaluatedKey"))


def _cursor(key: dict[str, Any] | None) -> str | None:
    """A page's cursor: the sort key it stopped at (the partition is the tenant's)."""
    if not key:
        return None
    return base64.urlsafe_b64encode(key["sk"]["S"].encode()).decode().rstrip("=")


def _sort_key(cursor: str) -> str | None:
    with contextlib.suppress(binascii.Error, UnicodeDecodeError, ValueError):
        sk = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return sk if _cursor({"sk": {"S": sk}}) == cursor else None
    return None


def _invalid() -> BadRequest:
    return BadRequest("cursor is not one this API returned", code="invalid_cursor")


def _entry_start(tenant: str, kind: str | None, cursor: str) -> dict[str, Any]:
    """Only a cursor this API could have returned for this listing: an entry's sort key,
    of the kind asked for (anything else is 400 invalid_cursor, never a query)."""
    sk = _sort_key(cursor)
    found = _ENTRY_SK.fullmatch(sk) if sk else None
    if found is None or (kind is not None and found.group(1) != kind):
        raise _invalid()
    return to_item({"pk": list_pk(tenant), "sk": found.group(0)})


def _audit_start(tenant: str, cursor: str) -> dict[str, Any]:
    sk = _sort_key(cursor)
    found = _AUDIT_SK.fullmatch(sk) if sk else None
    if found is None:
        raise _invalid()
    try:
        from_iso(found.group(1))
    except ValueError:
        raise _invalid() from None
    return to_item({"pk": audit_pk(tenant), "sk": found.group(0)})
