"""Customers who share a device or a payment card never contend (issue 8, finding 10).

The shared aggregates behind the refund-abuse features are written commutatively (one
marker item per customer and device / card, no condition on anything another customer
writes), so 64 different customers buying at once on one device all succeed, and the
distinct-customer counts the model reads are exact afterwards."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from cashback.adapters.dynamodb.table import to_item
from cashback.domain.risk.aggregates import MAX_IDENTITY_CUSTOMERS
from cashback_tools.audit import verify
from cashback_tools.local.stack import LocalStack

from .client import Api, purchase_body, unique

CUSTOMERS = 64
IN_FLIGHT = 8


def test_64_customers_on_one_device_and_card_buying_at_once_never_contend(
    stack: LocalStack, acme: Api
) -> None:
    device, card = unique("kiosk"), unique("card")
    customers = [unique("family") for _ in range(CUSTOMERS)]
    bodies = [
        purchase_body(customer, 10000, device_id=device, payment_fingerprint=card)
        for customer in customers
    ]
    # Overlapping purchases on one device: IN_FLIGHT at a time, so a loaded 2-core machine
    # running every function in one process stays inside the functions' timeouts (which
    # the local stack enforces) while the writes still race.
    with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
        replies = list(pool.map(lambda body: acme.post("/v1/purchases", body), bodies))

    assert [r.status_code for r in replies] == [201] * CUSTOMERS, sorted(
        {(r.status_code, r.text[:120]) for r in replies if r.status_code != 201}
    )
    assert {r.json()["cashback"] for r in replies} == {500}

    # The aggregates are exact: every customer once on the device and once on the card.
    assert stack.store is not None
    for kind, key in (("device", device), ("payment", card)):
        assert sorted(stack.store.identity_customers("acme", kind, key)) == sorted(customers)

    # The ledger's promises hold for every one of them.
    for customer in customers:
        assert acme.balance(customer)["pending"] == 500
        report = verify(stack.store, "acme", customer)
        assert report.ok and report.entries == 1, report.problems

    # A retried purchase changes no aggregate; the next customer on that device sees the
    # count saturated where the model was trained to expect it.
    assert acme.post("/v1/purchases", bodies[0]).json() == replies[0].json()
    late = acme.purchase(unique("late"), 10000, device_id=device).json()
    case = (
        Api(stack.url, stack.keys["acme"]["review"]).get(f"/v1/reviews/{late['order_id']}").json()
    )
    assert "shared_identity_ring" in case["rules_fired"]
    assert any(
        f"device shared with {MAX_IDENTITY_CUSTOMERS} other customers" in reason
        for reason in case["reasons"]
    ), case["reasons"]
    assert len(stack.store.identity_customers("acme", "device", device)) == CUSTOMERS + 1


def test_customers_recorded_by_the_earlier_single_item_still_count(
    stack: LocalStack, acme: Api
) -> None:
    """Earlier versions kept one item per device (sk IDENT) with its customers: they are
    still counted, and new customers get markers beside it."""
    assert stack.store is not None
    device, first, second = unique("old-device"), unique("legacy"), unique("legacy")
    stack.store.client.put_item(
        TableName=stack.store.table_name,
        Item=to_item(
            {
                "pk": f"IDENT#acme#device#{device}",
                "sk": "IDENT",
                "kind": "device",
                "key": device,
                "customers": [first, second],
                "first_seen": 1767225600,
                "version": 2,
            }
        ),
    )
    newcomer = unique("new")
    assert acme.purchase(newcomer, 10000, device_id=device).status_code == 201
    assert acme.purchase(first, 10000, device_id=device).status_code == 201
    assert stack.store.identity_customers("acme", "device", device) == [first, second, newcomer]
