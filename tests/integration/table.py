"""The ledger table read directly (DynamoDB Local, strongly consistent), for assertions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cashback.adapters.dynamodb.accounts import lot_from_item
from cashback.adapters.dynamodb.table import customer_pk, from_item
from cashback.domain.changes import LotChange
from cashback.domain.clock import to_iso
from cashback.domain.ledger import Lot, advance
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


def lots(stack: LocalStack, tenant: str, customer_id: str) -> dict[str, Lot]:
    """Every lot the customer ever had, by sort key (the base table's LOT# range)."""
    items = map(from_item, query(stack, customer_pk(tenant, customer_id))["Items"])
    return {item["sk"]: lot_from_item(item) for item in items if item["sk"].startswith("LOT#")}


def live_lot_keys(stack: LocalStack, tenant: str, customer_id: str) -> set[str]:
    """The sort keys of the lots in the sparse `live` index."""
    items = query(stack, customer_pk(tenant, customer_id), IndexName="live")["Items"]
    return {from_item(item)["sk"] for item in items}


def ripen(stack: LocalStack, tenant: str, customer_id: str, at: datetime) -> None:
    """Make the customer's pending cashback available as of `at`, lot by lot, as the
    lifecycle job would (its domain step, its commit)."""
    store = stack.store
    assert store is not None
    for lot in list(store.live_lots(tenant, customer_id)):
        account = store.get_account(tenant, customer_id)
        step = advance(account, lot, at)
        if step.changed:
            store.commit_advance(
                LotChange(
                    lot,
                    step.lot,
                    step.entries,
                    account,
                    step.account,
                    step.notices,
                    due_bucket=due_bucket_of(stack, lot),
                    now=to_iso(at),
                )
            )


def due_bucket_of(stack: LocalStack, lot: Lot) -> str:
    sk = f"LOT#{lot.expires_at}#{lot.order_id}"
    item = from_item(
        stack.dynamodb_client().get_item(
            TableName=TABLE_NAME,
            Key={"pk": {"S": customer_pk(lot.tenant, lot.customer_id)}, "sk": {"S": sk}},
            ConsistentRead=True,
        )["Item"]
    )
    return str(item.get("due_bucket", ""))
