"""A sandbox payout provider: deterministic, for local runs and tests. It moves no money;
it behaves as the payout's destination says, as Stripe's test card numbers do.

A PIX e-mail key's local part, before any `+tag` (`fail+7@example.com` is `fail`), chooses:

    fail      takes the payout, then fails it: callback `failed` (destination_rejected)
    timeout   records the payouts of the batch, then raises ProviderTimeout the first time;
              submitting them again is answered, never paid twice; callback `paid`
    twice     says everything twice: two `submitted` events (each its own event_id), then
              one `paid` event delivered twice (the same event_id and body)
    silent    pays it and never calls back: only polling (`status`) finds it paid
    return    pays it (callback `paid`), and RETURN_AFTER later the bank sends it back:
              callback `returned` (account_closed)
    anything else, and every other method or destination: paid, callback `paid`

Each event happens at the provider's clock when the payout is received (a return later).
`callbacks()` hands out, once each, the signed callbacks that have come due: what the
provider would POST to /v1/providers/sandbox/events. What it was asked to pay sits in a
SandboxStore keyed by payout id (the idempotency key): the same id never pays twice, and
the same id with another amount, currency or destination is a Conflict."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal, NamedTuple, Protocol, get_args

from cashback.domain.clock import to_iso
from cashback.domain.errors import Conflict
from cashback.domain.payouts.destinations import PayoutMethod, PixKey
from cashback.domain.payouts.provider import (
    SIGNATURE_HEADER,
    Acknowledgement,
    PayoutOrder,
    ProviderEvent,
    ProviderReport,
    ProviderStatus,
    ProviderTimeout,
    sign,
)

Behaviour = Literal["paid", "fail", "timeout", "twice", "silent", "return"]
BEHAVIOURS: tuple[Behaviour, ...] = get_args(Behaviour)
RETURN_AFTER = timedelta(days=2)
NAME = "sandbox"


def behaviour_of(method: PayoutMethod) -> Behaviour:
    """What the sandbox does with a payout to this destination (the table above)."""
    destination = method.destination
    if not isinstance(destination, PixKey) or destination.key_type != "email":
        return "paid"
    word = destination.key.rpartition("@")[0].partition("+")[0]
    return next((b for b in BEHAVIOURS if b == word), "paid")


@dataclass(frozen=True)
class SandboxPayment:
    """What the sandbox was asked to pay, under the payout's id."""

    payout_id: str
    fingerprint: str  # of the amount, currency and destination asked for
    behaviour: Behaviour
    received_at: datetime
    callbacks: int = 0  # how many callbacks its life holds (see `deliveries`)
    delivered: int = 0  # how many were handed out so far

    @classmethod
    def received(cls, order: PayoutOrder, now: datetime) -> SandboxPayment:
        payment = cls(order.payout_id, fingerprint(order), behaviour_of(order.method), now)
        return replace(payment, callbacks=len(list(deliveries(payment))))


class SandboxStore(Protocol):
    """Where the sandbox keeps its payments (in memory here; a table on AWS)."""

    def add(self, payment: SandboxPayment) -> bool:
        """Store a payment under its payout id unless one is there: True if stored. Atomic:
        of two simultaneous adds of one id, exactly one stores."""
        ...

    def get(self, payout_id: str) -> SandboxPayment | None: ...

    def set_delivered(self, payout_id: str, delivered: int) -> None: ...

    def undelivered(self) -> list[SandboxPayment]:
        """The payments that may still have callbacks to hand out, oldest first."""
        ...


class InMemorySandboxStore:
    def __init__(self) -> None:
        self._payments: dict[str, SandboxPayment] = {}
        self._lock = threading.Lock()

    def add(self, payment: SandboxPayment) -> bool:
        with self._lock:
            if payment.payout_id in self._payments:
                return False
            self._payments[payment.payout_id] = payment
            return True

    def get(self, payout_id: str) -> SandboxPayment | None:
        return self._payments.get(payout_id)

    def set_delivered(self, payout_id: str, delivered: int) -> None:
        with self._lock:
            payment = self._payments[payout_id]
            self._payments[payout_id] = replace(payment, delivered=delivered)

    def undelivered(self) -> list[SandboxPayment]:
        payments = sorted(self._payments.values(), key=lambda p: p.received_at)
        return [p for p in payments if p.delivered < p.callbacks]


class Step(NamedTuple):
    """One status a payment reaches, when, and how many times it is called back."""

    seq: int  # its place in the life: copies of one step share it (and the event_id)
    status: ProviderStatus
    at: datetime
    copies: int
    failure_code: str | None = None


def steps(payment: SandboxPayment) -> list[Step]:
    """The payment's life at the sandbox, earliest first."""
    at, behaviour = payment.received_at, payment.behaviour
    if behaviour == "fail":
        return [Step(0, "failed", at, 1, "destination_rejected")]
    if behaviour == "twice":
        return [Step(0, "submitted", at, 1), Step(1, "submitted", at, 1), Step(2, "paid", at, 2)]
    if behaviour == "silent":
        return [Step(0, "paid", at, 0)]
    if behaviour == "return":
        later = at + RETURN_AFTER
        return [Step(0, "paid", at, 1), Step(1, "returned", later, 1, "account_closed")]
    return [Step(0, "paid", at, 1)]


def deliveries(payment: SandboxPayment) -> Iterator[Step]:
    """Every callback of the payment, each copy of a step once, in order."""
    for step in steps(payment):
        yield from [step] * step.copies


@dataclass(frozen=True)
class Callback:
    """A signed status callback, as the provider would POST it."""

    body: bytes
    signature: str  # the SIGNATURE_HEADER value

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", SIGNATURE_HEADER: self.signature}

    @property
    def event(self) -> ProviderEvent:
        return ProviderEvent.model_validate_json(self.body)


class SandboxProvider:
    """The provider port (cashback.domain.payouts.provider.PayoutProvider), in a sandbox."""

    name = NAME
    max_batch = 100

    def __init__(
        self,
        secret: str | bytes,
        clock: Callable[[], datetime],
        store: SandboxStore | None = None,
    ) -> None:
        self._secret = secret
        self._clock = clock
        self.store: SandboxStore = store if store is not None else InMemorySandboxStore()

    def submit(self, payouts: Sequence[PayoutOrder]) -> list[Acknowledgement]:
        if len(payouts) > self.max_batch:
            raise ValueError(f"the sandbox takes at most {self.max_batch} payouts a batch")
        now = self._clock()
        timed_out = False
        for order in payouts:
            payment = SandboxPayment.received(order, now)
            if self.store.add(payment):
                timed_out |= payment.behaviour == "timeout"
                continue
            known = self.store.get(order.payout_id)
            if known is None or known.fingerprint != payment.fingerprint:
                raise Conflict(
                    f"payout {order.payout_id} was submitted before with another amount, "
                    "currency or destination",
                    code="idempotency_conflict",
                )
        if timed_out:
            raise ProviderTimeout("the sandbox provider timed out (it did take the payouts)")
        return [Acknowledgement(order.payout_id, reference(order.payout_id)) for order in payouts]

    def status(self, payout_id: str) -> ProviderReport | None:
        payment = self.store.get(payout_id)
        if payment is None:
            return None
        now = self._clock()
        reached = [s for s in steps(payment) if s.at <= now] or steps(payment)[:1]
        step = reached[-1]
        return ProviderReport(payout_id, step.status, step.at, step.failure_code)

    def callbacks(self) -> list[Callback]:
        """The callbacks that have come due and were not handed out yet, each once."""
        now = self._clock()
        out: list[Callback] = []
        for payment in self.store.undelivered():
            due = [s for s in deliveries(payment) if s.at <= now][payment.delivered :]
            if not due:
                continue
            out += [self._callback(payment.payout_id, step, now) for step in due]
            self.store.set_delivered(payment.payout_id, payment.delivered + len(due))
        return out

    def _callback(self, payout_id: str, step: Step, now: datetime) -> Callback:
        event = {
            "event_id": event_id(payout_id, step.seq),
            "payout_id": payout_id,
            "status": step.status,
            "occurred_at": to_iso(step.at),
        }
        if step.failure_code:
            event["failure_code"] = step.failure_code
        body = json.dumps(event, separators=(",", ":")).encode()
        return Callback(body, sign(self._secret, body, int(now.timestamp())))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(order: PayoutOrder) -> str:
    asked = [order.amount, order.currency, order.method.model_dump(mode="json")]
    return _digest(json.dumps(asked, sort_keys=True))


def reference(payout_id: str) -> str:
    """The sandbox's own id of a payment."""
    return f"sbx_{_digest(payout_id)[:20]}"


def event_id(payout_id: str, seq: int) -> str:
    """A step's event id: the same for each copy of one step, distinct between steps."""
    return f"evt_{_digest(f'{payout_id}:{seq}')[:24]}"
