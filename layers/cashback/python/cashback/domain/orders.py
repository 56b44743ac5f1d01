"""Orders and refunds as the ledger records them: the idempotency record of each request,
holding the first reply, and the fingerprint that says two requests are the same."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any


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
    status: str = "pending"  # pending | held | blocked | no_cashback
    risk: dict[str, Any] | None = None  # the decision: score, model, reasons, rules fired
    case_status: str | None = None  # open while held for an analyst, then closed
    decision: dict[str, Any] | None = None  # the analyst's: approve or reject, who, note
    # Per SKU: [amount, cashback it earned, refunded so far] (ledger.OrderLine), so a
    # refund that names lines takes back what they earned. None: recorded before lines.
    lines: dict[str, list[int]] | None = None


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
