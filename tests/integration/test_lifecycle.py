"""The scheduled lifecycle job against DynamoDB Local: ripen, remind, expire, at any scale,
exactly once. Each test gets a table of its own (created from template.yaml), because the
job's checkpoint is per table and these tests move time far ahead."""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from cashback.adapters.dynamodb.store import Store
from cashback.adapters.dynamodb.table import from_item
from cashback.adapters.eventbridge import EventPublisher
from cashback.api import replies
from cashback.api.payloads import PurchaseRequest, RefundRequest
from cashback.domain.clock import to_iso
from cashback.domain.errors import Unprocessable
from cashback.domain.orders import NewPurchase, NewRefund
from cashback.domain.rules.ruleset import RuleSet
from cashback.domain.tenants import TenantSettings
from cashback.services import purchases, refunds
from cashback.services.lifecycle import LifecycleRun, RunReport
from cashback_tools.audit import verify
from cashback_tools.local.stack import EVENT_BUS_NAME, LocalStack

from .client import unique

T0 = datetime(2026, 1, 10, 15, 0, tzinfo=UTC)
SETTINGS = TenantSettings(currency="BRL", backdate_days=3650)
PLENTY_OF_TIME = 900_000


class Crash(BaseException):
    """The Lambda dies (not an exception the code could catch and carry on from)."""


class Ledger:
    """One storefront on a table of its own, driven through the layer's real code."""

    def __init__(self, stack: LocalStack, tenant: str = "shop") -> None:
        self.stack, self.tenant = stack, tenant
        self.client: Any = stack.dynamodb_client()
        self.table = unique("lifecycle").replace("-", "_")
        assert stack.template is not None
        self.client.create_table(**stack.template.table_create_params(table_name=self.table))
        self.store = Store(self.table, self.client)
        self.store.put_tenant(tenant, SETTINGS, to_iso(T0))
        events = boto3.client(
            "events",
            endpoint_url=stack.url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        self.publisher = EventPublisher(EVENT_BUS_NAME, events)
        self.orders = 0

    def buy(
        self, customer: str, amount: int, at: datetime, program: tuple[int, RuleSet] | None = None
    ) -> dict[str, Any]:
        self.orders += 1
        request = PurchaseRequest(
            order_id=f"o-{self.orders}",
            customer_id=customer,
            amount=amount,
            currency="BRL",
            occurred_at=at,
            channel="online",
            lines=[{"sku": "s", "category": "c", "amount": amount}],
        )  # type: ignore[list-item]
        purchase = NewPurchase.from_dict(request.model_dump())
        return purchases.record_purchase(
            self.store, self.tenant, SETTINGS, purchase, at, program, shape=replies.purchase
        ).body

    def refund(self, order_id: str, amount: int, at: datetime) -> dict[str, Any]:
        request = RefundRequest(
            refund_id=f"r-{order_id}-{to_iso(at)}".replace(":", ""),
            order_id=order_id,
            amount=amount,
            occurred_at=at,
        )
        refund = NewRefund.from_dict(request.model_dump())
        return refunds.record_refund(
            self.store, self.tenant, SETTINGS, refund, at, shape=replies.refund
        ).body

    def run(self, at: datetime, remaining: Callable[[], int] = lambda: PLENTY_OF_TIME) -> RunReport:
        return LifecycleRun(self.store, self.publisher, lambda _: "BRL", at, remaining).run()

    def balance(self, customer: str) -> dict[str, int]:
        return dict(self.store.get_account(self.tenant, customer).values)

    def items(self) -> list[dict[str, Any]]:
        """Everything in the table, as a comparable, sorted list."""
        pages = self.client.get_paginator("scan").paginate(TableName=self.table)
        items = [from_item(raw) for page in pages for raw in page["Items"]]
        return sorted(items, key=lambda item: (item["pk"], item["sk"]))

    def events(self, customer: str) -> list[tuple[str, int]]:
        return [
            (e["detail-type"], e["detail"]["amount"])
            for e in self.stack.events
            if e["detail"].get("customer_id") == customer
        ]

    def drop(self) -> None:
        self.client.delete_table(TableName=self.table)


@pytest.fixture
def shop(stack: LocalStack) -> Iterator[Ledger]:
    ledger = Ledger(stack)
    yield ledger
    ledger.drop()


def test_ripens_when_the_return_window_ends_and_not_before(shop: Ledger) -> None:
    ana = unique("ana")
    shop.buy(ana, 12990, T0)
    assert shop.run(T0 + timedelta(days=30, seconds=-1)).lots_ripened == 0
    report = shop.run(T0 + timedelta(days=30))
    assert (report.lots_ripened, report.cashback_ripened) == (1, 649)
    assert (shop.balance(ana)["pending"], shop.balance(ana)["available"]) == (0, 649)
    assert shop.events(ana) == [("cashback.available", 649)]


def test_running_the_same_hour_twice_changes_nothing(shop: Ledger) -> None:
    ana = unique("ana")
    shop.buy(ana, 10000, T0)
    shop.run(T0 + timedelta(days=31))
    before = shop.items()
    report = shop.run(T0 + timedelta(days=31))
    assert (report.lots_ripened, report.notices_published) == (0, 0)
    assert shop.items() == before
    assert shop.events(ana) == [("cashback.available", 500)]


def test_overlapping_runs_move_each_lot_once(shop: Ledger) -> None:
    customers = [unique("c") for _ in range(12)]
    for i, customer in enumerate(customers):
        shop.buy(customer, 1000 * (i + 1), T0)
    reports: list[RunReport] = []
    runs = [
        threading.Thread(target=lambda: reports.append(shop.run(T0 + timedelta(days=31))))
        for _ in range(3)
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert sum(r.lots_ripened for r in reports) == 12
    assert sum(r.failures for r in reports) == 0
    for customer in customers:
        assert len(shop.events(customer)) == 1
    assert verify(shop.store, "shop").ok


def test_reminds_once_before_the_deadline_with_amount_and_date(shop: Ledger) -> None:
    ana = unique("ana")
    purchase = shop.buy(ana, 10000, T0)
    shop.run(T0 + timedelta(days=31))
    assert shop.run(T0 + timedelta(days=173, seconds=-1)).reminders == 0
    assert shop.run(T0 + timedelta(days=173)).reminders == 1
    assert shop.run(T0 + timedelta(days=174)).reminders == 0
    expiring = [
        e
        for e in shop.stack.events
        if e["detail-type"] == "cashback.expiring" and e["detail"]["customer_id"] == ana
    ]
    assert len(expiring) == 1
    assert expiring[0]["detail"]["at"] == purchase["expires_at"]
    assert (expiring[0]["detail"]["amount"], expiring[0]["detail"]["currency"]) == (500, "BRL")


def test_expires_what_remains_and_leaves_the_refunded_part(shop: Ledger) -> None:
    ana = unique("ana")
    shop.buy(ana, 10000, T0)
    shop.run(T0 + timedelta(days=31))
    assert shop.refund("o-1", 5000, T0 + timedelta(days=40))["from_available"] == 250
    report = shop.run(T0 + timedelta(days=181))
    assert (report.lots_expired, report.cashback_expired) == (1, 250)
    balance = shop.balance(ana)
    assert (balance["available"], balance["expired"], balance["clawed_back"]) == (0, 250, 250)
    # The job ran past the reminder date straight to the deadline: no stale reminder.
    assert shop.events(ana) == [("cashback.available", 500), ("cashback.expired", 250)]
    assert verify(shop.store, "shop", ana).ok


def test_cashback_refunded_before_ripening_never_ripens(shop: Ledger) -> None:
    ana = unique("ana")
    shop.buy(ana, 10000, T0)
    shop.refund("o-1", 10000, T0 + timedelta(days=3))
    report = shop.run(T0 + timedelta(days=40))
    assert (report.lots_ripened, report.index_items_read) == (0, 0)
    assert shop.events(ana) == []


def test_months_of_simulated_time_keep_every_promise(shop: Ledger) -> None:
    rng = random.Random(4)
    customers = [unique("sim") for _ in range(8)]
    orders: list[tuple[str, int]] = []
    day = T0
    for step in range(106):  # four months of purchases, then time runs on past every deadline
        if step < 40:
            for _ in range(rng.randint(0, 2)):
                amount = rng.randrange(500, 90000)
                order = shop.buy(rng.choice(customers), amount, day + timedelta(hours=9))
                orders.append((order["order_id"], amount))
            if orders and rng.random() < 0.3:
                order_id, amount = rng.choice(orders)
                with contextlib.suppress(Unprocessable):  # more than is left: refused
                    shop.refund(order_id, rng.randint(1, amount), day + timedelta(hours=10))
        report = shop.run(day + timedelta(hours=12))
        assert report.failures == 0 and report.complete
        audit = verify(shop.store, "shop")
        assert audit.ok, (step, audit.problems)
        day += timedelta(days=3)
    for customer in customers:
        balance = shop.balance(customer)
        assert balance["pending"] == balance["available"] == 0
        assert balance["earned"] == balance["expired"] + balance["clawed_back"]


def _seed(ledger: Ledger, customers: list[str]) -> None:
    for i, customer in enumerate(customers):
        for j in range(3):
            ledger.buy(customer, 1000 * (i + 1) + j, T0 + timedelta(hours=j))


def test_a_run_killed_midway_then_rerun_ends_as_one_clean_run(stack: LocalStack) -> None:
    customers = [f"k{i}" for i in range(6)]
    clean, crashed = Ledger(stack), Ledger(stack)
    try:
        _seed(clean, customers)
        _seed(crashed, customers)
        at = T0 + timedelta(days=31)
        clean.run(at)

        writes = {"n": 0}

        def die_after_five(**_: Any) -> None:
            writes["n"] += 1
            if writes["n"] > 5:
                raise Crash()

        crashed.client.meta.events.register(
            "before-call.dynamodb.TransactWriteItems", die_after_five
        )
        with pytest.raises(Crash):
            crashed.run(at)
        crashed.client.meta.events.unregister(
            "before-call.dynamodb.TransactWriteItems", die_after_five
        )
        assert crashed.items() != clean.items()  # it really stopped half way
        crashed.run(at)
        assert crashed.items() == clean.items()  # same lots, entries, hashes, balances
    finally:
        clean.drop()
        crashed.drop()


def test_a_run_stops_before_the_time_limit_and_the_next_picks_up(stack: LocalStack) -> None:
    customers = [f"t{i}" for i in range(6)]
    clean, timed = Ledger(stack), Ledger(stack)
    try:
        _seed(clean, customers)
        _seed(timed, customers)
        at = T0 + timedelta(days=31)
        clean.run(at)
        budget = iter([PLENTY_OF_TIME] * 40 + [0] * 1000)  # the Lambda's clock runs out
        first = timed.run(at, remaining=lambda: next(budget))
        assert first.stopped_early and not first.complete
        second = timed.run(at)
        assert second.complete
        assert first.lots_ripened + second.lots_ripened == 18
        assert timed.items() == clean.items()
    finally:
        clean.drop()
        timed.drop()


def test_one_bad_item_never_blocks_the_rest(shop: Ledger) -> None:
    ana, bia = unique("ana"), unique("bia")
    shop.buy(ana, 10000, T0)
    shop.buy(bia, 20000, T0)
    # A damaged lot (its amounts unreadable) sits in the same bucket as a good one.
    good = next(i for i in shop.items() if i["sk"].startswith("LOT#"))
    shop.client.put_item(
        TableName=shop.table,
        Item={
            "pk": {"S": "CUST#shop#broken"},
            "sk": {"S": "LOT#x#o-broken"},
            "due_bucket": {"S": good["due_bucket"]},
            "due_at": {"S": good["due_at"]},
            "status": {"S": "PENDING"},
        },
    )
    report = shop.run(T0 + timedelta(days=31))
    assert report.lots_ripened == 2 and report.failures == 1
    assert report.failed_items == ["CUST#shop#broken|LOT#x#o-broken"]
    assert not report.complete
    assert report.checkpoint is None or report.checkpoint < good["due_at"][:10]  # retried
    assert shop.balance(ana)["available"] == 500 and shop.balance(bia)["available"] == 1000


def test_throttling_is_retried_with_backoff_and_costs_nothing(shop: Ledger) -> None:
    ana = unique("ana")
    shop.buy(ana, 10000, T0)
    throttled = {"n": 0}

    def throttle_twice(request: Any, **_: Any) -> AWSResponse | None:
        if throttled["n"] < 2:
            throttled["n"] += 1
            body = (
                b'{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException",'
                b'"message":"Rate of requests exceeds the allowed throughput."}'
            )
            return AWSResponse(
                request.url, 400, {"Content-Type": "application/x-amz-json-1.0"}, _Raw(body)
            )
        return None

    shop.client.meta.events.register("before-send.dynamodb.TransactWriteItems", throttle_twice)
    report = shop.run(T0 + timedelta(days=31))
    assert throttled["n"] == 2
    assert (report.lots_ripened, report.failures) == (1, 0)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def test_cashback_expiring_after_inactivity_lives_as_long_as_the_customer_is_active(
    shop: Ledger,
) -> None:
    program = (
        1,
        RuleSet.model_validate(
            {
                "name": "Inactivity",
                "currency": "BRL",
                "time_zone": "America/Sao_Paulo",
                "effective_from": "2026-01-01T00:00:00-03:00",
                "base_rate": "0.05",
                "lifecycle": {
                    "return_window_days": 7,
                    "expiry": {"kind": "inactivity", "days": 90},
                },
            }
        ),
    )
    ana = unique("ana")
    first = shop.buy(ana, 10000, T0, program)
    shop.run(T0 + timedelta(days=8))
    shop.buy(ana, 2000, T0 + timedelta(days=60), program)  # activity moves every deadline
    at_first_deadline = shop.run(datetime.fromisoformat(first["expires_at"]) + timedelta(hours=1))
    assert at_first_deadline.lots_expired == 0 and shop.balance(ana)["available"] == 600
    assert shop.run(T0 + timedelta(days=146)).reminders == 2  # before the moved deadline
    late = shop.run(T0 + timedelta(days=160))
    assert late.lots_expired == 2
    assert shop.balance(ana)["expired"] == 600
    kinds = [kind for kind, _ in shop.events(ana)]
    assert kinds.count("cashback.expiring") == 2 and kinds.count("cashback.expired") == 2
    assert verify(shop.store, "shop", ana).ok
