"""Orders and refunds: what a storefront reports (a new purchase, a new refund), the record
the ledger keeps of each (holding the first reply, for retries), and what it answers."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from cashback.domain.clock import to_iso


@dataclass(frozen=True)
class PurchaseLine:
    sku: str
    category: str
    amount: int
    eco: bool = False


@dataclass(frozen=True)
class NewPurchase:
    """A purchase as the storefront reports it (validated at the edge). Its fields are the
    request's, one for one: the fingerprint is their content."""

    order_id: str
    customer_id: str
    amount: int
    currency: str
    occurred_at: datetime
    channel: str
    lines: tuple[PurchaseLine, ...]
    device_id: str | None = None
    payment_fingerprint: str | None = None
    birthday: str | None = None  # MM-DD
    segments: tuple[str, ...] = ()  # the customer's segments, as the storefront names them

    @property
    def birthday_month_day(self) -> tuple[int, int]:
        assert self.birthday is not None
        month, day = self.birthday.split("-")
        return int(month), int(day)

    def fingerprint(self) -> str:
        return _fingerprint(self, self.occurred_at)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> NewPurchase:
        """From the request's fields (its lines as dicts)."""
        lines = tuple(PurchaseLine(**line) for line in values["lines"])
        segments = tuple(values.get("segments") or ())
        return cls(**{**values, "lines": lines, "segments": segments})


@dataclass(frozen=True)
class RefundLine:
    sku: str
    amount: int


@dataclass(frozen=True)
class NewRefund:
    """A refund as the storefront reports it; `lines` None: in proportion to the amount."""

    refund_id: str
    order_id: str
    amount: int
    occurred_at: datetime
    lines: tuple[RefundLine, ...] | None = None

    def fingerprint(self) -> str:
        return _fingerprint(self, self.occurred_at)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> NewRefund:
        """From the request's fields (its lines, if any, as dicts)."""
        found = values.get("lines")
        lines = None if found is None else tuple(RefundLine(**line) for line in found)
        return cls(**{**values, "lines": lines})


def _fingerprint(request: NewPurchase | NewRefund, occurred_at: datetime) -> str:
    """What makes two requests the same: their content, with occurred_at as the instant it
    names (a retry may spell the same moment in another time zone)."""
    content = {**asdict(request), "occurred_at": to_iso(occurred_at)}
    if not content.get("segments", True):
        del content["segments"]  # none sent: the same hash as before segments existed
    return request_hash(content)


@dataclass(frozen=True)
class Order:
    tenant: str
    order_id: str
    customer_id: str
    amount: int
    currency: str
    cashback: int
    refunded: int
    lot_sk: str | None
    occurred_at: str
    request_hash: str
    reply: str  # the JSON reply of the first request, returned to every retry
    status_code: int
    rules_version: int | None = None  # None: the storefront's flat rate
    refund_policy: str = "record_debt"
    status: str = "pending"  # pending | available | held | blocked | no_cashback
    risk: dict[str, Any] | None = None  # the decision: score, model, reasons, rules fired
    case_status: str | None = None  # open while held for an analyst, then closed
    decision: dict[str, Any] | None = None  # the analyst's: approve or reject, who, note
    # Per SKU: [amount, cashback it earned, refunded so far] (ledger.OrderLine), so a
    # refund that names lines takes back what they earned. None: recorded before lines.
    lines: dict[str, list[int]] | None = None
    # What refunds gave back of the redemptions that paid for the order (issue 10):
    # [refund_id, redemption_id, amount, occurred_at] (ledger.order_returns.Return).
    redeemed_returns: list[list[object]] | None = None
    # Where the purchase came from, for the accounts linked to a case (issue 11).
    device_id: str | None = None
    payment_fingerprint: str | None = None
    # The analyst holding an open case (domain.cases.Claim as an item), and the take-overs.
    claim: dict[str, str] | None = None
    claim_log: list[dict[str, str]] | None = None
    # The riskier score of the customer's later purchase an open case was raised to:
    # {"score": "0.812345", "from": order_id} (services.priority).
    priority: dict[str, str] | None = None
    # The purchase's variant in each experiment that ran for it, as its breakdown has them
    # ([{"id", "variant", "holdout", "campaign"}]; rules.experiments), at the top of the
    # item so the stream's report consumer reads it without parsing the reply. None: none.
    experiments: list[dict[str, Any]] | None = None
    # Each SKU's category (issue 12), so a refund nets the customer's spend per category;
    # None: recorded before, and the growth progress never counted the order.
    categories: dict[str, str] | None = None
    # The customer as the purchase found them (services.growth.snapshot; issue 12), at the
    # top of the item for the program report's stream consumer. None: blocked, or before.
    customer_before: dict[str, Any] | None = None


@dataclass(frozen=True)
class Refund:
    tenant: str
    refund_id: str
    order_id: str
    request_hash: str
    reply: str
    status_code: int


def request_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()


@dataclass(frozen=True)
class PurchaseRecorded:
    """What the storefront hears of a purchase: the status and the cashback, never the
    screening. Times are ISO 8601 in UTC."""

    order_id: str
    customer_id: str
    status: str  # pending | available | held | blocked | no_cashback
    currency: str
    unit: str  # money | points
    cashback: int
    debt_repaid: int
    credited: int
    available_at: str | None
    expires_at: str | None
    rules_version: int | None
    breakdown: dict[str, Any] | None
    explanation: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RefundRecorded:
    """What a refund took back, and from where."""

    refund_id: str
    order_id: str
    customer_id: str
    amount: int
    currency: str
    clawed_back: int
    from_pending: int
    from_available: int
    from_held: int
    from_balance: int
    debt: int
    forgiven: int
    order_refunded: int
    # Cashback that had paid for the order, given back with the refund (issue 10).
    cashback_returned: int = 0
    cashback_returns: tuple[tuple[str, int], ...] = ()  # (redemption_id, amount)


@dataclass(frozen=True)
class Reply:
    """A recorded request's reply: the first one, given again to every retry (`replayed`)."""

    status_code: int
    body: dict[str, Any]
    replayed: bool = False
