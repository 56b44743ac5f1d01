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


class MonthResults(BaseModel):
    month: str = Field(description="The storefront's local month (YYYY-MM)")
    orders: int
    revenue: int = Field(description="What the orders were worth (before refunds)")
    average_ticket: int | None
    customers: int = Field(description="Customers who bought in the month")
    new_customers: int
    purchase_frequency: str | None = Field(description="Orders per customer who bought")
    cashback: int = Field(description="Cashback credited or held at purchase")


class CohortResults(BaseModel):
    month: str = Field(description="The month its customers first bought")
    customers: int
    repeat_30d_rate: str | None = Field(description="Bought again within 30 days of the first")
    repeat_90d_rate: str | None
    orders: int
    revenue: int
    lifetime_value: int = Field(description="Revenue so far per customer of the cohort")


class GroupResults(BaseModel):
    orders: int
    revenue: int
    active_customer_months: int
    average_ticket: int | None
    revenue_per_active_customer: int | None


class UsersAgainstNonUsers(BaseModel):
    note: str = Field(description="Why this comparison is biased (self-selection)")
    users: GroupResults = Field(description="Orders of customers who had used cashback before")
    non_users: GroupResults


class VariantResults(BaseModel):
    name: str
    holdout: bool
    customers: int
    orders: int
    revenue: int
    revenue_per_customer: int | None
    repeat_rate: str | None
    cashback: int


class HoldoutComparison(BaseModel):
    variant: str
    against: str = Field(description="The holdout")
    revenue_per_customer_lift: int
    interval_95: list[int] = Field(description="Welch 95% confidence interval of the lift")
    relative_lift: str | None
    significant: bool = Field(description="The interval excludes zero")
    incremental_revenue: int
    cashback_cost: int = Field(description="The variant's cashback beyond the holdout's")
    incremental_gross_margin: int | None = None
    roi: str | None = Field(description="(incremental gross margin - cashback) / cashback")
    roi_interval_95: list[str | None] | None


class ExperimentResults(BaseModel):
    id: str
    variants: list[VariantResults]
    against_holdout: list[HoldoutComparison]


class ProgramReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    tenant: str
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    gross_margin: str | None = Field(description="The program's gross margin (prices ROI)")
    months: list[MonthResults]
    cohorts: list[CohortResults]
    users_against_non_users: UsersAgainstNonUsers
    experiments: list[ExperimentResults]
