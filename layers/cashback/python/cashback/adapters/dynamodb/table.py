"""The one table's layout and how it is spoken to: keys, item codecs, reads, and the one
helper every transaction goes through, which turns cancelled conditions into domain errors.

Layout (one table, `pk`/`sk`; the `due` and `queue` indexes are sparse):

    TENANT#<t>            SETTINGS             a storefront's program settings
    APIKEY#<sha256>       APIKEY               an API key's tenant and scopes (hash only)
    CUST#<t>#<customer>   ACCOUNT              balances, totals, chain head and sequence
    CUST#<t>#<customer>   ENTRY#<seq:012>      immutable, hash-chained ledger entries
    CUST#<t>#<customer>   LOT#<expires>#<ord>  one order's cashback; sorts by deadline (FIFO)
    ORDER#<t>#<order_id>  ORDER                idempotency record and state of a purchase;
                                               one that opened a case is in the three case
                                               indexes (queue, queue_age, queue_amount)
    ORDER#<t>#<order_id>  NOTE#<at>#<id>       an analyst's note on the case
    CASES#<t>#<customer>  <at>#<order_id>      a case the customer's purchase opened
    REFUND#<t>#<refund>   REFUND               idempotency record of a refund
    REDEMPTION#<t>#<id>   REDEMPTION           a redemption: state, lots drawn, first reply;
                                               an open hold is in the due index (HOLD#<day>)
    REVERSAL#<t>#<id>     REVERSAL             idempotency record of a reversal
    PAYOUT#<t>#<id>       PAYOUT               a payout: status, lots drawn, first reply;
                                               requested / submitted ones in the due index
                                               (PAYOUT#<status>#<shard>) for the job
    SANDBOX#<key>         PAYMENT              the sandbox provider's own record of a payout
    ORDERPAY#<t>#<order>  RED#<redemption>     a captured redemption that paid for the order
    RULES#<t>             V#<version:06>       an immutable published rule-set version
    BUDGET#<t>#<campaign> SHARD#<n:03>         one shard of a campaign's budget
    IDENT#<t>#<kind>#<id> SEEN#<customer>      one customer seen on a device / payment fingerprint
    NOTICE#<t>            <kind>:<...>         a customer event, in the due index until sent
    LIST#<t>              <kind>#<value>       a risk-list entry: reason, by, at, expires_at;
                                               removed ones stay as tombstones (removed_at)
                                               until the TTL attribute `ttl` deletes them
    LISTLOG#<t>           <at>#<id>            the audit item of one list change (put|delete)
    JOB#lifecycle         CHECKPOINT           the last day the lifecycle job finished
    RISKSTATS#<t>         <day>#<shard>#<model>  a day's score / feature histogram shard

Ids never contain '#' (the API's id pattern forbids it), so keys cannot collide.
Every money movement is one TransactWriteItems whose conditions carry the invariants:
the idempotency record must not exist yet, and the account must still be at the sequence
number it was read at, so two writers can never both append to one customer's chain.
What several customers share (a device's, a payment fingerprint's customers) is never
under a condition: each customer writes only its own marker item, so different customers
never make each other's transactions fail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config

from cashback.domain.changes import AccountMoved, AlreadyRecorded

DUE_INDEX = "due"
QUEUE_INDEX = "queue"
DUE_SHARDS = 16

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def pick(cls: type, item: dict[str, Any]) -> Any:
    """A dataclass from an item's attributes, leaving out those it has no field for."""
    names = cls.__dataclass_fields__  # type: ignore[attr-defined]
    return cls(**{k: v for k, v in item.items() if k in names})


def customer_cases_pk(tenant: str, customer_id: str) -> str:
    return f"CASES#{tenant}#{customer_id}"


def customer_pk(tenant: str, customer_id: str) -> str:
    return f"CUST#{tenant}#{customer_id}"


def lot_sk(expires_at: str, order_id: str) -> str:
    return f"LOT#{expires_at}#{order_id}"


def entry_sk(seq: int) -> str:
    return f"ENTRY#{seq:012d}"


def order_key(tenant: str, order_id: str) -> dict[str, str]:
    return {"pk": f"ORDER#{tenant}#{order_id}", "sk": "ORDER"}


def identity_pk(tenant: str, kind: str, key: str) -> str:
    return f"IDENT#{tenant}#{kind}#{key}"


def budget_key(tenant: str, campaign: str, shard: int) -> dict[str, Any]:
    return {"pk": f"BUDGET#{tenant}#{campaign}", "sk": f"SHARD#{shard:03d}"}


def checkpoint_key(job: str) -> dict[str, str]:
    return {"pk": f"JOB#{job}", "sk": "CHECKPOINT"}


def due_bucket(pk: str, sk: str, due_at: str) -> str:
    """Day bucket plus a stable shard, so a day when many lots fall due is spread over
    DUE_SHARDS partitions and the job reads one day at a time."""
    shard = int(hashlib.sha256(f"{pk}|{sk}".encode()).hexdigest()[:8], 16) % DUE_SHARDS
    return bucket_name(due_at[:10], shard)


def bucket_name(day: str, shard: int) -> str:
    return f"DUE#{day}#{shard:02d}"


def due_attributes(pk: str, sk: str, due_at: str | None, not_before: str) -> dict[str, str]:
    """The sparse index attributes for something due at `due_at`. Work already overdue
    when written (a back-dated purchase) goes into the bucket of the day it was written
    on, which the scheduled job has not closed yet."""
    if due_at is None:
        return {}
    return {"due_at": due_at, "due_bucket": due_bucket(pk, sk, max(due_at, not_before))}


def put_new(item: dict[str, Any]) -> dict[str, Any]:
    return {"Put": {"Item": to_item(item), "ConditionExpression": "attribute_not_exists(pk)"}}


def put_versioned(item: dict[str, Any], version_before: int | None) -> dict[str, Any]:
    """Put a record anew (None: it must not exist yet), or over the version it was read at
    (nobody changed it since)."""
    if version_before is None:
        return put_new(item)
    return {
        "Put": {
            "Item": to_item(item),
            "ConditionExpression": "version = :v",
            "ExpressionAttributeValues": to_item({":v": version_before}),
        }
    }


class Table:
    """The table's name and client, and the reads and the transaction every aggregate's
    adapter is built on."""

    def __init__(self, table_name: str, client: Any = None) -> None:
        self.table_name = table_name
        self.client = client or boto3.client(
            "dynamodb", config=Config(retries={"mode": "standard", "max_attempts": 5})
        )

    def _get(self, key: dict[str, str], consistent: bool = True) -> dict[str, Any] | None:
        reply = self.client.get_item(
            TableName=self.table_name, Key=to_item(key), ConsistentRead=consistent
        )
        return from_item(reply["Item"]) if "Item" in reply else None

    def _get_many(self, keys: list[dict[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """One BatchGetItem (strongly consistent), following UnprocessedKeys."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        request = {self.table_name: {"Keys": [to_item(k) for k in keys], "ConsistentRead": True}}
        while request:
            reply = self.client.batch_get_item(RequestItems=request)
            for raw in reply["Responses"].get(self.table_name, []):
                item = from_item(raw)
                found[(item["pk"], item["sk"])] = item
            request = reply.get("UnprocessedKeys") or {}
        return found

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        kwargs["TableName"] = self.table_name
        paginator = self.client.get_paginator("query")
        for page in paginator.paginate(**kwargs):
            for raw in page["Items"]:
                yield from_item(raw)

    def _transact(
        self, items: list[dict[str, Any]], first_is_idempotency_record: bool = True
    ) -> None:
        for item in items:
            next(iter(item.values()))["TableName"] = self.table_name
        try:
            self.client.transact_write_items(TransactItems=items)
        except self.client.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons") or []
            codes = [reason.get("Code") for reason in reasons]
            if first_is_idempotency_record and codes and codes[0] == "ConditionalCheckFailed":
                raise AlreadyRecorded() from error
            if any(code in ("ConditionalCheckFailed", "TransactionConflict") for code in codes):
                failed = tuple(
                    i for i, code in enumerate(codes) if code == "ConditionalCheckFailed"
                )
                raise AccountMoved(failed) from error
            raise
