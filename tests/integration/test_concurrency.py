"""Races: retries of one purchase, and many writers on one customer's chain."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from cashback_tools.audit import verify
from cashback_tools.local.stack import LocalStack

from .client import Api, purchase_body, unique


def test_many_threads_retrying_one_purchase_credit_it_once(stack: LocalStack, acme: Api) -> None:
    customer = unique("cust")
    body = purchase_body(customer, 50000)
    with ThreadPoolExecutor(max_workers=12) as pool:
        replies = list(pool.map(lambda _: acme.post("/v1/purchases", body), range(24)))
    assert {r.status_code for r in replies} == {201}
    assert len({r.text for r in replies}) == 1  # every retry got the first reply
    assert acme.balance(customer)["pending"] == 2500
    assert len(acme.entries(customer).json()["items"]) == 1
    assert stack.store is not None
    assert verify(stack.store, "acme", customer).ok


def test_concurrent_purchases_of_one_customer_all_land_on_one_chain(
    stack: LocalStack, acme: Api
) -> None:
    customer = unique("cust")
    bodies = [purchase_body(customer, 1000 * (i + 1)) for i in range(16)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda body: acme.post("/v1/purchases", body), bodies))
    assert [r.status_code for r in replies] == [201] * 16
    # Sixteen orders in a second from a new account: screening holds the later ones as a
    # velocity burst, but every one of them is on the chain, credited or held.
    balance = acme.balance(customer)
    assert balance["pending"] + balance["held"] == sum(50 * (i + 1) for i in range(16))
    assert {r.json()["status"] for r in replies} <= {"pending", "held"}
    assert stack.store is not None
    report = verify(stack.store, "acme", customer)
    assert report.ok and report.entries == 16, report.problems


def test_concurrent_refunds_of_one_order_never_refund_more_than_was_paid(
    stack: LocalStack, acme: Api
) -> None:
    customer = unique("cust")
    order = acme.purchase(customer, 10000).json()
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda _: acme.refund(order["order_id"], 3000), range(8)))
    accepted = [r for r in replies if r.status_code == 201]
    refused = [r for r in replies if r.status_code == 422]
    assert len(accepted) == 3 and len(refused) == 5, [(r.status_code, r.text) for r in replies]
    assert {r.json()["code"] for r in refused} == {"refund_exceeds_order"}
    assert acme.balance(customer)["pending"] == 500 - sum(r.json()["clawed_back"] for r in accepted)
    assert stack.store is not None
    assert verify(stack.store, "acme", customer).ok
