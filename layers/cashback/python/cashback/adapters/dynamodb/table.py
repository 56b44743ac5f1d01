"""The one module that knows the table's layout and speaks DynamoDB.

Layout (one table, `pk`/`sk`; the `due` index is sparse):

    TENANT#<t>            SETTINGS             a storefront's program settings
    APIKEY#<sha256>       APIKEY               an API key's tenant and scopes (hash only)
    CUST#<t>#<customer>   ACCOUNT              balances, totals, chain head and sequence
    CUST#<t>#<customer>   ENTRY#<seq:012>      immutable, hash-chained ledger entries
    CUST#<t>#<customer>   LOT#<expires>#<ord>  one order's cashback; sorts by deadline (FIFO)
    ORDER#<t>#<order_id>  ORDER                idempotency record and state of a purchase
    REFUND#<t>#<refund>   REFUND               idempotency record of a refund
    RULES#<t>             V#<version:06>       an immutable published rule-set version
    BUDGET#<t>#<campaign> SHARD#<n:03>         one shard of a campaign's budget
    IDENT#<t>#<kind>#<id> SEEN#<customer>      one customer seen on a device / payment fingerprint
    NOTICE#<t>            <kind>:<...>         a customer event, in the due index until sent
    JOB#lifecycle         CHECKPOINT           the last day the lifecycle job finished

Ids never contain '#' (the API's id pattern forbids it), so keys cannot collide.
Every money movement is one TransactWriteItems whose conditions carry the invariants:
the idempotency record must not exist yet, and the account must still be at the sequence
number it was read at, so two writers can never both append to one customer's chain.
What several customers share (a device's, a payment fingerprint's customers) is never
under a condition: each customer writes only its own marker item, so different customers
never make each other's transactions fail.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config

from cashback.domain.ledger import FIELDS, Account, Entry, Lot
from cashback.domain.risk.features import MAX_IDENTITY_CUSTOMERS
from cashback.domain.tenants import TenantSettings

DUE_INDEX = "due"
QUEUE_INDEX = "queue"
DUE_SHARDS = 16
# TransactWriteItems carries at most 100 items. A purchase writes its order, lot, entry and
# account, and the aggregates of its device and payment fingerprint: what is left is for
# the budget shards it takes (one per budgeted campaign at least; see accrual.py).
TRANSACT_MAX_ITEMS = 100
PURCHASE_ITEMS = 6
BUDGET_ITEMS = TRANSACT_MAX_ITEMS - PURCHASE_ITEMS
# A refund writes its record, the order, the order's lot, the entry and the account; under
# claw_back_within_balance the customer's other lots it takes from fill the rest (one of
# those read may be the order's own lot, which is not written twice).
REFUND_ITEMS = 5
REFUND_BALANCE_LOTS = TRANSACT_MAX_ITEMS - REFUND_ITEMS

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


def customer_pk(tenant: str, customer_id: str) -> str:
    return f"CUST#{tenant}#{customer_id}"


def lot_sk(expires_at: str, order_id: str) -> str:
    return f"LOT#{expires_at}#{order_id}"


def entry_sk(seq: int) -> str:
    return f"ENTRY#{seq:012d}"


def due_bucket(pk: str, sk: str, due_at: str) -> str:
    """Day bucket plus a stable shard, so a day when many lots fall due is spread over
    DUE_SHARDS partitions and the job reads one day at a time."""
    shard = int(hashlib.sha256(f"{pk}|{sk}".encode()).hexdigest()[:8], 16) % DUE_SHARDS
    return bucket_name(due_at[:10], shard)


def bucket_name(day: str, shard: int) -> str:
    return f"DUE#{day}#{shard:02d}"


def _due_attributes(pk: str, sk: str, due_at: str | None, not_before: str) -> dict[str, str]:
    """The sparse index attributes for something due at `due_at`. Work already overdue
    when written (a back-dated purchase) goes into the bucket of the day it was written
    on, which the scheduled job has not closed yet."""
    if due_at is None:
        return {}
    return {"due_at": due_at, "due_bucket": due_bucket(pk, sk, max(due_at, not_before))}


@dataclass(frozen=True)
class Order:
    tenant: str
    order_id: str
    customer_id: str
    amount: int
    currency: str
    cashback: int
    refunded: int
    lot_sk: str | None
    occurred_at: str
    request_hash: str
    reply: str  # the JSON reply of the first request, returned to every retry
    status_code: int
    rules_version: int | None = None  # None: the storefront's flat rate
    refund_policy: str = "record_debt"
    status: str = "pending"  # pending | held | blocked | no_cashback
    risk: dict[str, Any] | None = None  # the decision: score, model, reasons, rules fired
    case_status: str | None = None  # open while held for an analyst, then closed
    decision: dict[str, Any] | None = None  # the analyst's: approve or reject, who, note
    # Per SKU: [amount, cashback it earned, refunded so far] (ledger.OrderLine), so a
    # refund that names lines takes back what they earned. None: recorded before lines.
    lines: dict[str, list[int]] | None = None


@dataclass(frozen=True)
class Refund:
    tenant: str
    refund_id: str
    order_id: str
    request_hash: str
    reply: str
    status_code: int


class BudgetShort(Exception):
    """A campaign budget shard no longer had what the purchase wanted to take."""

    def __init__(self, campaigns: tuple[str, ...]) -> None:
        super().__init__(f"budget short for {campaigns}")
        self.campaigns = campaigns


class AlreadyRecorded(Exception):
    """The idempotency record appeared between our read and our write."""


class AccountMoved(Exception):
    """Another writer changed the account or lot first (or a budget shard ran short);
    read again and retry. `failed` holds the positions of the items whose condition
    failed."""

    def __init__(self, failed: tuple[int, ...] = ()) -> None:
        super().__init__(f"conditions failed at {failed}")
        self.failed = failed


class Store:
    def __init__(self, table_name: str, client: Any = None) -> None:
        self.table_name = table_name
        self.client = client or boto3.client(
            "dynamodb", config=Config(retries={"mode": "standard", "max_attempts": 5})
        )

    # -- tenants and keys ---------------------------------------------------------------
    def get_tenant(self, tenant: str) -> TenantSettings | None:
        item = self._get({"pk": f"TENANT#{tenant}", "sk": "SETTINGS"})
        if item is None:
            return None
        return TenantSettings.model_validate(item["settings"])

    def put_tenant(
        self, tenant: str, settings: TenantSettings, created_at: str, usage_key: str | None = None
    ) -> bool:
        """Create a tenant; False when it already exists (nothing is changed). `usage_key`
        is the value of the tenant's API Gateway API key: its usage plan throttles it."""
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=to_item(
                    {
                        "pk": f"TENANT#{tenant}",
                        "sk": "SETTINGS",
                        "tenant": tenant,
                        "settings": settings.model_dump(mode="json"),
                        "created_at": created_at,
                        "usage_key": usage_key,
                    }
                ),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        self._start_checkpoint(created_at)
        return True

    def tenant_usage_key(self, tenant: str) -> str | None:
        """The tenant's API Gateway API key value (None: none was made for it)."""
        item = self._get({"pk": f"TENANT#{tenant}", "sk": "SETTINGS"})
        return item.get("usage_key") if item else None

    def _start_checkpoint(self, created_at: str) -> None:
        """The first tenant tells the lifecycle job where its work can begin: nothing can
        fall due in a bucket before the day the first storefront was created."""
        first_day = datetime.strptime(created_at[:10], "%Y-%m-%d") - timedelta(days=1)
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.put_item(
                TableName=self.table_name,
                Item=to_item(
                    {
                        "pk": "JOB#lifecycle",
                        "sk": "CHECKPOINT",
                        "through": first_day.strftime("%Y-%m-%d"),
                    }
                ),
                ConditionExpression="attribute_not_exists(pk)",
            )

    def put_api_key(self, key_hash: str, record: dict[str, Any]) -> None:
        self.client.put_item(
            TableName=self.table_name,
            Item=to_item({"pk": f"APIKEY#{key_hash}", "sk": "APIKEY", **record}),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def get_api_key(self, key_hash: str) -> dict[str, Any] | None:
        return self._get({"pk": f"APIKEY#{key_hash}", "sk": "APIKEY"})

    def revoke_api_key(self, key_hash: str, revoked_at: str) -> bool:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=to_item({"pk": f"APIKEY#{key_hash}", "sk": "APIKEY"}),
                UpdateExpression="SET revoked_at = :at",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(revoked_at)",
                ExpressionAttributeValues=to_item({":at": revoked_at}),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    # -- reads --------------------------------------------------------------------------
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

    def get_account(self, tenant: str, customer_id: str) -> Account:
        return _account(
            tenant,
            customer_id,
            self._get({"pk": customer_pk(tenant, customer_id), "sk": "ACCOUNT"}),
        )

    def load_purchase(
        self,
        tenant: str,
        order_id: str,
        customer_id: str,
        identities: tuple[tuple[str, str], ...] = (),
    ) -> tuple[Order | None, Account, dict[tuple[str, str], dict[str, Any]]]:
        """In one read: the order's idempotency record and the customer's account (with the
        risk aggregates); then, per device / payment fingerprint of the purchase
        (`identities`: (kind, key) pairs), the customers seen on it as IdentityAggregates
        items (found ones by pair; at most MAX_IDENTITY_CUSTOMERS + 1 customers each, which
        is all a saturating count needs)."""
        order_key = {"pk": f"ORDER#{tenant}#{order_id}", "sk": "ORDER"}
        account_key = {"pk": customer_pk(tenant, customer_id), "sk": "ACCOUNT"}
        found = self._get_many([order_key, account_key])
        order = found.get((order_key["pk"], "ORDER"))
        seen = {}
        for kind, key in identities:
            customers = self._seen_on(tenant, kind, key, MAX_IDENTITY_CUSTOMERS + 1)
            if customers:
                seen[(kind, key)] = {"kind": kind, "key": key, "customers": customers}
        return (
            _order(order) if order else None,
            _account(tenant, customer_id, found.get((account_key["pk"], "ACCOUNT"))),
            seen,
        )

    def _seen_on(self, tenant: str, kind: str, key: str, limit: int | None) -> list[str]:
        """Customers seen on a device / payment fingerprint (up to `limit` markers): their
        marker items, and the customers of the single aggregate item that earlier versions
        kept under sk IDENT (it sorts before the markers; read, never written again)."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": to_item({":pk": _identity_pk(tenant, kind, key)}),
            "ProjectionExpression": "sk, customer_id, customers",
            "ConsistentRead": True,
        }
        if limit is not None:
            reply = self.client.query(TableName=self.table_name, Limit=limit + 1, **kwargs)
            items: Any = [from_item(raw) for raw in reply["Items"]]
        else:
            items = self._query(**kwargs)
        customers: dict[str, None] = {}
        for item in items:
            if item["sk"] == "IDENT":
                customers.update(dict.fromkeys(str(c) for c in item.get("customers", ())))
            elif item["sk"].startswith("SEEN#"):
                customers[item["customer_id"]] = None
        return list(customers)

    def identity_customers(self, tenant: str, kind: str, key: str) -> list[str]:
        """Every customer seen on a device / payment fingerprint (audits and tests)."""
        return self._seen_on(tenant, kind, key, None)

    def load_refund(
        self, tenant: str, refund_id: str, order_id: str
    ) -> tuple[Refund | None, Order | None]:
        refund_key = {"pk": f"REFUND#{tenant}#{refund_id}", "sk": "REFUND"}
        order_key = {"pk": f"ORDER#{tenant}#{order_id}", "sk": "ORDER"}
        found = self._get_many([refund_key, order_key])
        refund = found.get((refund_key["pk"], "REFUND"))
        order = found.get((order_key["pk"], "ORDER"))
        return (_refund(refund) if refund else None, _order(order) if order else None)

    def load_lot_and_account(self, order: Order) -> tuple[Lot | None, Account]:
        pk = customer_pk(order.tenant, order.customer_id)
        keys = [{"pk": pk, "sk": "ACCOUNT"}]
        if order.lot_sk:
            keys.append({"pk": pk, "sk": order.lot_sk})
        found = self._get_many(keys)
        lot = found.get((pk, order.lot_sk)) if order.lot_sk else None
        return (
            lot_from_item(lot) if lot else None,
            _account(order.tenant, order.customer_id, found.get((pk, "ACCOUNT"))),
        )

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        kwargs["TableName"] = self.table_name
        paginator = self.client.get_paginator("query")
        for page in paginator.paginate(**kwargs):
            for raw in page["Items"]:
                yield from_item(raw)

    def entries_page(
        self, tenant: str, customer_id: str, limit: int, before_seq: int | None
    ) -> tuple[list[Entry], int | None]:
        """Newest first. A page ends at a sequence number, so entries appended while a
        client pages never shift what the next page returns."""
        pk = customer_pk(tenant, customer_id)
        upper = entry_sk(before_seq - 1) if before_seq else entry_sk(10**12 - 1)
        reply = self.client.query(
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues=to_item({":pk": pk, ":lo": entry_sk(1), ":hi": upper}),
            ScanIndexForward=False,
            Limit=limit,
        )
        entries = [_entry(from_item(raw)) for raw in reply["Items"]]
        more = "LastEvaluatedKey" in reply and entries and entries[-1].seq > 1
        return entries, (entries[-1].seq if more else None)

    def all_entries(self, tenant: str, customer_id: str) -> list[Entry]:
        return [
            _entry(item)
            for item in self._query(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
                ExpressionAttributeValues=to_item(
                    {":pk": customer_pk(tenant, customer_id), ":p": "ENTRY#"}
                ),
                ConsistentRead=True,
            )
        ]

    def lots(self, tenant: str, customer_id: str) -> Iterator[Lot]:
        """A customer's lots, earliest deadline first."""
        for item in self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues=to_item(
                {":pk": customer_pk(tenant, customer_id), ":p": "LOT#"}
            ),
        ):
            yield lot_from_item(item)

    def customers(self, tenant: str) -> Iterator[str]:
        """Every customer account of a tenant. A paginated Scan: this is for audits
        (`cashback ledger verify`), never for a request or a scheduled job."""
        paginator = self.client.get_paginator("scan")
        prefix = f"CUST#{tenant}#"
        for page in paginator.paginate(
            TableName=self.table_name,
            FilterExpression="begins_with(pk, :p) AND sk = :s",
            ExpressionAttributeValues=to_item({":p": prefix, ":s": "ACCOUNT"}),
            ProjectionExpression="customer_id",
        ):
            for raw in page["Items"]:
                yield from_item(raw)["customer_id"]

    # -- money movements --------------------------------------------------------------
    def commit_purchase(
        self,
        order: Order,
        lot: Lot | None,
        entry: Entry,
        before: Account,
        after: Account,
        now: str,
        budget_takes: tuple[tuple[str, int, int], ...] = (),
        identities: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """Write a purchase; budget_takes are (campaign, shard, amount) decrements, each on
        the condition the shard still has the amount (BudgetShort names the campaigns
        whose shard did not). identities are the (kind, key) of the purchase's device and
        payment fingerprint that have not seen this customer yet: each gets the customer's
        own marker item, unconditionally (idempotent, and no other customer writes it), so
        customers sharing a device never make each other's transactions fail."""
        items = [
            _put_new(
                {
                    "pk": f"ORDER#{order.tenant}#{order.order_id}",
                    "sk": "ORDER",
                    **asdict(order),
                    **_queue_attributes(order),
                    "version": 1,
                }
            )
        ]
        if lot is not None:
            items.append(_put_new(_lot_item(lot, now)))
        items += [_put_new(_entry_item(entry)), self._account_update(before, after)]
        first_take = len(items)
        for campaign, shard, amount in budget_takes:
            items.append(
                {
                    "Update": {
                        "Key": to_item(_budget_key(order.tenant, campaign, shard)),
                        "UpdateExpression": "SET remaining = remaining - :amount",
                        "ConditionExpression": "remaining >= :amount",
                        "ExpressionAttributeValues": to_item({":amount": amount}),
                    }
                }
            )
        first_identity = len(items)
        for kind, key in identities:
            items.append(
                {
                    "Update": {
                        "Key": to_item(
                            {
                                "pk": _identity_pk(order.tenant, kind, key),
                                "sk": f"SEEN#{order.customer_id}",
                            }
                        ),
                        "UpdateExpression": (
                            "SET #kind = :kind, #key = :key, customer_id = :customer, "
                            "first_seen = if_not_exists(first_seen, :at)"
                        ),
                        # Always true for this customer (the item is its own): no other customer's
                        # purchase can make it fail.
                        "ConditionExpression": (
                            "attribute_not_exists(pk) OR customer_id = :customer"
                        ),
                        "ExpressionAttributeNames": {"#kind": "kind", "#key": "key"},
                        "ExpressionAttributeValues": to_item(
                            {
                                ":kind": kind,
                                ":key": key,
                                ":customer": order.customer_id,
                                ":at": order.occurred_at,
                            }
                        ),
                    }
                }
            )
        if len(items) > TRANSACT_MAX_ITEMS:  # accrual bounds the budget takes: never here
            raise ValueError(
                f"a purchase of {len(items)} items exceeds a transaction's {TRANSACT_MAX_ITEMS}"
            )
        try:
            self._transact(items)
        except AccountMoved as moved:
            short = tuple(
                budget_takes[i - first_take][0]
                for i in moved.failed
                if first_take <= i < first_identity
            )
            if short:
                raise BudgetShort(short) from moved
            raise

    # -- rule versions and campaign budgets -------------------------------------------
    def put_rule_version(self, tenant: str, version: int, record: dict[str, Any]) -> bool:
        """Publish an immutable version; False if that number was taken meanwhile."""
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=to_item(
                    {
                        "pk": f"RULES#{tenant}",
                        "sk": f"V#{version:06d}",
                        "version": version,
                        **record,
                    }
                ),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def rule_versions(self, tenant: str) -> list[dict[str, Any]]:
        """Every published version's number, dates and publisher (not the bodies)."""
        return list(
            self._query(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :v)",
                ExpressionAttributeValues=to_item({":pk": f"RULES#{tenant}", ":v": "V#"}),
                ProjectionExpression="version, effective_from, published_at, published_by",
                ConsistentRead=True,
            )
        )

    def rule_version(self, tenant: str, version: int) -> dict[str, Any] | None:
        return self._get({"pk": f"RULES#{tenant}", "sk": f"V#{version:06d}"})

    def open_budget(self, tenant: str, campaign: str, allowances: tuple[int, ...]) -> bool:
        """Create a campaign's budget shards; False if they exist already."""
        items = [
            _put_new(
                {
                    **_budget_key(tenant, campaign, shard),
                    "shard": shard,
                    "remaining": allowance,
                    "allowance": allowance,
                }
            )
            for shard, allowance in enumerate(allowances)
        ]
        try:
            for start in range(0, len(items), 25):  # a transaction holds at most 100
                self._transact(items[start : start + 25], first_is_idempotency_record=False)
        except AccountMoved:
            return False
        return True

    def budget_shards(self, tenant: str, campaign: str) -> list[dict[str, int]]:
        """Each shard of a campaign's budget: shard, remaining, allowance; in shard order."""
        items = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_item({":pk": f"BUDGET#{tenant}#{campaign}"}),
            ConsistentRead=True,
        )
        return sorted(
            ({k: item[k] for k in ("shard", "remaining", "allowance")} for item in items),
            key=lambda shard: shard["shard"],
        )

    def budget_remaining(self, tenant: str, campaign: str) -> list[int]:
        """What each shard of a campaign's budget has left, shard by shard."""
        return [shard["remaining"] for shard in self.budget_shards(tenant, campaign)]

    def resize_budget_shard(
        self, tenant: str, campaign: str, shard: int, delta: int, remaining_before: int
    ) -> bool:
        """Add `delta` (negative: take away) to one shard's allowance and remaining, if no
        purchase took from it since it was read; False when one did (read and retry)."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=to_item(_budget_key(tenant, campaign, shard)),
                UpdateExpression="SET remaining = remaining + :d, allowance = allowance + :d",
                ConditionExpression="remaining = :before",
                ExpressionAttributeValues=to_item({":d": delta, ":before": remaining_before}),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def commit_refund(
        self,
        refund: Refund,
        order: Order,
        refunded_before: int,
        lot_before: Lot | None,
        lot_after: Lot | None,
        entry: Entry,
        before: Account,
        after: Account,
        now: str,
        other_lots: tuple[tuple[Lot, Lot], ...] = (),
    ) -> None:
        items: list[dict[str, Any]] = [
            _put_new(
                {
                    "pk": f"REFUND#{refund.tenant}#{refund.refund_id}",
                    "sk": "REFUND",
                    **asdict(refund),
                }
            ),
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": to_item({"pk": f"ORDER#{order.tenant}#{order.order_id}", "sk": "ORDER"}),
                    "UpdateExpression": "SET refunded = :new"
                    + (", case_status = :case" if order.case_status else "")
                    + (", #lines = :lines" if order.lines is not None else "")
                    + (" REMOVE queue_pk, queue_sk" if order.case_status == "closed" else ""),
                    "ConditionExpression": "refunded = :old",
                    "ExpressionAttributeValues": to_item(
                        {
                            ":new": order.refunded,
                            ":old": refunded_before,
                            ":case": order.case_status,
                            ":lines": order.lines,
                        }
                    ),
                    **(
                        {"ExpressionAttributeNames": {"#lines": "lines"}}
                        if order.lines is not None
                        else {}
                    ),
                }
            },
        ]
        if lot_before is not None and lot_after is not None and lot_after != lot_before:
            items.append(_replace_lot(lot_before, lot_after, now))
        items += [
            _replace_lot(other_before, other_after, now) for other_before, other_after in other_lots
        ]
        items += [_put_new(_entry_item(entry)), self._account_update(before, after)]
        self._transact(items)

    # -- the review queue ---------------------------------------------------------------
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
        return ([_order(from_item(raw)) for raw in page["Items"]], page.get("LastEvaluatedKey"))

    def get_order(self, tenant: str, order_id: str) -> Order | None:
        item = self._get({"pk": f"ORDER#{tenant}#{order_id}", "sk": "ORDER"})
        return _order(item) if item else None

    def commit_decision(
        self,
        order: Order,
        decision: dict[str, Any],
        lot_before: Lot,
        lot_after: Lot,
        entry: Entry,
        before: Account,
        after: Account,
        now: str,
    ) -> None:
        """Close a case with the analyst's decision, moving the held cashback with it."""
        items = [
            {
                "Update": {
                    "Key": to_item({"pk": f"ORDER#{order.tenant}#{order.order_id}", "sk": "ORDER"}),
                    "UpdateExpression": "SET case_status = :closed, decision = :decision "
                    "REMOVE queue_pk, queue_sk",
                    "ConditionExpression": "case_status = :open",
                    "ExpressionAttributeValues": to_item(
                        {":closed": "closed", ":open": "open", ":decision": decision}
                    ),
                }
            },
            _replace_lot(lot_before, lot_after, now),
            _put_new(_entry_item(entry)),
            self._account_update(before, after),
        ]
        self._transact(items, first_is_idempotency_record=False)

    # -- the scheduled lifecycle ------------------------------------------------------
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

    def get_lot(self, tenant: str, customer_id: str, sk: str) -> Lot | None:
        item = self._get({"pk": customer_pk(tenant, customer_id), "sk": sk})
        return lot_from_item(item) if item else None

    def commit_advance(
        self,
        lot_before: Lot,
        lot_after: Lot,
        entries: tuple[Entry, ...],
        before: Account,
        after: Account,
        notices: list[dict[str, Any]],
        now: str,
    ) -> None:
        """One lot moved forward: the lot, its entries, the account and the notices to
        publish, in one transaction. The notices wait in the due index until published,
        so a run that dies after this commit still tells the storefront next time."""
        items = [_replace_lot(lot_before, lot_after, now)]
        items += [_put_new(_entry_item(entry)) for entry in entries]
        if entries:
            items.append(self._account_update(before, after))
        items += [_put_new(notice) for notice in notices]
        self._transact(items, first_is_idempotency_record=False)

    def mark_published(self, pk: str, sk: str, published_at: str) -> None:
        """Take a published notice out of the due index; the item stays as the record."""
        self.client.update_item(
            TableName=self.table_name,
            Key=to_item({"pk": pk, "sk": sk}),
            UpdateExpression="SET published_at = :at REMOVE due_bucket, due_at",
            ExpressionAttributeValues=to_item({":at": published_at}),
        )

    def claim_notice(self, pk: str, sk: str, now: str) -> bool:
        """Take over an unpublished notice made by a run for an earlier moment."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=to_item({"pk": pk, "sk": sk}),
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
        item = self._get({"pk": f"JOB#{job}", "sk": "CHECKPOINT"})
        return item["through"] if item else None

    def advance_checkpoint(self, job: str, through: str) -> None:
        """Only ever forward: an overlapping or replayed run cannot move it back."""
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(
                TableName=self.table_name,
                Key=to_item({"pk": f"JOB#{job}", "sk": "CHECKPOINT"}),
                UpdateExpression="SET through = :h",
                ConditionExpression="attribute_not_exists(through) OR through < :h",
                ExpressionAttributeValues=to_item({":h": through}),
            )

    def set_checkpoint(self, job: str, through: str) -> None:
        """Move the checkpoint back to `through` (a run found it ahead of its own time; see
        lifecycle). Only ever back: going back costs a rescan, never a missed day."""
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(
                TableName=self.table_name,
                Key=to_item({"pk": f"JOB#{job}", "sk": "CHECKPOINT"}),
                UpdateExpression="SET through = :h",
                ConditionExpression="through > :h",
                ExpressionAttributeValues=to_item({":h": through}),
            )

    def _account_update(self, before: Account, after: Account) -> dict[str, Any]:
        values: dict[str, Any] = {f":{name}": after.values[name] for name in FIELDS}
        values.update(
            {
                ":seq": after.seq,
                ":head": after.head,
                ":tenant": after.tenant,
                ":customer": after.customer_id,
                ":spend_days": after.spend_days,
                ":earned_months": after.earned_months,
                ":risk": after.risk,
                ":last_activity_at": after.last_activity_at,
            }
        )
        sets = ", ".join(f"{name} = :{name}" for name in FIELDS)
        update: dict[str, Any] = {
            "Key": to_item({"pk": customer_pk(after.tenant, after.customer_id), "sk": "ACCOUNT"}),
            "UpdateExpression": f"SET {sets}, seq = :seq, head = :head, "
            "tenant = :tenant, customer_id = :customer, "
            "spend_days = :spend_days, earned_months = :earned_months, "
            "risk = :risk, last_activity_at = :last_activity_at",
        }
        if before.exists:
            # The chain's lock: whoever read the account at this sequence wins, once.
            update["ConditionExpression"] = "seq = :prev"
            values[":prev"] = before.seq
        else:
            update["ConditionExpression"] = "attribute_not_exists(pk)"
        update["ExpressionAttributeValues"] = to_item(values)
        return {"Update": update}

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


def _queue_attributes(order: Order) -> dict[str, str]:
    """Open cases sort riskiest first: (1 - score) ascending, then oldest first."""
    if order.case_status != "open" or not order.risk:
        return {}
    score = float(order.risk.get("score") or 0)
    inverted = f"{max(0, min(999999, round((1 - score) * 1_000_000))):06d}"
    return {
        "queue_pk": f"REVIEW#{order.tenant}",
        "queue_sk": f"{inverted}#{order.occurred_at}#{order.order_id}",
    }


def _identity_pk(tenant: str, kind: str, key: str) -> str:
    return f"IDENT#{tenant}#{kind}#{key}"


def _budget_key(tenant: str, campaign: str, shard: int) -> dict[str, Any]:
    return {"pk": f"BUDGET#{tenant}#{campaign}", "sk": f"SHARD#{shard:03d}"}


def _put_new(item: dict[str, Any]) -> dict[str, Any]:
    return {"Put": {"Item": to_item(item), "ConditionExpression": "attribute_not_exists(pk)"}}


def _lot_item(lot: Lot, now: str) -> dict[str, Any]:
    pk, sk = customer_pk(lot.tenant, lot.customer_id), lot_sk(lot.expires_at, lot.order_id)
    return {"pk": pk, "sk": sk, **asdict(lot), **_due_attributes(pk, sk, lot.due_at, now)}


def _replace_lot(before: Lot, after: Lot, now: str) -> dict[str, Any]:
    """Put the lot's new state if nobody changed it since we read it."""
    return {
        "Put": {
            "Item": to_item(_lot_item(after, now)),
            "ConditionExpression": "version = :v",
            "ExpressionAttributeValues": to_item({":v": before.version}),
        }
    }


def _entry_item(entry: Entry) -> dict[str, Any]:
    return {
        "pk": customer_pk(entry.tenant, entry.customer_id),
        "sk": entry_sk(entry.seq),
        **asdict(entry),
    }


def _account(tenant: str, customer_id: str, item: dict[str, Any] | None) -> Account:
    if item is None:
        return Account(tenant, customer_id)
    return Account(
        tenant,
        customer_id,
        seq=item["seq"],
        head=item["head"],
        values={name: item.get(name, 0) for name in FIELDS},
        spend_days=item.get("spend_days", {}),
        earned_months=item.get("earned_months", {}),
        risk=item.get("risk", {}),
        last_activity_at=item.get("last_activity_at", ""),
    )


def _pick(cls: type, item: dict[str, Any]) -> Any:
    names = cls.__dataclass_fields__  # type: ignore[attr-defined]
    return cls(**{k: v for k, v in item.items() if k in names})


def _order(item: dict[str, Any]) -> Order:
    return _pick(Order, {"lot_sk": None, **item})  # type: ignore[no-any-return]


def _refund(item: dict[str, Any]) -> Refund:
    return _pick(Refund, item)  # type: ignore[no-any-return]


def lot_from_item(item: dict[str, Any]) -> Lot:
    return _pick(Lot, item)  # type: ignore[no-any-return]


def _entry(item: dict[str, Any]) -> Entry:
    return _pick(Entry, {**item, "deltas": item.get("deltas", {})})  # type: ignore[no-any-return]


def request_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()
