"""Two analysts deciding one case at once (issue 8, finding 7): one wins, the other hears
409 `case_closed`, never a 500; a retried decision gets the first reply back."""

from __future__ import annotations

import threading
from typing import Any

import requests

from cashback.domain.tenants import TenantSettings
from cashback.services import keys
from cashback_tools.audit import verify
from cashback_tools.local.stack import LocalStack

from .client import Api, now_iso, unique

ROUNDS = 12


def _held_cases(shop: Api, wanted: int) -> list[dict[str, Any]]:
    """Bursts of one customer's purchases on one device, until `wanted` are held."""
    held: list[dict[str, Any]] = []
    while len(held) < wanted:
        customer = unique("race-burst")
        replies = [
            shop.purchase(customer, 30000 + i, device_id=unique("dev")).json() for i in range(8)
        ]
        held += [reply for reply in replies if reply["status"] == "held"]
    return held[:wanted]


def _at_once(calls: list[tuple[Api, str, dict[str, Any]]]) -> list[requests.Response]:
    """Send the calls from threads released together."""
    start = threading.Barrier(len(calls))
    replies: list[requests.Response | None] = [None] * len(calls)

    def send(i: int) -> None:
        api, path, body = calls[i]
        start.wait()
        replies[i] = api.post(path, body)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(reply is not None for reply in replies)
    return replies  # type: ignore[return-value]


def test_two_analysts_deciding_one_case_at_once(stack: LocalStack) -> None:
    tenant = unique("desk-race")
    assert stack.store is not None
    tenant_keys = stack.add_tenant(tenant, TenantSettings(currency="BRL"), now_iso())
    shop = Api(stack.url, tenant_keys["storefront"])
    alice = Api(stack.url, tenant_keys["review"])
    bob = Api(stack.url, keys.create_key(stack.store, tenant, ["review"], now_iso()))
    verdicts = [("approve", "reject"), ("approve", "approve"), ("reject", "reject")]

    customers = set()
    for round_, held in enumerate(_held_cases(shop, ROUNDS)):
        order_id, customer = held["order_id"], held["customer_id"]
        customers.add(customer)
        path = f"/v1/reviews/{order_id}/decision"
        first, second = verdicts[round_ % len(verdicts)]
        bodies = [
            {"decision": first, "note": "alice looked"},
            {"decision": second, "note": "bob looked"},
        ]
        before = shop.balance(customer)
        replies = _at_once([(alice, path, bodies[0]), (bob, path, bodies[1])])

        statuses = sorted(reply.status_code for reply in replies)
        assert statuses == [200, 409], (  # and if not, what the ledger says happened
            [reply.text for reply in replies],
            [(e.seq, e.kind, e.ref) for e in stack.store.all_entries(tenant, customer)],
            verify(stack.store, tenant, customer).problems,
        )
        winner = next(i for i, reply in enumerate(replies) if reply.status_code == 200)
        loser = replies[1 - winner]
        assert loser.json()["code"] == "case_closed", loser.text
        won = replies[winner].json()
        verdict = bodies[winner]["decision"]
        assert won == {
            "order_id": order_id,
            "decision": verdict,
            "status": "pending" if verdict == "approve" else "rejected",
            "cashback": held["cashback"],
            "customer_list": None,
        }

        # The winner's retry (same analyst, same body) gets the first reply again; any
        # other decision on the closed case is 409 case_closed; nothing moves twice.
        analysts = (alice, bob)
        again = analysts[winner].post(path, bodies[winner])
        assert (again.status_code, again.json()) == (200, won)
        assert again.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in replies[winner].headers
        other = {
            "decision": "reject" if verdict == "approve" else "approve",
            "note": bodies[winner]["note"],
        }
        changed = analysts[winner].post(path, other)
        assert (changed.status_code, changed.json()["code"]) == (409, "case_closed")
        retried_loser = analysts[1 - winner].post(path, bodies[1 - winner])
        assert (retried_loser.status_code, retried_loser.json()["code"]) == (409, "case_closed")

        after = shop.balance(customer)
        assert after["held"] == before["held"] - held["cashback"]
        credited = held["cashback"] if verdict == "approve" else 0
        assert (
            after["pending"] + after["available"]
            == before["pending"] + before["available"] + credited
        )
        case = alice.get(f"/v1/reviews/{order_id}").json()
        assert case["case_status"] == "closed"
        assert set(case["decision"]) == {"decision", "note", "by", "at"}
        assert case["decision"]["note"] == bodies[winner]["note"]

    for customer in customers:
        assert verify(stack.store, tenant, customer).ok
