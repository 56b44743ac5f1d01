"""Customers' accounts and what hangs off them: the hash-chained entries, the lots, and the
markers of the devices and payment fingerprints each customer was seen on."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from cashback.adapters.dynamodb.table import (
    Table,
    customer_pk,
    due_attributes,
    entry_sk,
    from_item,
    identity_pk,
    lot_sk,
    pick,
    put_versioned,
    to_item,
)
from cashback.domain.ledger import FIELDS, Account, Draw, Entry, Lot

# Live lots per read of the `live` index unless the caller says how many it needs (a
# balance: one more than the deadlines it shows); a refund under claw_back_within_balance
# needs at most REFUND_BALANCE_LOTS.
LIVE_LOTS_PAGE = 10
# The customer's progress on the account (issue 12: the growth rules', and their orders and
# revenue in each experiment), stored as attributes of these names.
GROWTH_FIELDS = (
    "purchase_count",
    "lifetime_spend",
    "first_purchase_at",
    "category_days",
    "purchase_months",
    "milestones",
    "experiments",
)


class AccountsTable(Table):
    def get_account(self, tenant: str, customer_id: str) -> Account:
        return account_from_item(
            tenant,
            customer_id,
            self._get({"pk": customer_pk(tenant, customer_id), "sk": "ACCOUNT"}),
        )

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
        entries = [entry_from_item(from_item(raw)) for raw in reply["Items"]]
        more = "LastEvaluatedKey" in reply and entries and entries[-1].seq > 1
        return entries, (entries[-1].seq if more else None)

    def all_entries(self, tenant: str, customer_id: str) -> list[Entry]:
        return [
            entry_from_item(item)
            for item in self._query(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
                ExpressionAttributeValues=to_item(
                    {":pk": customer_pk(tenant, customer_id), ":p": "ENTRY#"}
                ),
                ConsistentRead=True,
            )
        ]

    def live_lots(self, tenant: str, customer_id: str, page: int = LIVE_LOTS_PAGE) -> Iterator[Lot]:
        """A customer's lots that still hold cashback, earliest deadline first, read from the
        sparse local index `live` (strongly consistent, as a local index allows) `page` at a
        time: callers stop early, and depleted lots are never read."""
        for item in self._query(
            IndexName="live",
            ConsistentRead=True,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_item({":pk": customer_pk(tenant, customer_id)}),
            PaginationConfig={"PageSize": page},
        ):
            yield lot_from_item(item)

    def load_drawn(
        self, tenant: str, customer_id: str, draws: tuple[Draw, ...]
    ) -> tuple[Account, dict[tuple[str, str], Lot]]:
        """The customer's account and the lots a redemption or payout drew from (by
        Lot.key), in one read."""
        pk = customer_pk(tenant, customer_id)
        keys = [{"pk": pk, "sk": "ACCOUNT"}]
        keys += [{"pk": pk, "sk": lot_sk(*d.key)} for d in draws]
        found = self._get_many(keys)
        account = account_from_item(tenant, customer_id, found.pop((pk, "ACCOUNT"), None))
        lots = [lot_from_item(item) for item in found.values()]
        return account, {lot.key: lot for lot in lots}

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

    def identity_customers(self, tenant: str, kind: str, key: str) -> list[str]:
        """Every customer seen on a device / payment fingerprint (audits and tests)."""
        return seen_on(self, tenant, kind, key, None)


def with_account(
    table: Table, key: dict[str, str], tenant: str, customer_id: str
) -> tuple[dict[str, Any] | None, Account]:
    """In one read: the item at `key` (an idempotency record, if any) and the customer's
    account."""
    account_key = {"pk": customer_pk(tenant, customer_id), "sk": "ACCOUNT"}
    found = table._get_many([key, account_key])
    account = account_from_item(tenant, customer_id, found.get((account_key["pk"], "ACCOUNT")))
    return found.get((key["pk"], key["sk"])), account


def seen_on(table: Table, tenant: str, kind: str, key: str, limit: int | None) -> list[str]:
    """Customers seen on a device / payment fingerprint (up to `limit` markers): their
    marker items, and the customers of the single aggregate item that earlier versions
    kept under sk IDENT (it sorts before the markers; read, never written again)."""
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": to_item({":pk": identity_pk(tenant, kind, key)}),
        "ProjectionExpression": "sk, customer_id, customers",
        "ConsistentRead": True,
    }
    if limit is not None:
        reply = table.client.query(TableName=table.table_name, Limit=limit + 1, **kwargs)
        items: Any = [from_item(raw) for raw in reply["Items"]]
    else:
        items = table._query(**kwargs)
    customers: dict[str, None] = {}
    for item in items:
        if item["sk"] == "IDENT":
            customers.update(dict.fromkeys(str(c) for c in item.get("customers", ())))
        elif item["sk"].startswith("SEEN#"):
            customers[item["customer_id"]] = None
    return list(customers)


def account_update(before: Account, after: Account) -> dict[str, Any]:
    """The account's new state, on the chain's condition: still at the sequence read."""
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
            ":holds": after.holds,
            ":payouts": after.payouts,
            **{f":{name}": getattr(after, name) for name in GROWTH_FIELDS},
        }
    )
    sets = ", ".join(f"{name} = :{name}" for name in FIELDS)
    update: dict[str, Any] = {
        "Key": to_item({"pk": customer_pk(after.tenant, after.customer_id), "sk": "ACCOUNT"}),
        "UpdateExpression": f"SET {sets}, seq = :seq, head = :head, "
        "tenant = :tenant, customer_id = :customer, "
        "spend_days = :spend_days, earned_months = :earned_months, "
        "risk = :risk, last_activity_at = :last_activity_at, holds = :holds, "
        "payouts = :payouts, " + ", ".join(f"{name} = :{name}" for name in GROWTH_FIELDS),
    }
    if before.exists:
        # The chain's lock: whoever read the account at this sequence wins, once.
        update["ConditionExpression"] = "seq = :prev"
        values[":prev"] = before.seq
    else:
        update["ConditionExpression"] = "attribute_not_exists(pk)"
    update["ExpressionAttributeValues"] = to_item(values)
    return {"Update": update}


def lot_item(lot: Lot, now: str) -> dict[str, Any]:
    pk, sk = customer_pk(lot.tenant, lot.customer_id), lot_sk(lot.expires_at, lot.order_id)
    # Sparse local index `live`: only lots that still hold cashback carry live_sk, so
    # reading them costs the same however long the customer's history (a Put without it
    # takes the lot out of the index in the same write).
    live = {"live_sk": sk} if lot.holds_cashback else {}
    return {"pk": pk, "sk": sk, **asdict(lot), **live, **due_attributes(pk, sk, lot.due_at, now)}


def replace_lot(before: Lot, after: Lot, now: str) -> dict[str, Any]:
    """Put the lot's new state if nobody changed it since we read it."""
    return put_versioned(lot_item(after, now), before.version)


def entry_item(entry: Entry) -> dict[str, Any]:
    return {
        "pk": customer_pk(entry.tenant, entry.customer_id),
        "sk": entry_sk(entry.seq),
        **asdict(entry),
    }


def account_from_item(tenant: str, customer_id: str, item: dict[str, Any] | None) -> Account:
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
        holds=item.get("holds", {}),
        payouts=item.get("payouts", {}),
        **{name: item[name] for name in GROWTH_FIELDS if name in item},
    )


def lot_from_item(item: dict[str, Any]) -> Lot:
    return pick(Lot, item)


def entry_from_item(item: dict[str, Any]) -> Entry:
    return pick(Entry, {**item, "deltas": item.get("deltas", {})})
