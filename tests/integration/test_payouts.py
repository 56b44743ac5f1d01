"""Payouts through the local stack: requested (reserved at once), submitted by the job,
settled by the sandbox provider's signed callbacks or by polling, under each sandbox
behaviour (paid, fail, timeout, twice, silent, return); canceled before submission; and the
ledger exact after each (DynamoDB Local, the real authorizer and handler over HTTP)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from cashback.domain.clock import to_iso
from cashback.domain.payouts.provider import sign
from cashback.services import payout_job
from cashback_tools.local.sandbox_provider import callback_secret, deliver_callbacks
from cashback_tools.local.stack import LocalStack

from .client import now_iso, unique
from .spending import SpendingShop, run_payout_job

TENANT = "payer"


@pytest.fixture(scope="module")
def shop(stack: LocalStack) -> SpendingShop:
    return SpendingShop(stack, TENANT)


def pay(
    shop: SpendingShop, customer: str, amount: int, local: str = "ana", **fields: Any
) -> requests.Response:
    body = {
        "payout_id": unique("pay"),
        "customer_id": customer,
        "amount": amount,
        "method": "pix",
        "destination": {"key_type": "email", "key": f"{local}@example.com"},
        **fields,
    }
    return shop.post("/v1/payouts", body)


def test_a_payout_is_reserved_at_once_submitted_by_the_job_and_paid_by_callback(
    stack: LocalStack, shop: SpendingShop
) -> None:
    customer = unique("payee")
    shop.earn(customer, 50000)  # 5000
    reply = pay(shop, customer, 3000)
    assert reply.status_code == 202, reply.text
    body = reply.json()
    assert body["status"] == "requested"
    assert body["destination"] == {"key_type": "email", "key": "a***@e***.com"}
    assert body["balance"]["available"] == 2000 and body["balance"]["reserved"] == 3000
    assert pay(shop, customer, 2001).json()["code"] == "insufficient_balance"
    report = run_payout_job(stack)
    assert report.submitted >= 1
    path = f"/v1/payouts/{body['payout_id']}"
    assert shop.get(path).json()["status"] == "submitted"
    replies = deliver_callbacks(stack)
    assert replies and {status for status, _ in replies} == {200}
    done = shop.get(path).json()
    assert done["status"] == "paid" and done["paid_at"]
    money = shop.values(customer)
    assert money["reserved"] == 0 and money["paid_out"] == 3000 and money["available"] == 2000
    shop.audit(customer)


@pytest.mark.parametrize("behaviour", ["fail", "twice", "return"])
def test_every_provider_behaviour_leaves_the_ledger_exact(
    stack: LocalStack, shop: SpendingShop, behaviour: str
) -> None:
    customer = unique(behaviour)
    shop.earn(customer, 50000)
    payout = pay(shop, customer, 2500, local=behaviour).json()
    run_payout_job(stack)
    deliver_callbacks(stack)
    later = datetime.now(UTC) + timedelta(days=3)  # the sandbox returns after two days
    deliver_callbacks(stack, later)
    status = shop.get(f"/v1/payouts/{payout['payout_id']}").json()["status"]
    money = shop.values(customer)
    expected = {"fail": "failed", "twice": "paid", "return": "returned"}[behaviour]
    assert status == expected
    if expected == "paid":
        assert money["paid_out"] == 2500 and money["available"] == 2500
    else:  # the money came back, once
        assert money["paid_out"] == 0 and money["available"] == 5000
    assert money["reserved"] == 0
    shop.audit(customer)


def test_a_timeout_and_a_silent_provider_are_settled_by_polling(
    stack: LocalStack, shop: SpendingShop
) -> None:
    customer = unique("quiet")
    shop.earn(customer, 60000)
    timed_out = pay(shop, customer, 2500, local="timeout").json()
    silent = pay(shop, customer, 2500, local="silent").json()
    report = run_payout_job(stack)
    assert report.timeouts >= 1
    assert shop.get(f"/v1/payouts/{timed_out['payout_id']}").json()["status"] == "submitted"
    later = datetime.now(UTC) + timedelta(minutes=6)
    polled = run_payout_job(stack, later)
    assert polled.polled >= 2
    for payout in (timed_out, silent):
        assert shop.get(f"/v1/payouts/{payout['payout_id']}").json()["status"] == "paid"
    assert shop.values(customer)["paid_out"] == 5000
    deliver_callbacks(stack)  # the timed-out payout's late callback changes nothing
    assert shop.values(customer)["paid_out"] == 5000
    shop.audit(customer)


def test_a_payout_can_be_canceled_only_before_submission(
    stack: LocalStack, shop: SpendingShop
) -> None:
    customer = unique("changes-mind")
    shop.earn(customer, 50000)
    first = pay(shop, customer, 2000).json()
    canceled = shop.post(f"/v1/payouts/{first['payout_id']}/cancel")
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    assert canceled.json()["balance"]["available"] == 5000
    again = shop.post(f"/v1/payouts/{first['payout_id']}/cancel")
    assert again.status_code == 200 and again.json()["balance"]["available"] == 5000
    second = pay(shop, customer, 2000).json()
    run_payout_job(stack)
    late = shop.post(f"/v1/payouts/{second['payout_id']}/cancel")
    assert late.status_code == 409 and late.json()["code"] == "payout_not_cancelable"
    shop.audit(customer)


def test_callbacks_must_be_signed_by_the_provider(stack: LocalStack, shop: SpendingShop) -> None:
    body = (
        b'{"event_id":"evt-x","payout_id":"payer:nope","status":"paid",'
        b'"occurred_at":"2026-11-30T10:00:00Z"}'
    )
    url = f"{stack.url}/v1/providers/sandbox/events"
    json_type = {"Content-Type": "application/json"}
    unsigned = requests.post(url, data=body, headers=json_type, timeout=30)
    assert unsigned.status_code == 403 and unsigned.json()["code"] == "signature_invalid"
    forged = sign("not-the-secret-at-all", body, int(datetime.now(UTC).timestamp()))
    reply = requests.post(
        url, data=body, headers={**json_type, "Cashback-Signature": forged}, timeout=30
    )
    assert reply.status_code == 403 and reply.json()["code"] == "signature_invalid"
    stale = sign(callback_secret(stack), body, int(datetime.now(UTC).timestamp()) - 3600)
    reply = requests.post(
        url, data=body, headers={**json_type, "Cashback-Signature": stale}, timeout=30
    )
    assert reply.status_code == 403 and reply.json()["code"] == "signature_stale"
    good = sign(callback_secret(stack), body, int(datetime.now(UTC).timestamp()))
    reply = requests.post(
        url, data=body, headers={**json_type, "Cashback-Signature": good}, timeout=30
    )
    assert reply.status_code == 404 and reply.json()["code"] == "payout_not_found"
    other = requests.post(
        f"{stack.url}/v1/providers/acmepay/events",
        data=body,
        headers={**json_type, "Cashback-Signature": good},
        timeout=30,
    )
    assert other.status_code == 404 and other.json()["code"] == "provider_not_found"


def test_bad_payout_requests_are_4xx_and_change_nothing(
    stack: LocalStack, shop: SpendingShop
) -> None:
    customer = unique("bad-payee")
    shop.earn(customer, 50000)
    cases = [
        ({"destination": {"key_type": "cpf", "key": "123.456.789-00"}}, "destination.key"),
        ({"method": "cheque"}, "method"),
        ({"amount": 0}, "amount"),
        ({"amount": "3000"}, "amount"),
    ]
    good = {
        "payout_id": unique("pay"),
        "customer_id": customer,
        "amount": 3000,
        "method": "pix",
        "destination": {"key_type": "email", "key": "ana@example.com"},
    }
    for change, where in cases:
        reply = shop.post("/v1/payouts", {**good, **change})
        assert reply.status_code == 422, (change, reply.text)
        fields = {d["field"] for d in reply.json()["details"]}
        assert where in fields, (change, reply.text)
    low = pay(shop, customer, 1999)
    assert low.status_code == 422 and low.json()["code"] == "payout_below_minimum"
    assert shop.get("/v1/payouts/nope").status_code == 404
    assert shop.post("/v1/payouts/nope/cancel").status_code == 404
    assert shop.values(customer)["available"] == 5000
    shop.audit(customer)


def test_concurrent_payouts_and_redemptions_never_spend_more_than_there_is(
    stack: LocalStack, shop: SpendingShop
) -> None:
    customer = unique("crowd")
    shop.earn(customer, 100000)  # 10000

    def spend(i: int) -> requests.Response:
        if i % 2:
            return pay(shop, customer, 2000)
        return shop.post(
            "/v1/redemptions",
            {
                "redemption_id": unique("red"),
                "customer_id": customer,
                "amount": 2000,
                "order_id": "o",
                "occurred_at": now_iso(),
                "channel": "online",
            },
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(spend, range(10)))
    accepted = [r for r in replies if r.status_code in (201, 202)]
    assert len(accepted) == 5, [(r.status_code, r.text) for r in replies]
    money = shop.values(customer)
    assert money["available"] == 0 and money["reserved"] + money["spent"] == 10000
    shop.audit(customer)


def test_a_status_the_machine_does_not_allow_is_a_409_and_moves_no_money(
    stack: LocalStack, shop: SpendingShop
) -> None:
    customer = unique("out-of-order")
    shop.earn(customer, 50000)
    payout = pay(shop, customer, 2000).json()
    url = f"{stack.url}/v1/providers/sandbox/events"

    def event(status: str, seq: int) -> requests.Response:
        body = (
            f'{{"event_id":"evt-{seq}-{payout["payout_id"]}","payout_id":"{TENANT}:'
            f'{payout["payout_id"]}","status":"{status}","occurred_at":"{now_iso()}"}}'
        ).encode()
        signed = sign(callback_secret(stack), body, int(datetime.now(UTC).timestamp()))
        headers = {"Content-Type": "application/json", "Cashback-Signature": signed}
        return requests.post(url, data=body, headers=headers, timeout=30)

    early = event("paid", 1)  # never submitted: the provider cannot have paid it
    assert early.status_code == 409 and early.json()["code"] == "payout_transition_invalid"
    assert shop.values(customer)["reserved"] == 2000
    run_payout_job(stack)
    deliver_callbacks(stack)  # paid
    assert event("paid", 2).status_code == 200  # a repeat changes nothing
    late = event("failed", 3)  # a paid payout does not fail afterwards
    assert late.status_code == 409 and late.json()["code"] == "payout_transition_invalid"
    money = shop.values(customer)
    assert money["paid_out"] == 2000 and money["reserved"] == 0 and money["available"] == 3000
    shop.audit(customer)


def test_an_event_the_bus_did_not_take_is_published_again_by_the_job_once(
    stack: LocalStack, shop: SpendingShop
) -> None:
    """Each step's event is committed with it (an outbox): a step whose publish failed
    (here every publish in run_job fails) is published again by a later run, once."""
    customer = unique("outbox")
    shop.earn(customer, 50000)
    payout = pay(shop, customer, 2000).json()  # the function publishes payout.requested
    run_payout_job(stack)  # payout.submitted: this run's bus refuses it
    assert stack.store is not None
    waiting = [
        e
        for e in stack.store.unpublished_events(now_iso(timedelta(minutes=5)))
        if e.payout_id == payout["payout_id"]
    ]
    assert [(e.status, e.detail_type) for e in waiting] == [("submitted", "payout.submitted")]
    assert waiting[0].detail["destination"] == payout["destination"]  # masked there too
    taken: list[tuple[str, dict[str, Any]]] = []

    def bus(kind: str, detail: dict[str, Any]) -> bool:
        taken.append((kind, detail))
        return True

    later = datetime.now(UTC) + timedelta(minutes=2)
    assert payout_job.republish(stack.store, later, bus) >= 1
    assert ("payout.submitted", waiting[0].detail) in taken
    assert not [
        e
        for e in stack.store.unpublished_events(to_iso(later))
        if e.payout_id == payout["payout_id"]
    ]
    taken.clear()
    payout_job.republish(stack.store, later, bus)
    assert all(detail["payout_id"] != payout["payout_id"] for _, detail in taken)
