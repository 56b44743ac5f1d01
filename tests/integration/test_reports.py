"""The reports through the whole local path: purchases, refunds, redemptions and payouts over
HTTP write the ledger; the table's stream reaches ReportsFunction as Lambda's event source
mapping delivers it; the liability report reconciles with every entry and lot in the table,
to the minor unit."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from cashback.adapters.dynamodb.table import customer_pk, entry_sk, to_item
from cashback.domain.reports.liability import STATES
from cashback.domain.reports.totals import lot_measures
from cashback_tools.cli import main
from cashback_tools.local.stack import TABLE_NAME, LocalStack
from cashback_tools.local.stream_filters import Pattern, any_matches
from cashback_tools.local.streams import lambda_record

from . import table
from .client import Api, unique
from .spending import SpendingShop, run_payout_job


@pytest.fixture(scope="module")
def shop(stack: LocalStack) -> SpendingShop:
    return SpendingShop(stack, unique("reports"))


def _pay(shop: SpendingShop, customer: str, amount: int) -> None:
    body = {
        "payout_id": unique("pay"),
        "customer_id": customer,
        "amount": amount,
        "method": "pix",
        "destination": {"key_type": "email", "key": "ana@example.com"},
    }
    reply = shop.post("/v1/payouts", body)
    assert reply.status_code == 202, reply.text


def _liability(stack: LocalStack, tenant: str, **params: str) -> requests.Response:
    admin = Api(stack.url, stack.keys[tenant]["admin"])
    return admin.get("/v1/reports/liability", params=params)


def test_the_liability_report_reconciles_with_every_entry_and_lot(
    stack: LocalStack, shop: SpendingShop
) -> None:
    ana, bia = unique("ana"), unique("bia")
    shop.earn(ana, 50000, 12345, ago_days=2)  # 5000 + 1234, two days ago
    shop.earn(bia, 80000)  # 8000
    assert shop.redeem(ana, 1500).status_code == 201
    _pay(shop, bia, 3000)
    run_payout_job(stack)
    order = shop.purchase(bia, 20000)  # 2000 pending (the window is 0: available at once)
    assert order.status_code == 201, order.text
    refund = shop.refund(order.json()["order_id"], 20000)
    assert refund.status_code == 201, refund.text
    stack.settle()

    today = datetime.now(UTC).date()
    reply = _liability(
        stack, shop.tenant, **{"from": str(today - timedelta(days=1)), "to": str(today)}
    )
    assert reply.status_code == 200, reply.text
    report = reply.json()
    assert stack.store is not None
    customers = list(stack.store.customers(shop.tenant))
    entries = [e for c in customers for e in stack.store.all_entries(shop.tenant, c)]
    # The closing balance by state is what every account holds (the audit's own sums).
    held = Counter[str]()
    for customer in customers:
        held.update(stack.store.get_account(shop.tenant, customer).values)
    assert report["periods"][-1]["closing_by_state"] == {state: held[state] for state in STATES}
    # Each day's movements are its entries' deltas; the opening is everything before.
    first = report["periods"][0]["start"]
    before = sum(e.deltas.get(s, 0) for e in entries for s in STATES if e.occurred_at[:10] < first)
    assert report["periods"][0]["opening"] == before
    for period in report["periods"]:
        day = [e for e in entries if e.occurred_at[:10] == period["start"]]
        assert period["spent"] == sum(e.deltas.get("spent", 0) for e in day)
        assert period["paid_out"] == sum(e.deltas.get("paid_out", 0) for e in day)
        assert period["issued"] == sum(e.deltas.get("earned", 0) for e in day)
        assert period["clawed_back"] == sum(e.deltas.get("clawed_back", 0) for e in day)
    assert sum(p["spent"] for p in report["periods"]) == 1500
    # The payout was submitted, not yet paid: its 3000 are still owed, reserved.
    assert report["periods"][-1]["closing_by_state"]["reserved"] == 3000
    # The cohorts add up to the lots.
    lots = [lot for c in customers for lot in table.lots(stack, shop.tenant, c).values()]
    measured = Counter[str]()
    for lot in lots:
        measured.update(lot_measures(lot))
    cohorts = report["breakage"]["cohorts"]
    assert sum(c["issued"] for c in cohorts) == measured["issued"] == 5000 + 1234 + 8000 + 2000
    assert sum(c["redeemed"] for c in cohorts) == measured["spent"] == 1500 + 3000  # drawn
    assert sum(c["outstanding"] for c in cohorts) == measured["pending"] + measured["available"]


def test_a_batch_delivered_again_changes_nothing(stack: LocalStack, shop: SpendingShop) -> None:
    """Lambda may deliver a batch again (the function's reply was lost): the report counts
    each record once. The batch is rebuilt as the mapping made it: the records written
    while delivery was held back, through the template's filters."""
    seen = {record["eventID"] for record in _stream_records(stack)}
    stack.pause_streams()
    try:
        shop.earn(unique("again"), 10000, 2500)
    finally:
        stack.resume_streams()
    stack.settle()
    today = str(datetime.now(UTC).date())
    before = _liability(stack, shop.tenant, **{"from": today, "to": today}).json()
    batch = [r for r in _stream_records(stack) if r["eventID"] not in seen and _kept(stack, r)]
    assert 4 <= len(batch) <= 1000  # two purchases: their entries, lots and orders
    assert stack.invoke("ReportsFunction", {"Records": batch}) == {"batchItemFailures": []}
    assert _liability(stack, shop.tenant, **{"from": today, "to": today}).json() == before


def _kept(stack: LocalStack, record: dict[str, Any]) -> bool:
    assert stack.template is not None
    event = stack.template.function_properties()["ReportsFunction"]["Events"]["LedgerStream"]
    filters = event["Properties"]["FilterCriteria"]["Filters"]
    return any_matches([Pattern.parse(f["Pattern"]) for f in filters], record)


def _stream_records(stack: LocalStack) -> list[dict[str, Any]]:
    """Every record of the table's stream, in order, as Lambda puts it in an event."""
    streams: Any = boto3.client("dynamodbstreams", endpoint_url=stack.endpoint_url)
    client: Any = stack.dynamodb_client()
    arn = client.describe_table(TableName=TABLE_NAME)["Table"]["LatestStreamArn"]
    found = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            found += [lambda_record(raw, arn, "us-east-1") for raw in page["Records"]]
            iterator = page.get("NextShardIterator") if page["Records"] else None
    return found


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"from": "2026-03-02", "to": "2026-03-01"}, "report_range"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "report_range"),
        ({"from": "2010-01-01", "to": "2020-01-31", "granularity": "month"}, "report_range"),
        ({"from": "2026-03-01"}, None),
        ({"from": "yesterday", "to": "2026-03-01"}, None),
        ({"from": "2026-03-01", "to": "2026-03-02", "granularity": "week"}, None),
    ],
)
def test_bad_report_ranges_are_refused_with_422(
    stack: LocalStack, params: dict[str, str], code: str | None
) -> None:
    reply = _liability(stack, "acme", **params)
    assert reply.status_code == 422, reply.text
    if code is not None:
        assert reply.json()["code"] == code


def test_reports_need_an_admin_key(stack: LocalStack) -> None:
    storefront = Api(stack.url, stack.keys["acme"]["storefront"])
    today = str(datetime.now(UTC).date())
    reply = storefront.get("/v1/reports/liability", params={"from": today, "to": today})
    assert reply.status_code == 403, reply.text


def test_the_report_command_writes_csv_and_png(
    stack: LocalStack, shop: SpendingShop, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shop.earn(unique("cli"), 30000)
    stack.settle()
    today = str(datetime.now(UTC).date())
    base = ["--tenant", shop.tenant, "--table", TABLE_NAME, "--endpoint-url", stack.endpoint_url]
    csv_path, png_path = tmp_path / "liability.csv", tmp_path / "liability.png"
    code = main(
        ["report", "liability", *base, "--from", today, "--to", today]
        + ["--csv", str(csv_path), "--png", str(png_path)]
    )
    assert code == 0
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("start,end,opening,issued,spent,paid_out,expired")
    row = dict(zip(lines[0].split(","), lines[1].split(","), strict=True))
    printed = capsys.readouterr().out
    assert row["start"] == today and row["closing"] in printed
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cohorts = tmp_path / "breakage.csv"
    assert main(["report", "breakage", *base, "--csv", str(cohorts)]) == 0
    assert cohorts.read_text().splitlines()[0].startswith("month,issued,redeemed,expired")


def test_an_edited_entry_does_not_stop_the_reports(stack: LocalStack, shop: SpendingShop) -> None:
    """Entries are never changed: one that is (tampering, for `cashback ledger verify`)
    never reaches the consumer, and the records after it are folded."""
    customer = unique("tampered")
    shop.earn(customer, 10000)
    stack.settle()
    failures = len(stack.stream_failures)
    assert stack.store is not None
    stack.store.client.update_item(
        TableName=TABLE_NAME,
        Key=to_item({"pk": customer_pk(shop.tenant, customer), "sk": entry_sk(1)}),
        UpdateExpression="SET deltas.pending = :v",
        ExpressionAttributeValues=to_item({":v": 9999}),
    )
    today = str(datetime.now(UTC).date())
    before = _liability(stack, shop.tenant, **{"from": today, "to": today}).json()
    shop.earn(customer, 20000)
    stack.settle()
    after = _liability(stack, shop.tenant, **{"from": today, "to": today}).json()
    assert after["periods"][0]["issued"] == before["periods"][0]["issued"] + 2000
    assert len(stack.stream_failures) == failures
