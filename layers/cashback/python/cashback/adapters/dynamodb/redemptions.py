"""Redemptions: their records (idempotency and state, open holds in the due index until
they are resolved), read with the customer's account and the lots they drew from, and the
transactions that write them together with the money."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import asdict
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
    pick,
    put_new,
    put_versioned,
    to_item,
)
from cashback.domain.changes import RedemptionChange
from cashback.domain.ledger import Account
from cashback.domain.redemptions import Redemption, Reversal

# Open holds wait in the due index under HOLD#<day>#<shard> (the day they expire), apart
# from the lifecycle's DUE# buckets: the sweep reads only holds.
HOLD_SHARDS = 4


def redemption_key(tenant: str, redemption_id: str) -> dict[str, str]:
    return {"pk": f"REDEMPTION#{tenant}#{redemption_id}", "sk": "REDEMPTION"}


def reversal_key(tenant: str, reversal_id: str) -> dict[str, str]:
    return {"pk": f"REVERSAL#{tenant}#{reversal_id}", "sk": "REVERSAL"}


def order_paid_pk(tenant: str, order_id: str) -> str:
    """The redemptions that paid for an order: one pointer item each (RED#<id>), so a
    refund of that order finds them with one Query."""
    return f"ORDERPAY#{tenant}#{order_id}"


def _paid_pointer(redemption: Redemption) -> dict[str, Any]:
    """Written once the redemption is spent (captured at once, or a hold captured);
    the same content every time, so it needs no condition."""
    item = {
        "pk": order_paid_pk(redemption.tenant, redemption.order_id),
        "sk": f"RED#{redemption.redemption_id}",
        "redemption_id": redemption.redemption_id,
        "customer_id": redemption.customer_id,
    }
    return {"Put": {"Item": to_item(item)}}


def hold_bucket(day: str, shard: int) -> str:
    return f"HOLD#{day}#{shard:02d}"


def _hold_attributes(redemption: Redemption) -> dict[str, str]:
    """An open hold is in the due index at its expiry; a resolved one is not."""
    if redemption.status != "reserved" or redemption.hold_expires_at is None:
        return {}
    at = redemption.hold_expires_at
    shard = int(hashlib.sha256(redemption.redemption_id.encode()).hexdigest()[:8], 16)
    return {"due_at": at, "due_bucket": hold_bucket(at[:10], shard % HOLD_SHARDS)}


def _record_item(redemption: Redemption) -> dict[str, Any]:
    return {
        **redemption_key(redemption.tenant, redemption.redemption_id),
        **asdict(redemption),
        **_hold_attributes(redemption),
    }


class RedemptionsTable(Table):
    def get_redemption(self, tenant: str, redemption_id: str) -> Redemption | None:
        item = self._get(redemption_key(tenant, redemption_id))
        return pick(Redemption, item) if item else None

    def load_redemption(
        self, tenant: str, redemption_id: str, customer_id: str
    ) -> tuple[Redemption | None, Account]:
        """In one read: the redemption's record (if any) and the customer's account."""
        item, account = with_account(
            self, redemption_key(tenant, redemption_id), tenant, customer_id
        )
        return (pick(Redemption, item) if item else None), account

    def load_reversal(self, tenant: str, reversal_id: str) -> Reversal | None:
        item = self._get(reversal_key(tenant, reversal_id))
        return pick(Reversal, item) if item else None

    def record_failed_redemption(self, redemption: Redemption) -> None:
        """A redemption that failed stays failed: its record holds the answer."""
        self._transact([put_new(_record_item(redemption))])

    def commit_redemption(self, change: RedemptionChange) -> None:
        items: list[dict[str, Any]] = []
        if change.reversal is not None:
            reversal = change.reversal
            items.append(
                put_new({**reversal_key(reversal.tenant, reversal.reversal_id), **asdict(reversal)})
            )
        items.append(put_versioned(_record_item(change.redemption), change.version_before))
        items += [replace_lot(before, after, change.now) for before, after in change.lots]
        items += [put_new(entry_item(change.entry)), account_update(change.before, change.after)]
        if change.redemption.status == "captured" and change.reversal is None:
            items.append(_paid_pointer(change.redemption))
        self._transact(items)

    def expired_holds(self, day: str, now: str) -> Iterator[Redemption]:
        """Open holds of `day` that expired by `now` (what the sweep releases)."""
        for shard in range(HOLD_SHARDS):
            for item in self._query(
                IndexName=DUE_INDEX,
                KeyConditionExpression="due_bucket = :b AND due_at <= :now",
                ExpressionAttributeValues=to_item({":b": hold_bucket(day, shard), ":now": now}),
            ):
                yield pick(Redemption, item)
