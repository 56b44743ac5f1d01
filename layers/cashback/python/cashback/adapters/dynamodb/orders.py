"""Orders and refunds: their idempotency records, read with the customer's account, and
the purchase and refund transactions that write them together with the money."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from cashback.adapters.dynamodb.accounts import (
    account_from_item,
    account_update,
    entry_item,
    lot_from_item,
    lot_item,
    replace_lot,
    seen_on,
)
from cashback.adapters.dynamodb.cases import case_keys, queue_pk
from cashback.adapters.dynamodb.due import purchase_notice_item
from cashback.adapters.dynamodb.lists import entry_from_item, entry_key
from cashback.adapters.dynamodb.redemptions import order_paid_pk, redemption_key
from cashback.adapters.dynamodb.table import (
    Table,
    budget_key,
    customer_cases_pk,
    customer_pk,
    identity_pk,
    lot_sk,
    order_key,
    pick,
    put_new,
    to_item,
)
from cashback.domain.cases import state_of
from cashback.domain.changes import (
    TRANSACT_MAX_ITEMS,
    AccountMoved,
    BudgetShort,
    PurchaseChange,
    RefundChange,
)
from cashback.domain.ledger import Account, Lot
from cashback.domain.lists import ListEntry, ListSubject
from cashback.domain.orders import Order, Refund
from cashback.domain.redemptions import Redemption
from cashback.domain.risk.aggregates import MAX_IDENTITY_CUSTOMERS


class OrdersTable(Table):
    def get_order(self, tenant: str, order_id: str) -> Order | None:
        item = self._get(order_key(tenant, order_id))
        return order_from_item(item) if item else None

    def load_purchase(
        self,
        tenant: str,
        order_id: str,
        customer_id: str,
        identities: tuple[tuple[str, str], ...] = (),
        subjects: tuple[ListSubject, ...] = (),
    ) -> tuple[Order | None, Account, dict[tuple[str, str], dict[str, Any]], list[ListEntry]]:
        """In one read: the order's idempotency record, the customer's account (with the
        risk aggregates) and the storefront's list entries for `subjects` ((kind, value)
        pairs; whichever exist, live or not); then, per device / payment fingerprint of the purchase
        (`identities`: (kind, key) pairs), the customers seen on it as IdentityAggregates
        items (found ones by pair; at most MAX_IDENTITY_CUSTOMERS + 1 customers each, which
        is all a saturating count needs)."""
        order = order_key(tenant, order_id)
        account_key = {"pk": customer_pk(tenant, customer_id), "sk": "ACCOUNT"}
        entries = [entry_key(tenant, kind, value) for kind, value in subjects]
        found = self._get_many([order, account_key, *entries])
        item = found.get((order["pk"], "ORDER"))
        seen = {}
        for kind, key in identities:
            customers = seen_on(self, tenant, kind, key, MAX_IDENTITY_CUSTOMERS + 1)
            if customers:
                seen[(kind, key)] = {"kind": kind, "key": key, "customers": customers}
        return (
            order_from_item(item) if item else None,
            account_from_item(tenant, customer_id, found.get((account_key["pk"], "ACCOUNT"))),
            seen,
            [
                entry_from_item(tenant, found[(key["pk"], key["sk"])])
                for key in entries
                if (key["pk"], key["sk"]) in found
            ],
        )

    def load_refund(
        self, tenant: str, refund_id: str, order_id: str
    ) -> tuple[Refund | None, Order | None]:
        refund_key = {"pk": f"REFUND#{tenant}#{refund_id}", "sk": "REFUND"}
        order = order_key(tenant, order_id)
        found = self._get_many([refund_key, order])
        refund = found.get((refund_key["pk"], "REFUND"))
        item = found.get((order["pk"], "ORDER"))
        return (
            pick(Refund, refund) if refund else None,
            order_from_item(item) if item else None,
        )

    def load_lot_and_account(self, order: Order) -> tuple[Lot | None, Account]:
        pk = customer_pk(order.tenant, order.customer_id)
        keys = [{"pk": pk, "sk": "ACCOUNT"}]
        if order.lot_sk:
            keys.append({"pk": pk, "sk": order.lot_sk})
        found = self._get_many(keys)
        lot = found.get((pk, order.lot_sk)) if order.lot_sk else None
        return (
            lot_from_item(lot) if lot else None,
            account_from_item(order.tenant, order.customer_id, found.get((pk, "ACCOUNT"))),
        )

    def redemptions_of_order(self, tenant: str, order_id: str) -> list[Redemption]:
        """The captured redemptions that paid for an order: its pointer items (one Query),
        then their records (one BatchGetItem)."""
        pointers = self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :red)",
            ExpressionAttributeValues=to_item(
                {":pk": order_paid_pk(tenant, order_id), ":red": "RED#"}
            ),
        )
        keys = [redemption_key(tenant, p["redemption_id"]) for p in pointers]
        found = self._get_many(keys) if keys else {}
        return [pick(Redemption, item) for item in found.values()]

    def commit_purchase(self, change: PurchaseChange) -> None:
        """Write a purchase in one transaction (see PurchaseChange); BudgetShort names the
        campaigns whose shard no longer had what the purchase wanted to take."""
        order, lot = change.order, change.lot
        if lot is not None:  # the order points at its lot
            order = replace(order, lot_sk=lot_sk(lot.expires_at, lot.order_id))
        items = [put_new({**order_key(order.tenant, order.order_id), **_order_attributes(order)})]
        if lot is not None:
            items.append(put_new(lot_item(lot, change.now)))
        if order.case_status == "open":
            items.append(put_new(customer_case(order)))
        items += [put_new(entry_item(change.entry)), account_update(change.before, change.after)]
        items += [put_new(purchase_notice_item(n, change.now)) for n in change.notices]
        first_take = len(items)
        items += [_budget_take(order.tenant, *take) for take in change.budget_takes]
        first_identity = len(items)
        items += [_identity_marker(order, kind, key) for kind, key in change.identities]
        if len(items) > TRANSACT_MAX_ITEMS:  # accrual bounds the budget takes: never here
            raise ValueError(
                f"a purchase of {len(items)} items exceeds a transaction's {TRANSACT_MAX_ITEMS}"
            )
        try:
            self._transact(items)
        except AccountMoved as moved:
            short = tuple(
                change.budget_takes[i - first_take][0]
                for i in moved.failed
                if first_take <= i < first_identity
            )
            if short:
                raise BudgetShort(short) from moved
            raise

    def commit_refund(self, change: RefundChange) -> None:
        refund, order = change.refund, change.order
        items: list[dict[str, Any]] = [
            put_new(
                {
                    "pk": f"REFUND#{refund.tenant}#{refund.refund_id}",
                    "sk": "REFUND",
                    **asdict(refund),
                }
            ),
            _refunded_order(order, change.refunded_before),
        ]
        lot_before, lot_after = change.lot_before, change.lot_after
        if lot_before is not None and lot_after is not None and lot_after != lot_before:
            items.append(replace_lot(lot_before, lot_after, change.now))
        items += [replace_lot(before, after, change.now) for before, after in change.other_lots]
        items += [put_new(entry_item(change.entry)), account_update(change.before, change.after)]
        self._transact(items)


def _order_attributes(order: Order) -> dict[str, Any]:
    return {**asdict(order), **case_keys(order), "version": 1}


def _budget_take(tenant: str, campaign: str, shard: int, amount: int) -> dict[str, Any]:
    """Take `amount` from one shard of a campaign's budget, if the shard still has it."""
    return {
        "Update": {
            "Key": to_item(budget_key(tenant, campaign, shard)),
            "UpdateExpression": "SET remaining = remaining - :amount",
            "ConditionExpression": "remaining >= :amount",
            "ExpressionAttributeValues": to_item({":amount": amount}),
        }
    }


def _identity_marker(order: Order, kind: str, key: str) -> dict[str, Any]:
    """The customer's own marker on a device / payment fingerprint."""
    return {
        "Update": {
            "Key": to_item(
                {
                    "pk": identity_pk(order.tenant, kind, key),
                    "sk": f"SEEN#{order.customer_id}",
                }
            ),
            "UpdateExpression": (
                "SET #kind = :kind, #key = :key, customer_id = :customer, "
                "first_seen = if_not_exists(first_seen, :at)"
            ),
            # Always true for this customer (the item is its own): no other customer's
            # purchase can make it fail.
            "ConditionExpression": "attribute_not_exists(pk) OR customer_id = :customer",
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


def _refunded_order(order: Order, refunded_before: int) -> dict[str, Any]:
    """The order as a refund leaves it, if no other refund moved it since it was read."""
    return {
        "Update": {
            "Key": to_item(order_key(order.tenant, order.order_id)),
            "UpdateExpression": "SET refunded = :new"
            + (", redeemed_returns = :returns" if order.redeemed_returns else "")
            + (", case_status = :case" if order.case_status else "")
            + (", #lines = :lines" if order.lines is not None else "")
            + (", queue_pk = :refunded_case" if state_of(order) == "refunded" else ""),
            "ConditionExpression": "refunded = :old",
            "ExpressionAttributeValues": to_item(
                {
                    ":new": order.refunded,
                    ":old": refunded_before,
                    ":case": order.case_status,
                    ":lines": order.lines,
                    ":returns": order.redeemed_returns or None,
                    ":refunded_case": queue_pk(order.tenant, "refunded")
                    if state_of(order) == "refunded"
                    else None,
                }
            ),
            **(
                {"ExpressionAttributeNames": {"#lines": "lines"}} if order.lines is not None else {}
            ),
        }
    }


def customer_case(order: Order) -> dict[str, Any]:
    """The customer's pointer to a case their purchase opened (their cases, newest last)."""
    return {
        "pk": customer_cases_pk(order.tenant, order.customer_id),
        "sk": f"{order.occurred_at}#{order.order_id}",
        "order_id": order.order_id,
    }


def order_from_item(item: dict[str, Any]) -> Order:
    return pick(Order, {"lot_sk": None, **item})
