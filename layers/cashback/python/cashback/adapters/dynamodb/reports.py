"""Report totals: the stream consumer's folded counters, added to each report item in one
transaction with a marker of the run of records they came from, and read back for a
report.

    REPORT#<t>            DAY#<yyyy-mm-dd>       `<kind>.<field>` sums of the day's entries
    REPORT#<t>            COHORT#<yyyy-mm>       an earning month's lot measures, and the
                                                 customers who first bought in it
    REPORT#<t>            MONTH#<yyyy-mm>        a local month's orders, revenue, customers
    REPORT#<t>            EXPERIMENT#<id>        each variant's customers, orders, revenue
    STREAMMARK#<eventID>  MARK                   a folded run of stream records: its length
                                                 and the report items it added to (deleted
                                                 by TTL after two days)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cashback.adapters.dynamodb.accounts import entry_from_item, lot_from_item
from cashback.adapters.dynamodb.table import Table, from_item, to_item
from cashback.domain.changes import AlreadyRecorded
from cashback.domain.reports.program import EXPERIMENT, MONTH, Purchase
from cashback.domain.reports.totals import COHORT, DAY, Change

# A transaction carries at most 100 items: the marker and 99 report items.
MAX_ITEMS_PER_FOLD = 99
MARK_TTL_SECONDS = 2 * 24 * 3600


def report_pk(tenant: str) -> str:
    return f"REPORT#{tenant}"


def mark_key(first_event_id: str) -> dict[str, str]:
    return {"pk": f"STREAMMARK#{first_event_id}", "sk": "MARK"}


def _add(tenant: str, item: str, counters: dict[str, int]) -> dict[str, Any]:
    names = {f"#c{i}": name for i, name in enumerate(counters)}
    values = {f":c{i}": value for i, value in enumerate(counters.values())}
    return {
        "Update": {
            "Key": to_item({"pk": report_pk(tenant), "sk": item}),
            "UpdateExpression": "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(names))),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_item(values),
        }
    }


class ReportsTable(Table):
    def folded_run(self, first_event_id: str) -> int:
        """How many records of a run starting at this record were folded already (0: none)."""
        item = self._get(mark_key(first_event_id))
        return int(item["records"]) if item else 0

    def add_report_totals(
        self,
        first_event_id: str,
        records: int,
        counters: dict[tuple[str, str], dict[str, int]],
        now_epoch: int,
    ) -> bool:
        """Add the counters of a run of `records` stream records starting at
        `first_event_id`, all or nothing; False when that run was folded already (a
        retried batch starts with the same record)."""
        if len(counters) > MAX_ITEMS_PER_FOLD:
            raise ValueError("fold at most 99 report items at once")
        mark = {
            **mark_key(first_event_id),
            "records": records,
            "report_items": len(counters),
            "ttl": now_epoch + MARK_TTL_SECONDS,
        }
        items = [
            {"Put": {"Item": to_item(mark), "ConditionExpression": "attribute_not_exists(pk)"}},
            *(_add(tenant, item, added) for (tenant, item), added in sorted(counters.items())),
        ]
        try:
            self._transact(items)
        except AlreadyRecorded:
            return False
        return True

    @staticmethod
    def stream_change(record: Mapping[str, Any]) -> Change:
        """A Lambda DynamoDB stream record of a new ledger entry or a lot's new state."""
        stream = record["dynamodb"]
        sort_key = stream["Keys"]["sk"]["S"]
        new = from_item(stream["NewImage"])
        if sort_key.startswith("ENTRY#") and record["eventName"] == "INSERT":
            return Change(record["eventID"], entry=entry_from_item(new))
        if sort_key == "ORDER" and record["eventName"] == "INSERT":
            return Change(record["eventID"], purchase=_purchase(new))
        if sort_key.startswith("LOT#") and record["eventName"] in ("INSERT", "MODIFY"):
            old = stream.get("OldImage")
            return Change(
                record["eventID"],
                lot=lot_from_item(new),
                lot_before=lot_from_item(from_item(old)) if old else None,
            )
        raise ValueError(f"not a record the reports fold: {record['eventName']} {sort_key}")

    def report_days(self, tenant: str, last_day: str) -> list[tuple[str, dict[str, int]]]:
        """Every day's counters up to `last_day` (inclusive), oldest first."""
        return [
            (item["sk"][len(DAY) :], _counters(item))
            for item in self._query(
                KeyConditionExpression="pk = :pk AND sk BETWEEN :from AND :to",
                ExpressionAttributeValues=to_item(
                    {":pk": report_pk(tenant), ":from": DAY, ":to": DAY + last_day}
                ),
            )
        ]

    def report_cohorts(self, tenant: str) -> list[tuple[str, dict[str, int]]]:
        return self._report_items(tenant, COHORT)

    def report_months(self, tenant: str) -> list[tuple[str, dict[str, int]]]:
        return self._report_items(tenant, MONTH)

    def report_experiments(self, tenant: str) -> list[tuple[str, dict[str, int]]]:
        return self._report_items(tenant, EXPERIMENT)

    def _report_items(self, tenant: str, prefix: str) -> list[tuple[str, dict[str, int]]]:
        """Every report item of one kind (the part of its key after the prefix), in order."""
        return [
            (item["sk"][len(prefix) :], _counters(item))
            for item in self._query(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues=to_item({":pk": report_pk(tenant), ":prefix": prefix}),
            )
        ]


def _purchase(item: dict[str, Any]) -> Purchase:
    before = item.get("customer_before") or {}
    return Purchase(
        tenant=item["tenant"],
        customer_id=item["customer_id"],
        amount=item["amount"],
        cashback=item["cashback"],
        occurred_at=item["occurred_at"],
        month=before.get("month") or item["occurred_at"][:7],
        before=before,
        experiments=tuple(item.get("experiments") or ()),
    )


def _counters(item: dict[str, Any]) -> dict[str, int]:
    return {k: int(v) for k, v in item.items() if k not in ("pk", "sk")}
