"""Cases in the table: the lists of cases by state in three orders (see cases.py), a case
file (the order and its notes, one Query), claims and notes, the customers linked through
a device or payment fingerprint, and the transaction that closes a case with a decision."""

from __future__ import annotations

import contextlib
from dataclasses import asdict
from typing import Any

from cashback.adapters.dynamodb.accounts import (
    account_update,
    entry_item,
    lot_from_item,
    replace_lot,
    seen_on,
)
from cashback.adapters.dynamodb.cases import INDEXES, cursor_of, key_of, queue_pk, risk_key
from cashback.adapters.dynamodb.due import waiting_notice
from cashback.adapters.dynamodb.lists import entry_writes
from cashback.adapters.dynamodb.orders import order_from_item
from cashback.adapters.dynamodb.table import (
    Table,
    customer_cases_pk,
    customer_pk,
    from_item,
    order_key,
    pick,
    put_new,
    to_item,
)
from cashback.domain.cases import CaseSort, CaseState, Claim, Note
from cashback.domain.changes import AccountMoved, DecisionChange
from cashback.domain.orders import Order

LINKED_CUSTOMERS = 10


class ReviewsTable(Table):
    def review_list(
        self,
        tenant: str,
        state: CaseState = "open",
        sort: CaseSort = "risk",
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[Order], str | None]:
        """One page of the cases in `state`, in `sort`'s order, from where `cursor` says,
        and the cursor of the next page (None: the last page)."""
        index, _ = INDEXES[sort]
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": index,
            "Limit": limit,
            "KeyConditionExpression": "queue_pk = :q",
            "ExpressionAttributeValues": to_item({":q": queue_pk(tenant, state)}),
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = key_of(cursor, tenant, state, sort)
        page = self.client.query(**kwargs)
        return (
            [order_from_item(from_item(raw)) for raw in page["Items"]],
            cursor_of(page.get("LastEvaluatedKey")),
        )

    def held_cashback(self, orders: list[Order]) -> dict[str, int]:
        """What each open case still holds for the decision: its held lot's cashback (one
        BatchGetItem for a page; a refund may have taken part of it)."""
        keys = [
            {"pk": customer_pk(o.tenant, o.customer_id), "sk": o.lot_sk}
            for o in orders
            if o.case_status == "open" and o.lot_sk
        ]
        lots = [lot_from_item(item) for item in self._get_many(keys).values()] if keys else []
        return {lot.order_id: lot.pending for lot in lots if lot.status == "HELD"}

    def review_queue(
        self, tenant: str, limit: int, cursor: str | None = None
    ) -> tuple[list[Order], str | None]:
        return self.review_list(tenant, "open", "risk", limit, cursor)

    def cases_since(
        self, tenant: str, state: CaseState, since: str | None = None
    ) -> list[dict[str, Any]]:
        """The claim and decision of every case in `state` (whose purchase occurred since
        `since`, when given: the stats' window), read from the age index."""
        values = {":q": queue_pk(tenant, state), **({":since": since} if since else {})}
        return list(
            self._query(
                IndexName=INDEXES["age"][0],
                KeyConditionExpression="queue_pk = :q" + (" AND age_sk >= :since" if since else ""),
                ExpressionAttributeValues=to_item(values),
                ProjectionExpression="order_id, occurred_at, claim, decision.#by, "
                "decision.decision, decision.#at",
                ExpressionAttributeNames={"#by": "by", "#at": "at"},
            )
        )

    def case_file(self, tenant: str, order_id: str) -> tuple[Order | None, list[Note]]:
        """The order and its notes, oldest first: one Query of the order's partition."""
        key = order_key(tenant, order_id)
        order, notes = None, []
        for item in self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_item({":pk": key["pk"]}),
            ConsistentRead=True,
        ):
            if item["sk"] == "ORDER":
                order = order_from_item(item)
            elif item["sk"].startswith("NOTE#"):
                notes.append(pick(Note, item))
        return order, notes

    def add_note(self, tenant: str, order_id: str, note: Note) -> None:
        pk = order_key(tenant, order_id)["pk"]
        sk = f"NOTE#{note.at}#{note.note_id}"
        item = {"pk": pk, "sk": sk, **asdict(note)}
        self.client.put_item(TableName=self.table_name, **put_new(item)["Put"])

    def customer_cases(self, tenant: str, customer_id: str, limit: int) -> list[Order]:
        """The customer's latest cases, newest first (their pointers, then the orders)."""
        reply = self.client.query(
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_item({":pk": customer_cases_pk(tenant, customer_id)}),
            ScanIndexForward=False,
            Limit=limit,
        )
        ids = [from_item(raw)["order_id"] for raw in reply["Items"]]
        found = self._get_many([order_key(tenant, each) for each in ids]) if ids else {}
        orders = {item["order_id"]: order_from_item(item) for item in found.values()}
        return [orders[each] for each in ids if each in orders]

    def linked_customers(self, order: Order) -> list[tuple[str, str]]:
        """Other customers seen on the order's device or payment fingerprint, with how."""
        linked: dict[str, str] = {}
        for via, key in (("device", order.device_id), ("payment", order.payment_fingerprint)):
            if key:
                for customer in seen_on(self, order.tenant, via, key, LINKED_CUSTOMERS):
                    if customer != order.customer_id:
                        linked.setdefault(customer, via)
        return list(linked.items())[:LINKED_CUSTOMERS]

    def raise_priority(self, case: Order, score: float, source: str) -> None:
        """Move an open case up the risk order to `score`, only up: a case that closed, or
        that another purchase already raised as high, is left as it is."""
        key = risk_key(score, case)
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(
                TableName=self.table_name,
                Key=to_item(order_key(case.tenant, case.order_id)),
                UpdateExpression="SET queue_sk = :key, priority = :priority",
                ConditionExpression="case_status = :open AND queue_sk > :key",
                ExpressionAttributeValues=to_item(
                    {
                        ":key": key,
                        ":priority": {"score": f"{score:.6f}", "from": source},
                        ":open": "open",
                    }
                ),
            )

    def set_claim(self, order: Order, claim: Claim) -> None:
        """Claim an open case, if its claim is still the one read (AccountMoved if not); a
        take-over is kept in the case's claim log."""
        values: dict[str, Any] = {":open": "open", ":claim": claim.to_item()}
        expression = "SET claim = :claim"
        if claim.taken_from:
            expression += ", claim_log = list_append(if_not_exists(claim_log, :none), :log)"
            values.update({":none": [], ":log": [claim.to_item()]})
        condition, names = _claim_unchanged(order, values)
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=to_item(order_key(order.tenant, order.order_id)),
                UpdateExpression=expression,
                ConditionExpression="case_status = :open AND " + condition,
                ExpressionAttributeValues=to_item(values),
                **({"ExpressionAttributeNames": names} if names else {}),
            )
        except self.client.exceptions.ConditionalCheckFailedException as error:
            raise AccountMoved((0,)) from error

    def commit_decision(self, change: DecisionChange) -> None:
        """Close a case with the analyst's decision, moving the held cashback with it (and
        putting the customer on a list, audited, when the decision asks), if the case is
        still open and its claim still the one read."""
        order = change.order
        state: CaseState = "approved" if change.decision["decision"] == "approve" else "rejected"
        values: dict[str, Any] = {
            ":closed": "closed",
            ":open": "open",
            ":decision": change.decision,
            ":status": change.status or order.status,
            ":state": queue_pk(order.tenant, state),
        }
        condition, names = _claim_unchanged(order, values)
        items = [
            {
                "Update": {
                    "Key": to_item(order_key(order.tenant, order.order_id)),
                    "UpdateExpression": "SET case_status = :closed, decision = :decision, "
                    "#status = :status, queue_pk = :state",
                    "ConditionExpression": "case_status = :open AND " + condition,
                    "ExpressionAttributeNames": {"#status": "status", **names},
                    "ExpressionAttributeValues": to_item(values),
                }
            },
            replace_lot(change.lot_before, change.lot_after, change.now),
            *(put_new(entry_item(entry)) for entry in change.entries),
            account_update(change.before, change.after),
            *(waiting_notice(notice, change.now) for notice in change.notices),
            *(entry_writes(change.listed) if change.listed else ()),
        ]
        self._transact(items, first_is_idempotency_record=False)


def _claim_unchanged(order: Order, values: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """A condition that the case's claim is still the one `order` was read with."""
    if not order.claim:
        return "attribute_not_exists(claim)", {}
    values.update({":claim_by": order.claim["by"], ":claim_until": order.claim["until"]})
    return "claim.#by = :claim_by AND claim.#until = :claim_until", {
        "#by": "by",
        "#until": "until",
    }
