"""The scheduled lifecycle's side of the table: the sparse `due` index read a day bucket at
a time, the transaction that moves one lot forward, its notices, and the job's checkpoint."""

from __future__ import annotations

import contextlib
from typing import Any

from cashback.adapters.dynamodb.accounts import (
    account_update,
    entry_item,
    lot_from_item,
    replace_lot,
)
from cashback.adapters.dynamodb.table import (
    DUE_INDEX,
    DUE_SHARDS,
    Table,
    bucket_name,
    checkpoint_key,
    customer_pk,
    due_bucket,
    from_item,
    lot_sk,
    pick,
    put_new,
    to_item,
)
from cashback.domain.changes import LotChange
from cashback.domain.ledger import Lot, Notice


class DueTable(Table):
    def due_buckets(self, day: str) -> list[str]:
        """The buckets of one day ('2026-11-25'), one per shard."""
        return [bucket_name(day, shard) for shard in range(DUE_SHARDS)]

    def due_page(
        self, bucket: str, until: str, start: dict[str, Any] | None = None
    ) -> tuple[list[dict[str, Any]], int, dict[str, Any] | None]:
        """One page of a bucket's items due by `until`: the items, how many items the page
        read, and where the next page starts (None at the end)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": "due_bucket = :b AND due_at <= :until",
            "ExpressionAttributeValues": to_item({":b": bucket, ":until": until}),
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = self.client.query(**kwargs)
        return (
            [from_item(raw) for raw in page["Items"]],
            page.get("ScannedCount", 0),
            page.get("LastEvaluatedKey"),
        )

    def due_work(self, item: dict[str, Any]) -> Lot | Notice:
        """What an item of the due index is: a lot to move forward, or a notice a run
        committed but did not publish."""
        if item["pk"].startswith("NOTICE#"):
            return pick(Notice, item)
        return lot_from_item(item)

    def get_lot(self, lot: Lot) -> Lot | None:
        """The lot as stored now (None: gone)."""
        item = self._get(
            {
                "pk": customer_pk(lot.tenant, lot.customer_id),
                "sk": lot_sk(lot.expires_at, lot.order_id),
            }
        )
        return lot_from_item(item) if item else None

    def commit_advance(self, change: LotChange) -> None:
        """One lot moved forward: the lot, its entries, the account and the notices to
        publish, in one transaction. The notices wait in the due index until published,
        so a run that dies after this commit still tells the storefront next time."""
        items = [replace_lot(change.lot_before, change.lot_after, change.now)]
        items += [put_new(entry_item(entry)) for entry in change.entries]
        if change.entries:
            items.append(account_update(change.before, change.after))
        items += [
            put_new(notice_item(notice, change.due_bucket, change.now)) for notice in change.notices
        ]
        self._transact(items, first_is_idempotency_record=False)

    def mark_published(self, notice: Notice, published_at: str) -> None:
        """Take a published notice out of the due index; the item stays as the record."""
        self.client.update_item(
            TableName=self.table_name,
            Key=to_item(_notice_key(notice)),
            UpdateExpression="SET published_at = :at REMOVE due_bucket, due_at",
            ExpressionAttributeValues=to_item({":at": published_at}),
        )

    def claim_notice(self, notice: Notice, now: str) -> bool:
        """Take over an unpublished notice made by a run for an earlier moment."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=to_item(_notice_key(notice)),
                UpdateExpression="SET claimed_for = :now",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(published_at)"
                " AND claimed_for < :now",
                ExpressionAttributeValues=to_item({":now": now}),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def checkpoint(self, job: str) -> str | None:
        """The last day whose due buckets the job has finished, e.g. '2026-11-25'."""
        item = self._get(checkpoint_key(job))
        return item["through"] if item else None

    def advance_checkpoint(self, job: str, through: str) -> None:
        """Only ever forward: an overlapping or replayed run cannot move it back."""
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(
                TableName=self.table_name,
                Key=to_item(checkpoint_key(job)),
                UpdateExpression="SET through = :h",
                ConditionExpression="attribute_not_exists(through) OR through < :h",
                ExpressionAttributeValues=to_item({":h": through}),
            )

    def set_checkpoint(self, job: str, through: str) -> None:
        """Move the checkpoint back to `through` (a run found it ahead of its own time; see
        services.lifecycle). Only ever back: going back costs a rescan, never a missed day."""
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(
                TableName=self.table_name,
                Key=to_item(checkpoint_key(job)),
                UpdateExpression="SET through = :h",
                ConditionExpression="through > :h",
                ExpressionAttributeValues=to_item({":h": through}),
            )


def _notice_key(notice: Notice) -> dict[str, str]:
    return {"pk": f"NOTICE#{notice.tenant}", "sk": notice.id}


def waiting_notice(notice: Notice, now: str) -> dict[str, Any]:
    """A notice written by a purchase or a decision (cashback available at once, milestones
    reached), for the lifecycle job to publish: in today's bucket, due now. No run made it,
    so the first run to read it claims it, even one in the same second (claimed_for is
    below any moment)."""
    key = _notice_key(notice)
    item = notice_item(notice, due_bucket(key["pk"], key["sk"], now), now)
    return put_new({**item, "claimed_for": ""})


def notice_item(notice: Notice, bucket: str, now: str) -> dict[str, Any]:
    """A notice waits in the bucket being processed (not yet closed) until published."""
    return {
        **_notice_key(notice),
        **notice.detail(),
        "created_at": now,
        "claimed_for": now,
        "due_at": now,
        "due_bucket": bucket,
    }
