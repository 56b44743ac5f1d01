"""Request and reply models of the analysts' routes (the queue and closed cases, a case
file, claims, notes, decisions, the team's stats), and the replies shaped from the
domain's cases."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cashback.api.payloads import Request
from cashback.api.replies import balance, entries
from cashback.domain.cases import (
    Case,
    Claim,
    QueueStats,
    Ruling,
    Verdict,
    priority_of,
    state_of,
)
from cashback.domain.clock import from_iso
from cashback.domain.orders import Order

CloseReason = Literal["legitimate", "refund_abuse", "account_farming", "velocity", "other"]


class DecisionRequest(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "decision": "approve",
                    "reason": "legitimate",
                    "note": "known customer, gift orders before Christmas",
                }
            ]
        }
    )

    decision: Literal["approve", "reject"]
    reason: CloseReason | None = Field(
        default=None,
        description="Why the case closed, as a label for the next model: legitimate, "
        "refund_abuse, account_farming, velocity or other",
    )
    note: str = Field(
        default="",
        max_length=1000,
        description="Why, for the case file and the next model's labels",
    )
    customer_list: Literal["watch_customer", "deny_customer"] | None = Field(
        default=None,
        description="Also put the customer on a list, in the same transaction: "
        "watch_customer (their next purchases go to review) or deny_customer (they earn no "
        "cashback); reversible with DELETE /v1/lists/{kind}/{customer_id}, audited",
    )

    def ruling(self) -> Ruling:
        return Ruling(self.decision, self.note, self.reason, self.customer_list)


class ClaimRequest(Request):
    take_over: bool = Field(
        default=False, description="Take the case from the analyst who holds it (with a reason)"
    )
    reason: str = Field(default="", max_length=500, description="Why, for a take-over")

    @model_validator(mode="after")
    def _take_over_has_a_reason(self) -> ClaimRequest:
        if self.take_over and not self.reason.strip():
            raise ValueError("a take-over needs a reason")
        return self


class NoteRequest(Request):
    text: str = Field(min_length=1, max_length=2000, pattern=r"\S")


class ClaimReply(BaseModel):
    by: str
    until: datetime


class CaseClaim(BaseModel):
    order_id: str
    claim: ClaimReply


class NoteReply(BaseModel):
    note_id: str
    by: str
    at: datetime
    text: str


class ReviewItem(BaseModel):
    order_id: str
    customer_id: str
    amount: int
    cashback: int
    occurred_at: datetime
    score: float | None
    model_version: str
    reasons: list[str]
    rules_fired: list[str]


class CaseRow(ReviewItem):
    priority: float | None = Field(
        description="The score the risk order sorts by: the case's own, or the riskier "
        "score of its customer's later purchase it rose to (priority_from)"
    )
    priority_from: str | None = Field(description="The order whose score it rose to")
    state: Literal["open", "approved", "rejected", "refunded"] | None = Field(
        description="None: a screened purchase that opened no case"
    )
    age_seconds: int = Field(description="Since the purchase (occurred_at)")
    cashback_held: int = Field(description="Cashback waiting on the decision (0 once closed)")
    claim: ClaimReply | None = Field(description="Who holds the case, while their claim lasts")
    decision: dict[str, Any] | None


class ReviewPage(BaseModel):
    items: list[CaseRow]
    next_cursor: str | None


class LinkedCase(BaseModel):
    order_id: str
    state: str | None
    score: float | None
    occurred_at: datetime


class LinkedAccount(BaseModel):
    customer_id: str
    via: Literal["device", "payment"]
    cases: list[LinkedCase]


class FeatureView(BaseModel):
    name: str
    value: float
    percentile: float | None = Field(
        description="0-100 among the storefront's purchases of the last 30 days scored by "
        "the same model; null below 500 of them"
    )


class ReviewCase(CaseRow):
    status: str
    case_status: str | None
    refunded: int
    customer: dict[str, Any] = Field(description="Balance, recent ledger and history")
    notes: list[NoteReply]
    features: list[FeatureView] = Field(
        description="Each feature as screened, against the storefront's normal"
    )
    linked: list[LinkedAccount] = Field(
        description="Customers seen on the same device or payment fingerprint"
    )
    cases: list[LinkedCase] = Field(description="The customer's other cases, newest first")
    claim_log: list[dict[str, Any]] = Field(description="Take-overs: who, from whom, why")


class DecisionReply(BaseModel):
    order_id: str
    decision: Literal["approve", "reject"]
    status: Literal["pending", "available", "no_cashback", "rejected"] = Field(
        description="pending: ripens when its return window ends; available: approved after "
        "its return window ended, spendable at once; no_cashback: all of it repaid debt"
    )
    cashback: int
    customer_list: Literal["watch_customer", "deny_customer"] | None = None


class AnalystStats(BaseModel):
    analyst: str
    approved: int
    rejected: int


class QueueStatsReply(BaseModel):
    open: int
    claimed: int
    oldest_open_at: datetime | None
    oldest_age_seconds: int | None
    days: int = Field(description="The window of the decision counts (cases opened since)")
    decided: int
    approved: int
    rejected: int
    approval_rate: str | None = Field(description="approved / decided, a decimal string")
    by_analyst: list[AnalystStats]


# -- replies ------------------------------------------------------------------------------


def _item(order: Order) -> dict[str, Any]:
    risk = order.risk or {}
    score = risk.get("score")
    return {
        "order_id": order.order_id,
        "customer_id": order.customer_id,
        "amount": order.amount,
        "cashback": order.cashback,
        "occurred_at": order.occurred_at,
        "score": float(score) if score else None,
        "model_version": risk.get("model_version", ""),
        "reasons": risk.get("reasons", []),
        "rules_fired": risk.get("rules_fired", []),
    }


def _public(decision: dict[str, Any] | None) -> dict[str, Any] | None:
    """The decision as the case file shows it (without the idempotency record)."""
    if decision is None:
        return None
    return {k: v for k, v in decision.items() if k not in ("request_hash", "reply")}


def _row(order: Order, now: datetime, held: Mapping[str, int]) -> dict[str, Any]:
    claim = Claim.from_item(order.claim)
    live = claim is not None and claim.live(now) and order.case_status == "open"
    return {
        **_item(order),
        "state": state_of(order),
        "priority": priority_of(order) if order.risk and order.risk.get("score") else None,
        "priority_from": order.priority["from"] if order.priority else None,
        "age_seconds": max(0, int((now - from_iso(order.occurred_at)).total_seconds())),
        "cashback_held": held.get(order.order_id, 0),
        "claim": {"by": claim.by, "until": claim.until} if live and claim else None,
        "decision": _public(order.decision),
    }


def review_page(
    orders: list[Order], held: Mapping[str, int], next_cursor: str | None, now: datetime
) -> ReviewPage:
    return ReviewPage(
        items=[CaseRow.model_validate(_row(order, now, held)) for order in orders],
        next_cursor=next_cursor,
    )


def _linked_case(order: Order) -> dict[str, Any]:
    score = (order.risk or {}).get("score")
    return {
        "order_id": order.order_id,
        "state": state_of(order),
        "score": float(score) if score else None,
        "occurred_at": order.occurred_at,
    }


def review_case(found: Case, currency: str, now: datetime) -> ReviewCase:
    order, history = found.order, found.history
    customer = {
        "balance": balance(order.customer_id, currency, found.balance).model_dump(mode="json"),
        "recent_entries": entries(order.customer_id, currency, found.recent).model_dump(
            mode="json"
        )["items"],
        "orders": history.orders if history else 0,
        "ordered": history.ordered if history else 0,
        "refunds": history.refunds if history else 0,
        "refunded": history.refunded if history else 0,
    }
    return ReviewCase.model_validate(
        {
            **_row(order, now, {order.order_id: found.held}),
            "status": order.status,
            "case_status": order.case_status,
            "refunded": order.refunded,
            "customer": customer,
            "notes": [asdict(note) for note in found.notes],
            "features": [
                {"name": name, "value": value, "percentile": percentile}
                for name, value, percentile in found.features
            ],
            "linked": [
                {
                    "customer_id": link.customer_id,
                    "via": link.via,
                    "cases": [_linked_case(each) for each in link.cases],
                }
                for link in found.linked
            ],
            "cases": [_linked_case(each) for each in found.cases],
            "claim_log": list(order.claim_log or ()),
        }
    )


def decision(verdict: Verdict) -> dict[str, Any]:
    return DecisionReply.model_validate(asdict(verdict)).model_dump(mode="json")


def queue_stats(found: QueueStats) -> QueueStatsReply:
    rate = found.approval_rate
    return QueueStatsReply(
        **{k: v for k, v in asdict(found).items() if k != "by_analyst"},
        decided=found.decided,
        approval_rate=None if rate is None else str(rate),
        by_analyst=[AnalystStats(**asdict(each)) for each in found.by_analyst],
    )
