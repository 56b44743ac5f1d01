"""The reports' replies: the liability roll-forward and breakage by cohort (amounts in
minor units of the storefront's currency, rates as decimal strings)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class StateBalances(BaseModel):
    pending: int = Field(description="Waiting out the return window")
    available: int = Field(description="Spendable")
    held: int = Field(description="Held for a risk analyst's decision")
    reserved: int = Field(description="Reserved by a checkout hold or a payout request")


class LiabilityPeriod(BaseModel):
    start: str = Field(description="First day of the period (ISO date)")
    end: str = Field(description="Last day of the period (ISO date)")
    opening: int = Field(description="What the program owed when the period began")
    issued: int = Field(description="Cashback earned or held for review")
    spent: int = Field(description="Spent at checkout (net of reversals)")
    paid_out: int = Field(description="Paid out in cash (bank, PIX, wallet)")
    expired: int
    clawed_back: int = Field(description="Taken back by refunds, or repaying customers' debt")
    voided: int = Field(description="Held cashback rejected, or refunded before a decision")
    closing: int = Field(
        description="opening + issued - spent - paid_out - expired - clawed_back - voided"
    )
    closing_by_state: StateBalances
    debt: int = Field(description="What customers owe the program at the end (not a liability)")


class CohortBreakage(BaseModel):
    month: str = Field(description="The earning month (YYYY-MM)")
    issued: int
    redeemed: int = Field(description="Spent at checkout or paid out")
    expired: int
    clawed_back: int
    outstanding: int = Field(description="Still pending or available")
    held: int
    voided: int
    breakage_rate: str | None = Field(description="expired / issued")
    redemption_rate: str | None = Field(description="redeemed / issued")
    closed: bool = Field(description="The month is over and nothing of it is outstanding")
    expected_breakage: int = Field(
        description="Closed: what expired. Open: issued x the closed cohorts' rate"
    )
    recognised_breakage: int = Field(
        description="Of the expected breakage, the part the redemptions so far carry "
        "(proportional method, IFRS 15 / ASC 606)"
    )


class BreakageReport(BaseModel):
    cohorts: list[CohortBreakage]
    expected_rate: str | None = Field(
        description="Expired / issued over the closed cohorts (null until one has closed)"
    )
    closed_cohorts: int


class LiabilityReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    tenant: str
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    granularity: Literal["day", "month"]
    periods: list[LiabilityPeriod]
    breakage: BreakageReport
