"""The review queue: open cases in the sparse `queue` index, riskiest first, paged by
cursors that only name a queue position, and the transaction that closes a case with an
analyst's decision."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
from typing import Any

from cashback.adapters.dynamodb.accounts import account_update, entry_item, replace_lot
from cashback.adapters.dynamodb.orders import order_from_item
from cashback.adapters.dynamodb.table import (
    QUEUE_INDEX,
    Table,
    from_item,
    order_key,
    put_new,
    to_item,
)
from cashback.domain.changes import DecisionChange
from cashback.domain.clock import from_iso
from cashback.domain.errors import BadRequest
from cashback.domain.ids import ID_PATTERN
from cashback.domain.orders import Order


class ReviewsTable(Table):
    def review_queue(
        self, tenant: str, limit: int, cursor: str | None = None
    ) -> tuple[list[Order], str | None]:
        """Open cases, riskiest first: one page of the sparse queue index, from where
        `cursor` says, and the cursor of the next page (None: the last page)."""
        after = _key(cursor, tenant) if cursor else None
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": QUEUE_INDEX,
            "Limit": limit,
            "KeyConditionExpression": "queue_pk = :q",
            "ExpressionAttributeValues": to_item({":q": f"REVIEW#{tenant}"}),
        }
        if after:
            kwargs["ExclusiveStartKey"] = after
        page = self.client.query(**kwargs)
        return (
            [order_from_item(from_item(raw)) for raw in page["Items"]],
            _cursor(page.get("LastEvaluatedKey")),
        )

    def commit_decision(self, change: DecisionChange) -> None:
        """Close a case with the analyst's decision, moving the held cashback with it."""
        order = change.order
        items = [
            {
                "Update": {
                    "Key": to_item(order_key(order.tenant, order.order_id)),
                    "UpdateExpression": "SET case_status = :closed, decision = :decision, "
                    "#status = :status REMOVE queue_pk, queue_sk",
                    "ConditionExpression": "case_status = :open",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": to_item(
                        {
                            ":closed": "closed",
                            ":open": "open",
                            ":decision": change.decision,
                            ":status": change.status or order.status,
                        }
                    ),
                }
            },
            replace_lot(change.lot_before, change.lot_after, change.now),
            put_new(entry_item(change.entry)),
            account_update(change.before, change.after),
        ]
        self._transact(items, first_is_idempotency_record=False)


def _cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    plain = {name: value["S"] for name, value in key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


_QUEUE_SK = re.compile(
    r"[0-9]{6}#([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)#("
    + ID_PATTERN.strip("^$")
    + ")"
)


def _key(cursor: str, tenant: str) -> dict[str, Any]:
    """The queue position a cursor names. Only a cursor this API could have returned to
    this tenant is one: the exact encoding, the four keys of an order's queue entry, each
    in its format and agreeing with the others. Anything else is 400, never a query."""
    plain: Any = None
    with contextlib.suppress(binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        plain = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    found = (
        _QUEUE_SK.fullmatch(plain.get("queue_sk", ""))
        if isinstance(plain, dict) and all(isinstance(value, str) for value in plain.values())
        else None
    )
    valid = found is not None and plain == {
        "pk": f"ORDER#{tenant}#{found.group(2)}",
        "sk": "ORDER",
        "queue_pk": f"REVIEW#{tenant}",
        "queue_sk": found.group(0),
    }
    if valid:
        try:
            from_iso(found.group(1))  # type: ignore[union-attr]
        except ValueError:
            valid = False
    key = {name: {"S": value} for name, value in plain.items()} if valid else None
    if key is None or _cursor(key) != cursor:
        raise BadRequest("cursor is not one this API returned", code="invalid_cursor")
    return key
