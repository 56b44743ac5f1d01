"""Request and reply models of the redemption routes: spending at checkout, holds and
their capture or cancellation, and reversals when goods paid with cashback come back."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from cashback.api.payloads import EXAMPLE_TIME, Amount, Request
from cashback.domain.clock import Timestamp
from cashback.domain.ids import StoreId


class RedemptionRequest(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "redemption_id": "red-3001",
                    "customer_id": "ana",
                    "amount": 1500,
                    "order_id": "ord-1002",
                    "occurred_at": EXAMPLE_TIME,
                    "channel": "online",
                    "capture": False,
                    "order_amount": 12990,
                }
            ]
        }
    )

    redemption_id: StoreId
    customer_id: StoreId
    amount: Amount = Field(description="Ledger units to spend: minor units, or points")
    order_id: StoreId = Field(description="The storefront's order this cashback pays for")
    occurred_at: Timestamp
    channel: Literal["online", "store", "app"]
    capture: StrictBool = Field(
        default=True,
        description="false: hold the amount (it shows as reserved) until "
        "/capture or /cancel, or until the hold expires (the storefront's hold_minutes)",
    )
    order_amount: Amount | None = Field(
        default=None,
        description="The order's total, in minor units: required when the program limits "
        "the share of an order cashback may pay",
    )


class CaptureRequest(Request):
    amount: Amount | None = Field(
        default=None,
        description="Capture less than was held (the rest is spendable again at once); "
        "omitted: all of it",
    )


class ReversalRequest(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"reversal_id": "rev-4001", "amount": 500, "occurred_at": EXAMPLE_TIME}]
        }
    )

    reversal_id: StoreId
    amount: Amount = Field(description="Of the cashback this redemption spent, what comes back")
    occurred_at: Timestamp


class DrawnLot(BaseModel):
    order_id: str = Field(description="The purchase whose cashback this is")
    amount: int
    expires_at: str = Field(description="That cashback's deadline")


class BalanceAfter(BaseModel):
    pending: int
    available: int
    held: int
    reserved: int
    debt: int


class ReversalDone(BaseModel):
    reversal_id: str
    amount: int
    lots: list[DrawnLot] = Field(description="Where it came back to, with the deadlines")


class RedemptionReply(BaseModel):
    redemption_id: str
    customer_id: str
    order_id: str
    channel: str
    status: Literal["captured", "reserved", "canceled", "expired"]
    currency: str
    unit: Literal["money", "points"]
    amount: int = Field(description="What was asked for, in ledger units")
    value: int = Field(description="What the amount is worth at checkout, in minor units")
    captured: int
    reversed: int
    lots: list[DrawnLot] = Field(
        description="What is drawn from each purchase's cashback, earliest deadline first"
    )
    hold_expires_at: str | None = Field(description="When an uncaptured hold lapses")
    occurred_at: str
    balance: BalanceAfter
    reversal: ReversalDone | None = None
