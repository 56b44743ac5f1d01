"""A customer's account: the balances they see, the running totals that make conservation
checkable, and the head of their entries' hash chain."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Balances a customer sees, and running totals that make conservation checkable.
BALANCES = ("pending", "available", "held", "reserved", "debt")
TOTALS = ("earned", "spent", "paid_out", "expired", "clawed_back")
FIELDS = BALANCES + TOTALS

GENESIS = "0" * 64


@dataclass(frozen=True)
class Account:
    tenant: str
    customer_id: str
    seq: int = 0
    head: str = GENESIS
    values: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))
    # What the rules need to know, kept current in the same transactions: net spend per
    # day (tiers look back over a window) and cashback earned per month (monthly caps).
    spend_days: dict[str, int] = field(default_factory=dict)
    earned_months: dict[str, int] = field(default_factory=dict)
    last_activity_at: str = ""  # the latest purchase (or, later, redemption); "" for none
    # Open checkout holds: redemption_id -> when the hold expires, so the customer's next
    # redemption releases the expired ones first (the sweep releases them within a minute).
    holds: dict[str, str] = field(default_factory=dict)
    # What the customer's payouts took out, by local day and month ({"days": {...},
    # "months": {...}}), for the storefront's payout limits (domain.payouts.rules).
    payouts: dict[str, dict[str, int]] = field(default_factory=dict)
    # The risk model's aggregates of this customer (cashback.domain.risk.aggregates), opaque here.
    risk: dict[str, Any] = field(default_factory=dict)
    # What the growth rules read (issue 12), kept in the purchase's and the refund's
    # transactions (domain.ledger.progress): purchases counted (blocked ones are not),
    # lifetime spend net of refunds, the first purchase's time ("" for none), net spend per
    # day and category, purchases per local month, and milestones reached (id -> when).
    purchase_count: int = 0
    lifetime_spend: int = 0
    first_purchase_at: str = ""
    category_days: dict[str, dict[str, int]] = field(default_factory=dict)
    purchase_months: dict[str, int] = field(default_factory=dict)
    milestones: dict[str, str] = field(default_factory=dict)
    # Each experiment the customer bought under: [orders, revenue] in it so far (what the
    # program report's variants count, issue 12).
    experiments: dict[str, list[int]] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return self.seq > 0

    def __getitem__(self, name: str) -> int:
        return self.values[name]

    def conserved(self) -> bool:
        """Promise 4: everything earned is somewhere."""
        v = self.values
        accounted = (
            v["pending"]
            + v["available"]
            + v["reserved"]
            + v["spent"]
            + v["paid_out"]
            + v["expired"]
            + v["clawed_back"]
        )
        return v["earned"] == accounted
