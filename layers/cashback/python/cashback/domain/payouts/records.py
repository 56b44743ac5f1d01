"""A payout as the ledger keeps it: what the storefront asked (to whom, how much), where
it stands in the status machine, what it drew from which lots (so failed, canceled and
returned payouts give back to them), and its first reply for retries."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from cashback.domain.ledger import Account, Draw
from cashback.domain.orders import request_hash
from cashback.domain.payouts.destinations import PayoutMethod
from cashback.domain.payouts.masks import mask
from cashback.domain.payouts.status import PayoutStatus


@dataclass(frozen=True)
class NewPayout:
    """A payout as the storefront asks for it (validated at the edge)."""

    payout_id: str
    customer_id: str
    amount: int
    method: PayoutMethod

    def fingerprint(self) -> str:
        return request_hash({**asdict(self), "method": self.method.model_dump(mode="json")})


@dataclass(frozen=True)
class Payout:
    tenant: str
    payout_id: str
    customer_id: str
    amount: int
    currency: str
    method: str  # pix, bank_transfer, ...
    destination: dict[str, Any]  # the stored (normalised) destination; never in a reply
    masked: dict[str, str]  # what replies, logs and events show of the destination
    status: PayoutStatus
    requested_at: str
    request_hash: str
    reply: str  # the first reply (JSON), for retries of the same request
    draws: list[list[object]] = field(default_factory=list)  # [expires_at, order_id, amount]
    provider: str | None = None
    reference: str | None = None  # the provider's own id of the payment
    submitted_at: str | None = None
    paid_at: str | None = None
    resolved_at: str | None = None  # failed, canceled or returned
    failure_code: str | None = None
    version: int = 1

    @property
    def drawn(self) -> tuple[Draw, ...]:
        return tuple(Draw(str(e), str(o), int(str(a))) for e, o, a in self.draws)

    def order(self) -> dict[str, Any]:
        """The method and destination as the provider is given them."""
        return {"method": self.method, "destination": self.destination}


def masked_method(method: PayoutMethod) -> dict[str, str]:
    return mask(method.destination)


@dataclass(frozen=True)
class OutboxEvent:
    """A payout's status event, kept from its commit until the bus took it."""

    tenant: str
    payout_id: str
    status: str
    detail_type: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class PayoutView:
    """A payout as the storefront sees it, with the customer's balance."""

    payout: Payout
    account: Account
