"""The sandbox payout provider (issue 10): each behaviour of its destination table, the
signed callbacks it hands out (each once, when due), polling, idempotency by payout id
(a retry after a timeout, simultaneous submits, a conflicting body), and a property: under
every behaviour, driven through the status machine, the ledger ends exact."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cashback.adapters.providers.sandbox import (
    BEHAVIOURS,
    RETURN_AFTER,
    Behaviour,
    Callback,
    SandboxProvider,
    behaviour_of,
    event_id,
    reference,
)
from cashback.domain.errors import Conflict, Forbidden
from cashback.domain.payouts.destinations import PayoutMethod, parse_payout_method
from cashback.domain.payouts.provider import (
    Acknowledgement,
    PayoutOrder,
    PayoutProvider,
    ProviderReport,
    ProviderTimeout,
    verify,
)
from cashback.domain.payouts.status import PayoutStatus, transition

SECRET = "whsec_sandbox"
START = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
CPF = "39053344705"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def email(local: str) -> PayoutMethod:
    key = {"key_type": "email", "key": f"{local}@example.com"}
    return parse_payout_method({"method": "pix", "destination": key})


def order(payout_id: str, local: str = "ana", amount: int = 2500) -> PayoutOrder:
    return PayoutOrder(payout_id, amount, "BRL", email(local))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(clock: Clock) -> SandboxProvider:
    return SandboxProvider(SECRET, clock)


def events(callbacks: list[Callback]) -> list[tuple[str, str | None]]:
    return [(c.event.status, c.event.failure_code) for c in callbacks]


@pytest.mark.parametrize(
    ("local", "behaviour"),
    [
        ("fail", "fail"),
        ("timeout", "timeout"),
        ("twice", "twice"),
        ("silent", "silent"),
        ("return", "return"),
        ("Fail", "fail"),  # e-mail keys are stored lower-case
        ("fail+7", "fail"),
        ("return+a.b", "return"),
        ("failure", "paid"),
        ("paid", "paid"),
        ("ana", "paid"),
    ],
)
def test_a_pix_email_keys_local_part_chooses_the_behaviour(local: str, behaviour: str) -> None:
    assert behaviour_of(email(local)) == behaviour


@pytest.mark.parametrize(
    "body",
    [
        {"method": "pix", "destination": {"key_type": "cpf", "key": CPF}},
        {"method": "store_credit"},
        {"method": "wallet", "destination": {"provider": "fail", "account": "fail"}},
    ],
)
def test_every_other_destination_is_paid(body: dict[str, Any]) -> None:
    assert behaviour_of(parse_payout_method(body)) == "paid"


def test_a_payout_is_acknowledged_paid_and_called_back_once(
    sandbox: SandboxProvider, clock: Clock
) -> None:
    assert sandbox.submit([order("po_1")]) == [Acknowledgement("po_1", reference("po_1"))]
    [callback] = sandbox.callbacks()
    assert callback.event.model_dump() == {
        "event_id": event_id("po_1", 0),
        "payout_id": "po_1",
        "status": "paid",
        "occurred_at": START,
        "failure_code": None,
    }
    assert verify(SECRET, callback.body, callback.headers["Cashback-Signature"], START) == START
    assert callback.headers["Content-Type"] == "application/json"
    assert sandbox.callbacks() == []
    assert sandbox.status("po_1") == ProviderReport("po_1", "paid", START)


def test_a_callback_is_signed_when_handed_out_and_only_with_the_secret(
    sandbox: SandboxProvider, clock: Clock
) -> None:
    sandbox.submit([order("po_1")])
    clock.now = START + timedelta(minutes=10)
    [callback] = sandbox.callbacks()
    header = callback.headers["Cashback-Signature"]
    assert header.startswith(f"t={int(clock.now.timestamp())},v1=")
    assert callback.event.occurred_at == START  # when it was paid, not when sent
    with pytest.raises(Forbidden) as refused:
        verify("whsec_other", callback.body, header, clock.now)
    assert refused.value.code == "signature_invalid"


def test_a_failing_destination_is_taken_then_failed(sandbox: SandboxProvider) -> None:
    assert sandbox.submit([order("po_1", "fail")])[0].status == "submitted"
    assert events(sandbox.callbacks()) == [("failed", "destination_rejected")]
    assert sandbox.status("po_1") == ProviderReport("po_1", "failed", START, "destination_rejected")


def test_a_timeout_records_the_batch_and_a_retry_never_pays_twice(
    sandbox: SandboxProvider,
) -> None:
    batch = [order("po_1", "timeout"), order("po_2")]
    with pytest.raises(ProviderTimeout):
        sandbox.submit(batch)
    assert sandbox.status("po_1") == ProviderReport("po_1", "paid", START)
    assert sandbox.submit(batch) == [
        Acknowledgement("po_1", reference("po_1")),
        Acknowledgement("po_2", reference("po_2")),
    ]
    assert sandbox.submit(batch[:1]) == [Acknowledgement("po_1", reference("po_1"))]
    callbacks = sandbox.callbacks()
    assert [(c.event.payout_id, c.event.status) for c in callbacks] == [
        ("po_1", "paid"),
        ("po_2", "paid"),
    ]


def test_twice_repeats_submitted_and_delivers_the_same_paid_event_twice(
    sandbox: SandboxProvider,
) -> None:
    sandbox.submit([order("po_1", "twice")])
    first, second, paid, again = sandbox.callbacks()
    assert [first.event.status, second.event.status] == ["submitted", "submitted"]
    assert first.event.event_id != second.event.event_id
    assert (paid.event.status, paid.body) == ("paid", again.body)
    assert sandbox.callbacks() == []


def test_a_silent_payout_never_calls_back_and_only_polling_finds_it_paid(
    sandbox: SandboxProvider, clock: Clock
) -> None:
    sandbox.submit([order("po_1", "silent")])
    clock.now = START + timedelta(days=40)
    assert sandbox.callbacks() == []
    assert sandbox.status("po_1") == ProviderReport("po_1", "paid", START)


def test_a_returned_payout_is_paid_then_sent_back_later(
    sandbox: SandboxProvider, clock: Clock
) -> None:
    sandbox.submit([order("po_1", "return")])
    assert events(sandbox.callbacks()) == [("paid", None)]
    clock.now = START + RETURN_AFTER - timedelta(seconds=1)
    assert sandbox.callbacks() == []
    assert sandbox.status("po_1") == ProviderReport("po_1", "paid", START)
    clock.now = START + RETURN_AFTER
    [returned] = sandbox.callbacks()
    assert (returned.event.status, returned.event.failure_code) == ("returned", "account_closed")
    assert returned.event.occurred_at == START + RETURN_AFTER
    assert sandbox.status("po_1") == ProviderReport(
        "po_1", "returned", START + RETURN_AFTER, "account_closed"
    )
    assert sandbox.callbacks() == []


def test_the_sandbox_is_a_payout_provider(sandbox: SandboxProvider) -> None:
    port: PayoutProvider = sandbox  # mypy checks it against the Protocol
    assert (port.name, port.max_batch) == ("sandbox", 100)


def test_a_payout_the_sandbox_never_received_has_no_status(sandbox: SandboxProvider) -> None:
    assert sandbox.status("po_unknown") is None


def test_the_same_id_with_another_amount_is_a_conflict_and_changes_nothing(
    sandbox: SandboxProvider,
) -> None:
    sandbox.submit([order("po_1", amount=2500)])
    with pytest.raises(Conflict) as refused:
        sandbox.submit([order("po_1", amount=2600)])
    assert refused.value.code == "idempotency_conflict"
    with pytest.raises(Conflict):
        sandbox.submit([order("po_1", local="other", amount=2500)])
    assert events(sandbox.callbacks()) == [("paid", None)]


def test_simultaneous_submits_of_one_payout_make_one_payment(sandbox: SandboxProvider) -> None:
    barrier = threading.Barrier(8)
    answers: list[list[Acknowledgement]] = []

    def submit() -> None:
        barrier.wait()
        answers.append(sandbox.submit([order("po_1")]))

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [[Acknowledgement("po_1", reference("po_1"))]] * 8
    assert events(sandbox.callbacks()) == [("paid", None)]


def test_a_batch_larger_than_the_provider_takes_is_refused(sandbox: SandboxProvider) -> None:
    with pytest.raises(ValueError, match="at most 100"):
        sandbox.submit([order(f"po_{i}") for i in range(101)])
    assert sandbox.status("po_0") is None


# The ledger under every behaviour: each payout driven through the status machine by the
# sandbox's acknowledgements, callbacks (maybe each delivered twice) and polling.
FINAL: dict[Behaviour, PayoutStatus] = {
    "paid": "paid",
    "fail": "failed",
    "timeout": "paid",
    "twice": "paid",
    "silent": "paid",
    "return": "returned",
}


class Books:
    """One customer's account and their payouts, as the lead's payout service keeps them."""

    def __init__(self, available: int) -> None:
        self.account = {"available": available, "reserved": 0, "paid_out": 0}
        self.status: dict[str, PayoutStatus] = {}
        self.paid_at: dict[str, datetime] = {}
        self.given_back: dict[str, int] = {}

    def move(self, payout_id: str, target: PayoutStatus, at: datetime, amount: int) -> None:
        step = transition(
            self.status.get(payout_id), target, paid_at=self.paid_at.get(payout_id), now=at
        )
        for field, delta in step.deltas(amount).items():
            self.account[field] += delta
        if step.moved and step.after == "paid":
            self.paid_at[payout_id] = at
        self.given_back[payout_id] = self.given_back.get(payout_id, 0) + step.gives_back
        self.status[payout_id] = step.after
        assert min(self.account.values()) >= 0


def deliver(
    books: Books, sandbox: SandboxProvider, now: datetime, amount: int, replay: bool
) -> None:
    for callback in sandbox.callbacks():
        header = callback.headers["Cashback-Signature"]
        verify(SECRET, callback.body, header, now)
        event = callback.event
        for _ in range(2 if replay else 1):
            books.move(event.payout_id, event.status, event.occurred_at, amount)


def poll(books: Books, sandbox: SandboxProvider, amount: int) -> None:
    for payout_id in books.status:
        report = sandbox.status(payout_id)
        assert report is not None
        books.move(payout_id, report.status, report.occurred_at, amount)


@given(
    behaviours=st.lists(st.sampled_from(BEHAVIOURS), min_size=1, max_size=6),
    replay=st.booleans(),
    poll_first=st.booleans(),
)
def test_under_every_behaviour_the_ledger_ends_exact(
    behaviours: list[Behaviour], replay: bool, poll_first: bool
) -> None:
    clock, amount = Clock(), 2000
    sandbox = SandboxProvider(SECRET, clock)
    books = Books(available=amount * len(behaviours))
    orders = [order(f"po_{i}", b, amount) for i, b in enumerate(behaviours)]
    for o in orders:
        books.move(o.payout_id, "requested", clock.now, amount)
        books.move(o.payout_id, "submitted", clock.now, amount)  # before calling the provider
    try:
        sandbox.submit(orders)
    except ProviderTimeout:
        sandbox.submit(orders)  # the job's retry, with the same ids
    if poll_first:
        poll(books, sandbox, amount)
    deliver(books, sandbox, clock.now, amount, replay)
    clock.now += RETURN_AFTER
    deliver(books, sandbox, clock.now, amount, replay)
    poll(books, sandbox, amount)
    assert books.status == {o.payout_id: FINAL[b] for o, b in zip(orders, behaviours, strict=True)}
    paid = sum(FINAL[b] == "paid" for b in behaviours) * amount
    assert books.account == {
        "available": len(behaviours) * amount - paid,
        "reserved": 0,
        "paid_out": paid,
    }
    assert all(
        count == (FINAL[b] != "paid")
        for count, b in zip(books.given_back.values(), behaviours, strict=True)
    )
