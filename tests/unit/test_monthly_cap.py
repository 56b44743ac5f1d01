"""The monthly cap against any order of holds, approvals and rejections (issue 8, finding
6): a state machine over the functions a purchase and an analyst's decision run (the rules'
evaluation, the ledger's accrue / approve / reject, and what accrual keeps for the cap)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from cashback.api.payloads import PurchaseRequest
from cashback.domain import ledger
from cashback.domain.rules.engine import Context, evaluate
from cashback.domain.rules.ruleset import RuleSet
from cashback.services.earning import Earning, with_activity

CAP = 30000
RULES = RuleSet.model_validate(
    {
        "currency": "BRL",
        "time_zone": "America/Sao_Paulo",
        "effective_from": "2026-01-01T00:00:00Z",
        "base_rate": "0.10",
        "caps": {"per_customer_month": CAP},
    }
)
START = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


class MonthUnderACap(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.account = ledger.Account("t", "c")
        self.held: list[ledger.Lot] = []
        self.orders = 0

    @rule(amount=st.integers(1, 200000), action=st.sampled_from(["allow", "review", "block"]))
    def purchase(self, amount: int, action: Any) -> None:
        self.orders += 1
        at = START + timedelta(minutes=self.orders)
        request = PurchaseRequest(
            order_id=f"o{self.orders}",
            customer_id="c",
            amount=amount,
            currency="BRL",
            occurred_at=at,
            channel="online",
            lines=[{"sku": "s", "category": "x", "amount": amount}],
        )  # type: ignore[list-item]
        evaluation = evaluate(
            RULES,
            request,
            Context(earned_this_month=self.account.earned_months.get("2026-11", 0)),
            version=1,
        )
        earning = Earning(
            evaluation.cashback,
            evaluation.available_at,
            evaluation.expires_at,
            evaluation=evaluation,
        )
        accrual = ledger.accrue(
            self.account,
            order_id=request.order_id,
            cashback=earning.cashback,
            occurred_at=at,
            available_at=earning.available_at,
            expires_at=earning.expires_at,
            risk=action,
            month=evaluation.month,
        )
        self.account = with_activity(accrual.account, request, earning, (1, RULES), action)
        if action == "review" and accrual.lot is not None:
            self.held.append(accrual.lot)

    @precondition(lambda self: self.held)
    @rule(index=st.integers(0, 99), approve=st.booleans())
    def decide(self, index: int, approve: bool) -> None:
        lot = self.held.pop(index % len(self.held))
        step = ledger.approve if approve else ledger.reject
        self.account = step(
            self.account, lot, order_id=lot.order_id, decided_at=START + timedelta(days=1)
        ).account

    @invariant()
    def the_month_never_passes_its_cap(self) -> None:
        values = self.account.values
        assert values["pending"] + values["held"] <= CAP
        assert self.account.earned_months.get("2026-11", 0) <= CAP
        # What counts is exactly what was credited or is still held.
        assert (
            self.account.earned_months.get("2026-11", 0)
            == values["pending"] + values["held"] + values["clawed_back"]
        )


MonthUnderACap.TestCase.settings = settings(deadline=None, max_examples=100, stateful_step_count=30)
test_month_under_a_cap = MonthUnderACap.TestCase
