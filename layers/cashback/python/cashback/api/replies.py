"""The API's replies, shaped from the use cases' domain results: the one place a result
becomes the JSON a storefront or an analyst reads (the models are in api.payloads)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from cashback.api.payloads import (
    BalanceReply,
    EntriesPage,
    EntryReply,
    MilestoneAhead,
    MilestoneReached,
    NextExpiry,
    PurchaseReply,
    RefundReply,
)
from cashback.api.payouts import PayoutReply
from cashback.api.redemptions import BalanceAfter, DrawnLot, RedemptionReply
from cashback.domain.balances import Balance, History
from cashback.domain.ledger import Account
from cashback.domain.orders import PurchaseRecorded, RefundRecorded
from cashback.domain.payouts.records import PayoutView
from cashback.domain.redemptions import RedemptionView


def purchase(recorded: PurchaseRecorded) -> dict[str, Any]:
    return PurchaseReply.model_validate(asdict(recorded)).model_dump(mode="json")


def refund(recorded: RefundRecorded) -> dict[str, Any]:
    values = asdict(recorded)
    values["cashback_returns"] = [
        {"redemption_id": redemption_id, "amount": amount}
        for redemption_id, amount in recorded.cashback_returns
    ]
    return RefundReply.model_validate(values).model_dump(mode="json")


def balance(customer_id: str, currency: str, found: Balance) -> BalanceReply:
    account = found.account
    deadlines = [NextExpiry.model_validate(asdict(due)) for due in found.deadlines]
    return BalanceReply(
        customer_id=customer_id,
        currency=currency,
        pending=account["pending"],
        available=account["available"],
        held=account["held"],
        reserved=account["reserved"],
        debt=account["debt"],
        spent=account["spent"],
        paid_out=account["paid_out"],
        next_expiry=deadlines[0] if deadlines else None,
        next_deadlines=deadlines,
        monthly_cap=found.cap.cap if found.cap else None,
        monthly_cap_left=found.cap.left if found.cap else None,
        milestones=[
            MilestoneReached.model_validate({"id": id, "reached_at": at})
            for id, at in found.milestones
        ],
        next_milestones=[MilestoneAhead.model_validate(asdict(m)) for m in found.next_milestones],
    )


def entries(customer_id: str, currency: str, history: History) -> EntriesPage:
    return EntriesPage(
        customer_id=customer_id,
        currency=currency,
        items=[
            EntryReply.model_validate(
                {
                    "seq": e.seq,
                    "kind": e.kind,
                    "ref": e.ref,
                    "order_id": e.order_id,
                    "occurred_at": e.occurred_at,
                    "changes": e.deltas,
                    "breakdown": json.loads(e.detail) if e.detail else None,
                    "hash": e.hash,
                    "prev_hash": e.prev_hash,
                }
            )
            for e in history.entries
        ],
        next_cursor=history.next_cursor,
    )


def _balance_after(account: Account) -> BalanceAfter:
    return BalanceAfter(**{name: account[name] for name in BalanceAfter.model_fields})


def redemption(view: RedemptionView) -> dict[str, Any]:
    made, account = view.redemption, view.account
    return RedemptionReply(
        redemption_id=made.redemption_id,
        customer_id=made.customer_id,
        order_id=made.order_id,
        channel=made.channel,
        status=made.status,  # type: ignore[arg-type]
        currency=view.currency,
        unit=view.unit,  # type: ignore[arg-type]
        amount=made.amount,
        value=view.value,
        captured=made.captured,
        reversed=made.reversed,
        lots=[
            DrawnLot(order_id=d.order_id, amount=d.amount, expires_at=d.expires_at)
            for d in sorted(made.drawn, key=lambda d: d.key)
        ],
        hold_expires_at=made.hold_expires_at,
        occurred_at=made.occurred_at,
        balance=_balance_after(account),
    ).model_dump(mode="json", exclude={"reversal"})


def payout(view: PayoutView) -> dict[str, Any]:
    made, account = view.payout, view.account
    return PayoutReply(
        payout_id=made.payout_id,
        customer_id=made.customer_id,
        amount=made.amount,
        currency=made.currency,
        method=made.method,
        destination=made.masked,
        status=made.status,
        requested_at=made.requested_at,
        submitted_at=made.submitted_at,
        paid_at=made.paid_at,
        resolved_at=made.resolved_at,
        failure_code=made.failure_code,
        balance=_balance_after(account),
    ).model_dump(mode="json")
