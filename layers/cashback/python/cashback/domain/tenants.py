"""A storefront's program settings (until the rules engine replaces the flat rate)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cashback.domain.currencies import Currency
from cashback.domain.payouts.rules import PayoutSettings

DEFAULT_RATE = Decimal("0.05")
# The shares of purchases sent to review and blocked (the model's own capacity: 2% of
# purchases for two analysts per 10 000 purchases a day, 0.2% blocked outright).
DEFAULT_REVIEW_SHARE = Decimal("0.02")
DEFAULT_BLOCK_SHARE = Decimal("0.002")
MAX_SHARE = Decimal("0.5")
_MOVED_TO_LISTS = frozenset({"allow", "deny"})


class RiskThresholds(BaseModel):
    """The thresholds purchases use, computed from the storefront's recorded scores at its
    shares (or the model's own, `source` "model"); scores as exact float text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    review: str
    block: str
    source: Literal["storefront", "model"]
    purchases: int = Field(ge=0)  # scored purchases in the window they came from
    model_version: str
    computed_at: str


class TenantSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: Currency
    cashback_rate: Decimal = Field(default=DEFAULT_RATE, ge=0, le=1, max_digits=8)
    return_window_days: int = Field(default=30, ge=0, le=365)
    expiry_days: int = Field(default=180, ge=1, le=3650)
    backdate_days: int = Field(default=7, ge=0, le=3650)
    # Days before a deadline to remind the customer (0: no reminders).
    reminder_days: int = Field(default=7, ge=0, le=365)
    # enforce: hold and block as the model and rules say; shadow: score and record, never
    # hold (while the storefront builds trust); off: no scoring.
    risk_mode: Literal["enforce", "shadow", "off"] = "enforce"
    review_share: Decimal = Field(default=DEFAULT_REVIEW_SHARE, gt=0, le=MAX_SHARE, max_digits=8)
    block_share: Decimal = Field(default=DEFAULT_BLOCK_SHARE, gt=0, le=MAX_SHARE, max_digits=8)
    # Set by services.risk_settings (on PUT /v1/risk/settings and once a day); None: the
    # model's thresholds.
    thresholds: RiskThresholds | None = None
    # A checkout hold's life: after it, the hold can never be captured and its cashback is
    # spendable again.
    hold_minutes: int = Field(default=15, ge=1, le=7 * 24 * 60)
    # Cashback that comes back with returned goods after its deadline passed stays
    # spendable this many days from the return.
    returned_cashback_days: int = Field(default=7, ge=0, le=365)
    # Payouts: the minimum, daily and monthly limits, the return window.
    payouts: PayoutSettings = PayoutSettings()
    # How far ahead of the request's arrival an occurred_at may be (clock skew).
    future_skew_seconds: int = Field(default=300, ge=0, le=3600)

    @model_validator(mode="after")
    def _block_within_review(self) -> TenantSettings:
        if self.block_share > self.review_share:
            raise ValueError("block_share must not exceed review_share")
        return self

    @model_validator(mode="before")
    @classmethod
    def _lists_moved(cls, data: Any) -> Any:
        """Allow and deny lists are list entries now (cashback.domain.lists, issue 11).
        Settings stored before carry them, empty unless someone edited the item by hand:
        empty ones are dropped, others refused so no entry is silently lost."""
        if not isinstance(data, dict):
            return data
        kept = {k: v for k, v in data.items() if k not in _MOVED_TO_LISTS}
        for name in _MOVED_TO_LISTS & data.keys():
            if any(data[name].values()) if isinstance(data[name], dict) else data[name]:
                raise ValueError(f"{name} lists are list entries now: move them to /v1/lists")
        return kept

    @field_validator("expiry_days")
    @classmethod
    def _expiry_after_window(cls, days: int, info) -> int:  # type: ignore[no-untyped-def]
        window = info.data.get("return_window_days", 0)
        if days <= window:
            raise ValueError("expiry_days must be longer than return_window_days")
        return days
