"""A held purchase as a risk analyst sees it: the case (the order, its screening, the
customer's balance, ledger and history), and the verdict that closes it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from cashback.domain.balances import Balance, History
from cashback.domain.orders import Order
from cashback.domain.risk.features import CustomerAggregates


@dataclass(frozen=True)
class Case:
    order: Order
    balance: Balance
    recent: History
    history: CustomerAggregates | None  # None: the customer has no risk aggregates yet


@dataclass(frozen=True)
class Verdict:
    """The reply to a decision, kept on the order so a retried request gets it again."""

    order_id: str
    decision: str  # approve | reject
    status: str  # pending | no_cashback | rejected
    cashback: int

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Verdict:
        return cls(**json.loads(text))
