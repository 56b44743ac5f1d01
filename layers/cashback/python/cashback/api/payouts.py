"""Request and reply models of the payout routes: withdraw cashback by PIX, bank transfer,
wallet, store credit, statement credit or donation; and the providers' status callbacks."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, WrapValidator

from cashback.api.payloads import Amount
from cashback.api.redemptions import BalanceAfter
from cashback.domain.ids import StoreId
from cashback.domain.payouts.destinations import (
    BankTransferMethod,
    DonationMethod,
    PixMethod,
    StatementCreditMethod,
    StoreCreditMethod,
    WalletMethod,
    without_method_tag,
)


class PayoutFields(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    payout_id: StoreId
    customer_id: StoreId
    amount: Amount = Field(description="Minor units of the storefront's currency")


class PixPayout(PayoutFields, PixMethod):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "payout_id": "pay-5001",
                    "customer_id": "ana",
                    "amount": 2500,
                    "method": "pix",
                    "destination": {"key_type": "cpf", "key": "123.456.789-09"},
                }
            ]
        }
    )


class BankTransferPayout(PayoutFields, BankTransferMethod):
    pass


class WalletPayout(PayoutFields, WalletMethod):
    pass


class StoreCreditPayout(PayoutFields, StoreCreditMethod):
    pass


class StatementCreditPayout(PayoutFields, StatementCreditMethod):
    pass


class DonationPayout(PayoutFields, DonationMethod):
    pass


PayoutRequest = Annotated[
    PixPayout
    | BankTransferPayout
    | WalletPayout
    | StoreCreditPayout
    | StatementCreditPayout
    | DonationPayout,
    Discriminator("method"),
    WrapValidator(without_method_tag),
]


class PayoutReply(BaseModel):
    payout_id: str
    customer_id: str
    amount: int
    currency: str
    method: str
    destination: dict[str, str] = Field(description="Masked: never the destination itself")
    status: str = Field(description="requested, submitted, paid, failed, canceled or returned")
    requested_at: str
    submitted_at: str | None
    paid_at: str | None
    resolved_at: str | None = Field(description="When it failed, was canceled or returned")
    failure_code: str | None
    balance: BalanceAfter


class EventAccepted(BaseModel):
    payout_id: str
    status: str = Field(description="The payout's status once the event was applied")


def method_fields(request: Any) -> dict[str, Any]:
    """The method and destination of a payout request, as the domain's PayoutMethod takes
    them (the request's own fields left out)."""
    return {"method": request.method, "destination": request.destination}
