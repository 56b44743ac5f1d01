"""The review queue: open cases in the sparse `queue` index, riskiest first, and the
transaction that closes a case with an analyst's decision."""

from __future__ import annotations

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
from cashback.domain.orders import Order


class ReviewsTable(Table):
    def review_queue(
        self, tenant: str, limit: int, after: dict[str, Any] | None = None
    ) -> tuple[list[Order], dict[str, Any] | None]:
        """Open cases, riskiest first: one page of the sparse queue index."""
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
            page.get("LastEvaluatedKey"),
        )

    def commit_decision(self, change: DecisionChange) -> None:
        """Close a case with the analyst's decision, moving the held cashback with it."""
        order = change.order
        items = [
            {
                "Update": {
                    "Key": to_item(order_key(order.tenant, order.order_id)),
                    "UpdateExpression": "SET case_status = :closed, decision = :decision "
                    "REMOVE queue_pk, queue_sk",
                    "ConditionExpression": "case_status = :open",
                    "ExpressionAttributeValues": to_item(
                        {":closed": "closed", ":open": "open", ":decision": change.decision}
                    ),
                }
            },
            replace_lot(change.lot_before, change.lot_after, change.now),
            put_new(entry_item(change.entry)),
            account_update(change.before, change.after),
        ]
        self._transact(items, first_is_idempotency_record=False)
