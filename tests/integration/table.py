"""The ledger table read directly (DynamoDB Local, strongly consistent), for assertions."""

from __future__ import annotations

from typing import Any

from cashback.adapters.dynamodb.table import from_item
from cashback_tools.local.stack import TABLE_NAME, LocalStack


def query(stack: LocalStack, pk: str, **options: Any) -> dict[str, Any]:
    """One Query of a partition (all of it: the tests' partitions fit one page)."""
    client: Any = stack.dynamodb_client()
    return client.query(  # type: ignore[no-any-return]
        TableName=TABLE_NAME,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        ConsistentRead=True,
        **options,
    )


def lots(stack: LocalStack, tenant: str, customer_id: str) -> list[dict[str, Any]]:
    items = query(stack, f"CUST#{tenant}#{customer_id}")["Items"]
    return [lot for lot in map(from_item, items) if lot["sk"].startswith("LOT#")]


def live_lot_keys(stack: LocalStack, tenant: str, customer_id: str) -> set[str]:
    """The sort keys of the lots in the sparse `live` index."""
    items = query(stack, f"CUST#{tenant}#{customer_id}", IndexName="live")["Items"]
    return {from_item(item)["sk"] for item in items}


def holding(lot: dict[str, Any]) -> bool:
    """A lot that still holds cashback: what the `live` index must hold, and only that."""
    return lot["status"] in ("PENDING", "AVAILABLE") and lot["pending"] + lot["available"] > 0
