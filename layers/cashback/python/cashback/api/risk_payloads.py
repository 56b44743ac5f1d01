"""Requests and replies of the risk settings routes (GET/PUT /v1/risk/settings, POST
/v1/risk/backtest): modes, shares as decimal strings, thresholds and backtests."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator

from cashback.domain.tenants import MAX_SHARE

# A share of purchases as a decimal string, like the rules' rates: "0.02" is 2%.
Share = Annotated[
    StrictStr,
    Field(
        pattern=r"^0?\.[0-9]{1,6}$",
        description='A share of purchases, a decimal string in (0, 0.5]: "0.02" is 2%',
        examples=["0.02"],
    ),
]
Mode = Literal["off", "shadow", "enforce"]


class _Shares(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    review_share: Share
    block_share: Share

    @model_validator(mode="after")
    def _in_range(self) -> _Shares:
        review, block = Decimal(self.review_share), Decimal(self.block_share)
        for name, share in (("review_share", review), ("block_share", block)):
            if not 0 < share <= MAX_SHARE:
                raise ValueError(f"{name} must be above 0 and at most {MAX_SHARE}")
        if block > review:
            raise ValueError("block_share must not exceed review_share")
        return self

    @property
    def shares(self) -> tuple[Decimal, Decimal]:
        return Decimal(self.review_share), Decimal(self.block_share)


class RiskSettingsRequest(_Shares):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"mode": "enforce", "review_share": "0.02", "block_share": "0.002"}]
        }
    )

    mode: Mode


class BacktestRequest(_Shares):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"review_share": "0.02", "block_share": "0.002"}]}
    )

    mode: Mode = Field(default="enforce", description="The mode to test (enforce by default)")


class ThresholdsReply(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    review: float = Field(description="Scores at or above this are held for review")
    block: float = Field(description="Scores at or above this are blocked")
    source: Literal["storefront", "model"] = Field(
        alias="from",
        description="storefront: quantiles of its own recorded scores; model: the model's "
        "own (fewer than 500 scored purchases in the window)",
    )
    purchases: int = Field(description="Scored purchases in the window")
    days: int = 30
    computed_at: str = Field(description="When they were computed (ISO-8601 UTC)")


class Outcome(BaseModel):
    count: int
    cashback: int


class BacktestReply(BaseModel):
    days: int = 30
    purchases: int
    thresholds: ThresholdsReply
    held: Outcome
    blocked: Outcome
    allowed: Outcome


class RiskSettingsReply(BaseModel):
    mode: Mode
    review_share: str
    block_share: str
    thresholds: ThresholdsReply
    model_version: str
    backtest: BacktestReply | None = Field(
        default=None, description="On a PUT that switches to enforce: the last 30 days under it"
    )
