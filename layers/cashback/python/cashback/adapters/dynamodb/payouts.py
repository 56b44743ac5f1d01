"""Payouts: their records (idempotency and status; requested and submitted ones wait in
the due index for the submission job), read with the customer's account and the lots they
drew from, and the transactions that write them together with the money. Also the
sandbox provider's own payments, kept in the same table."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, replace
from typing import Any

from cashback.adapters.dynamodb.accounts import (
    account_update,
    entry_item,
    replace_lot,
    with_account,
)
from cashback.adapters.dynamodb.table import (
    DUE_INDEX,
    Table,
    from_item,
    pick,
    put_new,
    put_versioned,
    to_item,
)
from cashback.adapters.providers.sandbox import SandboxPayment
from cashback.domain.changes import AlreadyRecorded, PayoutChange
from cashback.domain.clock import from_iso, to_iso
from cashback.domain.ledger import Account
from cashback.domain.payouts.records import OutboxEvent, Payout

# Requested and submitted payouts wait under PAYOUT#<status>#<shard>, keyed by when the
# job should next look at them (submit now; poll the provider when a callback is late).
PAYOUT_SHARDS = 4
WAITING = ("requested", "submitted")


def payout_key(tenant: str, payout_id: str) -> dict[str, str]:
    return {"pk": f"PAYOUT#{tenant}#{payout_id}", "sk": "PAYOUT"}


def payout_bucket(status: str, shard: int) -> str:
    return f"PAYOUT#{status}#{shard:02d}"


def _job_attributes(payout: Payout, next_look: str | None) -> dict[str, str]:
    if payout.status not in WAITING or next_look is None:
        return {}
    shard = int(hashlib.sha256(payout.payout_id.encode()).hexdigest()[:8], 16) % PAYOUT_SHARDS
    return {"due_at": next_look, "due_bucket": payout_bucket(payout.status, shard)}


def _record_item(payout: Payout, next_look: str | None) -> dict[str, Any]:
    return {
        **payout_key(payout.tenant, payout.payout_id),
        **asdict(payout),
        **_job_attributes(payout, next_look),
    }


class PayoutsTable(Table):
    def get_payout(self, tenant: str, payout_id: str) -> Payout | None:
        item = self._get(payout_key(tenant, payout_id))
        return pick(Payout, item) if item else None

    def load_payout(
        self, tenant: str, payout_id: str, customer_id: str
    ) -> tuple[Payout | None, Account]:
        """In one read: the payout's record (if any) and the customer's account."""
        item, account = with_account(self, payout_key(tenant, payout_id), tenant, customer_id)
        return (pick(Payout, item) if item else None), account

    def commit_payout(self, change: PayoutChange, next_look: str | None = None) -> None:
        """The record (new, or on its version) with the money it moves, in one transaction;
        `next_look`: when the submission job should look at it next (while it waits)."""
        record = _record_item(change.payout, next_look)
        items = [put_versioned(record, change.version_before)]
        items += [replace_lot(before, after, change.now) for before, after in change.lots]
        if change.event is not None:
            items.append(put_new(_outbox_item(change.payout, *change.event, change.now)))
        if change.entry is not None:
            assert change.before is not None and change.after is not None
            items += [
                put_new(entry_item(change.entry)),
                account_update(change.before, change.after),
            ]
        self._transact(items)

    def waiting_payouts(self, status: str, now: str, limit: int) -> list[Payout]:
        """Up to `limit` payouts in `status` (requested, submitted) due for a look by `now`."""
        found: list[Payout] = []
        for shard in range(PAYOUT_SHARDS):
            reply = self.client.query(
                TableName=self.table_name,
                IndexName=DUE_INDEX,
                KeyConditionExpression="due_bucket = :b AND due_at <= :now",
                ExpressionAttributeValues=to_item(
                    {":b": payout_bucket(status, shard), ":now": now}
                ),
                Limit=limit,
            )
            found += [pick(Payout, from_item(raw)) for raw in reply["Items"]]
        return sorted(found, key=lambda p: p.requested_at)[:limit]

    def mark_event_published(self, event: OutboxEvent, published_at: str) -> None:
        """The bus took the event: out of the outbox (the item stays as the record)."""
        self.client.update_item(
            TableName=self.table_name,
            Key=to_item(outbox_key(event.tenant, event.payout_id, event.status)),
            UpdateExpression="SET published_at = :at REMOVE due_bucket, due_at",
            ExpressionAttributeValues=to_item({":at": published_at}),
        )

    def unpublished_events(self, before: str) -> list[OutboxEvent]:
        """Payout events committed before `before` that the bus has not taken yet."""
        found = []
        for shard in range(PAYOUT_SHARDS):
            for item in self._query(
                IndexName=DUE_INDEX,
                KeyConditionExpression="due_bucket = :b AND due_at < :before",
                ExpressionAttributeValues=to_item({":b": f"OUTBOX#{shard:02d}", ":before": before}),
            ):
                found.append(pick(OutboxEvent, item))
        return found


def outbox_key(tenant: str, payout_id: str, status: str) -> dict[str, str]:
    return {"pk": f"OUTBOX#{tenant}#{payout_id}", "sk": f"EVENT#{status}"}


def _outbox_item(
    payout: Payout, detail_type: str, detail: dict[str, Any], now: str
) -> dict[str, Any]:
    shard = int(hashlib.sha256(payout.payout_id.encode()).hexdigest()[:8], 16) % PAYOUT_SHARDS
    return {
        **outbox_key(payout.tenant, payout.payout_id, payout.status),
        **asdict(OutboxEvent(payout.tenant, payout.payout_id, payout.status, detail_type, detail)),
        "due_bucket": f"OUTBOX#{shard:02d}",
        "due_at": now,
    }


class DynamoSandboxStore:
    """The sandbox provider's payments (cashback.adapters.providers.sandbox.SandboxStore) as
    items SANDBOX#<payout_id>; those with callbacks still to hand out sit in the due index
    under SANDBOX#undelivered."""

    def __init__(self, table: Table) -> None:
        self.table = table

    @staticmethod
    def _key(payout_id: str) -> dict[str, str]:
        return {"pk": f"SANDBOX#{payout_id}", "sk": "PAYMENT"}

    def _item(self, payment: SandboxPayment) -> dict[str, Any]:
        waiting = (
            {"due_bucket": "SANDBOX#undelivered", "due_at": to_iso(payment.received_at)}
            if payment.delivered < payment.callbacks
            else {}
        )
        return {
            **self._key(payment.payout_id),
            **asdict(payment),
            "received_at": to_iso(payment.received_at),
            **waiting,
        }

    def add(self, payment: SandboxPayment) -> bool:
        try:
            self.table._transact([put_new(self._item(payment))])
        except AlreadyRecorded:  # of two adds of one payout id, one stores
            return False
        return True

    def get(self, payout_id: str) -> SandboxPayment | None:
        item = self.table._get(self._key(payout_id))
        if item is None:
            return None
        return pick(SandboxPayment, {**item, "received_at": from_iso(item["received_at"])})

    def set_delivered(self, payout_id: str, delivered: int) -> None:
        payment = self.get(payout_id)
        assert payment is not None
        self.table.client.put_item(
            TableName=self.table.table_name,
            Item=to_item(self._item(replace(payment, delivered=delivered))),
        )

    def undelivered(self) -> list[SandboxPayment]:
        items = self.table._query(
            IndexName=DUE_INDEX,
            KeyConditionExpression="due_bucket = :b",
            ExpressionAttributeValues=to_item({":b": "SANDBOX#undelivered"}),
        )
        return [
            pick(SandboxPayment, {**item, "received_at": from_iso(item["received_at"])})
            for item in items
        ]
