"""Request and reply models of the HTTP API.

Requests forbid unknown fields (no client can set a balance or a status) and take
amounts only as JSON integers in minor units: strings, floats and booleans are refused.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

from cashback.domain.clock import Timestamp
from cashback.domain.currencies import Currency
from cashback.domain.ids import ID_PATTERN as ID_PATTERN  # the handlers' path parameters
from cashback.domain.ids import StoreId
from cashback.domain.money import MAX_AMOUNT

Amount = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT)]
MAX_LINES = 500


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PurchaseLine(Request):
    sku: StoreId
    category: StoreId
    amount: Amount
    eco: StrictBool = False


# The requests' examples in docs/openapi.json (the README's, and schemathesis' first cases).
EXAMPLE_TIME = "2026-11-25T10:00:00-03:00"


class PurchaseRequest(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "order_id": "ord-1001",
                    "customer_id": "ana",
                    "amount": 25990,
                    "currency": "BRL",
                    "occurred_at": EXAMPLE_TIME,
                    "channel": "online",
                    "lines": [
                        {"sku": "tenis-42", "category": "shoes", "amount": 19990},
                        {"sku": "meia-3", "category": "apparel", "amount": 6000, "eco": True},
                    ],
                }
            ]
        }
    )

    order_id: StoreId
    customer_id: StoreId
    amount: Amount
    currency: Currency
    occurred_at: Timestamp
    channel: Literal["online", "store", "app"]
    lines: list[PurchaseLine] = Field(min_length=1, max_length=MAX_LINES)
    device_id: StoreId | None = None
    payment_fingerprint: StoreId | None = None
    segments: list[StoreId] = Field(
        default_factory=list,
        max_length=10,
        description="The customer's segments as the storefront names them (vip, b2b...): "
        "a program's `segments` rules add their extra rates",
    )
    birthday: str | None = Field(
        default=None,
        pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
        description="The customer's birthday as MM-DD, if the storefront knows it",
    )

    @property
    def birthday_month_day(self) -> tuple[int, int]:
        assert self.birthday is not None
        month, day = self.birthday.split("-")
        return int(month), int(day)

    @field_validator("birthday")
    @classmethod
    def _real_day(cls, value: str | None) -> str | None:
        if value is not None:
            month, day = (int(part) for part in value.split("-"))
            date(2000, month, day)  # 2000 is a leap year: 02-29 is a birthday
        return value

    @model_validator(mode="after")
    def _lines_add_up(self) -> PurchaseRequest:
        total = sum(line.amount for line in self.lines)
        if total != self.amount:
            raise ValueError(f"lines add up to {total} but amount is {self.amount}")
        return self


class RefundLine(Request):
    sku: StoreId
    amount: Amount


class RefundRequest(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "refund_id": "rfd-2001",
                    "order_id": "ord-1001",
                    "amount": 6000,
                    "occurred_at": EXAMPLE_TIME,
                    "lines": [{"sku": "meia-3", "amount": 6000}],
                }
            ]
        }
    )

    refund_id: StoreId
    order_id: StoreId
    amount: Amount
    occurred_at: Timestamp
    lines: list[RefundLine] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_LINES,
        description="The purchase's lines refunded, by SKU: each takes back what that line "
        "earned (422 refund_line_unknown for a SKU the order does not have, "
        "refund_exceeds_line for more than the line has left). Without lines, "
        "the refund takes back the order's cashback in proportion to the amount",
    )

    @model_validator(mode="after")
    def _lines_add_up(self) -> RefundRequest:
        if self.lines is not None:
            total = sum(line.amount for line in self.lines)
            if total != self.amount:
                raise ValueError(f"lines add up to {total} but amount is {self.amount}")
        return self


class PurchaseReply(BaseModel):
    order_id: str
    customer_id: str
    status: Literal["pending", "available", "held", "blocked", "no_cashback"] = Field(
        description="pending: credited, spendable after the return window; available: "
        "credited and spendable at once (a return window of zero); held: waiting for a "
        "risk review; blocked: not credited; no_cashback: earned nothing"
    )
    currency: str
    unit: Literal["money", "points"] = Field(
        default="money", description="money: minor units of the currency; points: points"
    )
    cashback: int = Field(description="Cashback the purchase earned, in ledger units")
    debt_repaid: int = Field(description="Part of it that repaid the customer's debt")
    credited: int = Field(
        description="Part of it credited (pending, or available when the status says so)"
    )
    available_at: datetime | None = Field(
        description="When it becomes spendable (the purchase's own time when available at "
        "once); None: nothing credited"
    )
    expires_at: datetime | None = Field(description="None: never expires (or no cashback)")
    rules_version: int | None = Field(
        default=None, description="The program version applied; None: the flat rate"
    )
    breakdown: dict[str, Any] | None = Field(
        default=None, description="Which rules applied to which lines, and what cut them"
    )
    explanation: list[str] = Field(
        default_factory=list, description="The breakdown in customer-facing words"
    )


class ReturnedCashback(BaseModel):
    redemption_id: str
    amount: int


class RefundReply(BaseModel):
    refund_id: str
    order_id: str
    customer_id: str
    amount: int
    currency: str
    clawed_back: int = Field(
        description="The refunded part's share of the order's cashback; "
        "where it came from is in the from_* fields"
    )
    from_pending: int
    from_available: int
    from_held: int = Field(default=0, description="Taken from cashback held for review")
    from_balance: int = Field(
        default=0,
        description="Under claw_back_within_balance: what the customer had used, "
        "taken from their other available cashback",
    )
    debt: int = Field(description="Part already spent, recorded as debt")
    forgiven: int = Field(
        default=0,
        description="Part not taken back: it had expired, was "
        "voided, or the refund policy lets it go",
    )
    order_refunded: int = Field(description="Refunded of the order so far, this one included")
    cashback_returned: int = Field(
        default=0,
        description="Cashback that had paid for the order (its redemptions, in ledger units) "
        "given back with this refund, in proportion, with the lots' deadlines",
    )
    cashback_returns: list[ReturnedCashback] = Field(
        default_factory=list, description="What came back of each redemption of the order"
    )


class NextExpiry(BaseModel):
    at: datetime
    amount: int


class MilestoneReached(BaseModel):
    id: str
    reached_at: datetime = Field(description="The time of the purchase that reached it")


class MilestoneAhead(BaseModel):
    id: str
    kind: Literal["nth_purchase", "spend", "streak_months"]
    progress: int = Field(
        description="Purchases made, lifetime spend net of refunds (minor units), or "
        "consecutive months with a purchase (this month's or last month's streak)"
    )
    target: int = Field(description="n, amount or months: reached by the purchase crossing it")


class BalanceReply(BaseModel):
    customer_id: str
    currency: str
    pending: int
    available: int
    held: int
    reserved: int = Field(
        description="Taken out of available by open checkout holds and payouts not yet paid"
    )
    debt: int
    spent: int = Field(description="Spent at checkout so far (less what came back)")
    paid_out: int = Field(description="Paid out as money so far (less what came back)")
    next_expiry: NextExpiry | None = Field(
        description="The earliest deadline with cashback on it (pending or available), and "
        "how much expires then; null when nothing will expire"
    )
    next_deadlines: list[NextExpiry] = Field(
        description="The next deadlines (up to three), earliest first, each with how much "
        "of the cashback now pending or available expires then"
    )
    monthly_cap: int | None = Field(
        description="The program's cap on the cashback a customer earns in a calendar month "
        "(in the program's time zone); null when the program in force has none, or no "
        "program is published",
    )
    monthly_cap_left: int | None = Field(
        description="What is left of the monthly cap this month: the cap less the cashback "
        "credited or held this month (rejected holds give theirs back); null without a cap",
    )
    milestones: list[MilestoneReached] = Field(
        default_factory=list,
        description="Milestones the customer reached, earliest first (a refund never "
        "un-reaches one)",
    )
    next_milestones: list[MilestoneAhead] = Field(
        default_factory=list,
        description="The program's milestones still ahead, with the customer's progress",
    )


class EntryReply(BaseModel):
    seq: int
    kind: str
    ref: str
    order_id: str
    occurred_at: datetime
    changes: dict[str, int]
    breakdown: dict[str, Any] | None = Field(
        default=None, description="For a purchase under a program: the rules' breakdown"
    )
    hash: str
    prev_hash: str


class EntriesPage(BaseModel):
    customer_id: str
    currency: str
    items: list[EntryReply]
    next_cursor: str | None


class ErrorReply(BaseModel):
    code: str
    message: str
    details: Any | None = None


class PublishedReply(BaseModel):
    version: int
    effective_from: datetime
    published_at: datetime
    published_by: str


class RulesInForce(BaseModel):
    in_force: dict[str, Any] | None = Field(description="The version that applies now")
    versions: list[dict[str, Any]] = Field(description="Every version, oldest first")
