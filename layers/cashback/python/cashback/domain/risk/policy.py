"""A storefront's risk policy: the actions, the thresholds set from the analysts' review
capacity, the allow, deny and watch lists, and the readable rules' limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cashback.domain.risk.aggregates import PurchaseFacts

Action = Literal["allow", "review", "block"]
SEVERITY: Mapping[str, int] = {"allow": 0, "review": 1, "block": 2}


@dataclass(frozen=True)
class Thresholds:
    """Risk scores (higher is riskier) at or above which a purchase is reviewed / blocked."""

    review: float
    block: float

    def __post_init__(self) -> None:
        if self.block < self.review:
            raise ValueError("the block threshold must not be below the review threshold")

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> Thresholds:
        thresholds = metadata["thresholds"]
        return cls(review=float(thresholds["review"]), block=float(thresholds["block"]))

    def action(self, score: float) -> Action:
        if score >= self.block:
            return "block"
        return "review" if score >= self.review else "allow"


@dataclass(frozen=True)
class RiskLists:
    """The list entries a purchase is on (cashback.domain.lists reads them from the
    storefront's live list entries)."""

    allow_customers: frozenset[str] = frozenset()
    deny_customers: frozenset[str] = frozenset()
    deny_devices: frozenset[str] = frozenset()
    deny_payments: frozenset[str] = frozenset()
    watch_customers: frozenset[str] = frozenset()

    def matches(
        self, purchase: PurchaseFacts, which: Literal["allow", "deny", "watch"]
    ) -> list[str]:
        """The lists of kind `which` the purchase is on, as `<which>_list:<subject>`."""
        found = []
        for subject, value in (
            ("customer", purchase.customer_id),
            ("device", purchase.device_id),
            ("payment", purchase.payment_fingerprint),
        ):
            names: frozenset[str] = getattr(self, f"{which}_{subject}s", frozenset())
            if value is not None and value in names:
                found.append(f"{which}_list:{subject}")
        return found


NO_LISTS = RiskLists()


@dataclass(frozen=True)
class RulePolicy:
    """The readable rules' limits. Conservative on purpose: a rule fires only on behaviour
    no honest shopper shows, and the model covers the grey zone."""

    enabled: bool = True
    velocity_orders_24h: int = 5
    velocity_max_age_days: float = 3.0
    ring_customers: int = 3
    serial_refunded_orders: int = 4
    serial_refunded_share: float = 0.6
    serial_quick_refunds: int = 3
    spent_refunds: int = 3
    spent_share: float = 0.3
