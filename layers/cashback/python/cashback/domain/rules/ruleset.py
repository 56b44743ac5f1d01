"""A storefront's cashback program as data: one immutable, versioned rule set.

The models are strict (unknown fields are refused, nothing can be changed after
validation) because a rule set is published as an audited, immutable version and is the
contract storefronts validate against (`docs/rules.schema.json`). The attribute docstrings
below are that schema's descriptions. How the rules combine is `cashback.domain.rules.engine`'s
job; the dates of a lot are `cashback.domain.rules.deadlines`'s.

Units: order amounts, thresholds and tier spend are money in minor units; everything that
is credited (caps, budgets, fixed bonuses, payout minimum) is in ledger units, which are
minor units in a cashback program and points in a points program.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    NaiveDatetime,
    StrictBool,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cashback.domain.clock import Timestamp
from cashback.domain.currencies import Currency
from cashback.domain.ids import StoreId
from cashback.domain.rules.experiments import Experiment
from cashback.domain.rules.expiry import CampaignLifecycle, Lifecycle, expiry_problem
from cashback.domain.rules.fields import (
    Channel,
    Factor,
    Label,
    LedgerAmount,
    Money,
    PositiveDays,
    Problem,
    Rate,
    RuleId,
    Rules,
    fail,
)
from cashback.domain.rules.growth_rules import (
    MAX_MILESTONES,
    Cumulative,
    FavouriteCategory,
    Milestone,
    milestone_problems,
)

ZERO = Decimal(0)
# Canonical IANA names start with a capital letter; this refuses file names that zoneinfo
# would also load, such as "localtime" or "posixrules".
_ZONE_NAME = re.compile(r"^[A-Z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$")


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The IANA zone by name; raises ValueError for anything that is not one."""
    if not _ZONE_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not an IANA time zone name (e.g. America/Sao_Paulo)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r}") from None


# --- earning rules --------------------------------------------------------------------


class Tier(Rules):
    name: Label
    min_spend: Money
    """Trailing spend (net of refunds, minor units) from which this tier applies."""
    extra_rate: Rate
    """Added to every line's rate."""


class Tiers(Rules):
    """Levels by the customer's spend over a trailing window ending at the purchase."""

    window_days: PositiveDays = 365
    levels: tuple[Tier, ...] = Field(min_length=1, max_length=20)
    """In increasing order of min_spend; the highest level reached applies."""

    @model_validator(mode="after")
    def _ordered(self) -> Tiers:
        problems: list[Problem] = []
        names: set[str] = set()
        for i, tier in enumerate(self.levels):
            if i and tier.min_spend <= self.levels[i - 1].min_spend:
                problems.append(
                    (
                        ("levels", i, "min_spend"),
                        f"tiers overlap: min_spend {tier.min_spend} must be above the "
                        f"previous level's {self.levels[i - 1].min_spend}",
                        tier.min_spend,
                    )
                )
            if tier.name in names:
                problems.append(
                    (("levels", i, "name"), f"tier {tier.name!r} appears twice", tier.name)
                )
            names.add(tier.name)
        fail("Tiers", problems)
        return self


class Bonus(Rules):
    extra_rate: Rate = ZERO
    """Added to every line's rate."""
    fixed: LedgerAmount = 0
    """A fixed amount for the order, in ledger units."""


class BirthdayBonus(Bonus):
    """Applies in the customer's birthday month (or on the day), in the storefront's zone,
    when the storefront sent the birthday."""

    scope: Literal["month", "day"] = "month"


class GreenBonus(Rules):
    extra_rate: Rate
    """Added to the rate of lines marked eco."""


class SegmentRule(Rules):
    extra_rate: Rate
    """Added to every line's rate for purchases the storefront marks with this customer
    segment (a purchase's `segments`)."""


class ChannelRule(Rules):
    earns: StrictBool = True
    """False: purchases in this channel earn nothing."""
    extra_rate: Rate = ZERO
    """Added to every line's rate for purchases in this channel."""


class Caps(Rules):
    """Limits on what is credited, in ledger units."""

    per_order: LedgerAmount | None = None
    per_customer_month: LedgerAmount | None = None
    """Per customer and calendar month in the storefront's time zone."""


class PointsMode(Rules):
    """Points instead of money. Rates still give a value in money; it is credited as
    `points_per_currency_unit` points per major currency unit (rounded down once)."""

    points_per_currency_unit: Factor
    """Points per major unit of cashback value ("100": R$ 1.00 of value is 100 points)."""
    minor_units_per_point: Factor
    """What a point is worth at checkout, in minor units of the currency."""


Stacking = Literal["add", "replace", "exclusive"]


class Campaign(Rules):
    id: RuleId
    """Stable and unique in the program: its budget counters are keyed by it."""
    name: Label
    """What customers read."""
    starts_at: NaiveDatetime
    """Local wall-clock time in the program's time zone (no offset), inclusive."""
    ends_at: NaiveDatetime
    """Local wall-clock time in the program's time zone (no offset), exclusive."""
    rate: Rate
    """Extra, replacement or sole rate, depending on stacking."""
    stacking: Stacking = "add"
    """add: on top of the line's rate; replace: instead of the base or category rate;
    exclusive: the line earns this rate alone (the highest priority exclusive one wins)."""
    priority: Annotated[StrictInt, Field(ge=-1000, le=1000)] | None = None
    """Higher first; ties are broken by id. Required for exclusive campaigns."""
    categories: tuple[StoreId, ...] = ()
    skus: tuple[StoreId, ...] = ()
    """A line is targeted when its category or its SKU is listed (nothing listed: all)."""
    channels: tuple[Channel, ...] = ()
    """Channels the campaign runs in (empty: all)."""
    min_order_amount: Money = 0
    """The order amount (minor units) from which the campaign applies."""
    budget: LedgerAmount | None = None
    """Total the campaign may credit across all customers, in ledger units."""
    lifecycle: CampaignLifecycle | None = None
    experiment: Experiment | None = None
    """Present: the campaign's holdout does not get it; its other variants get it plus
    their extra rate (charged to its budget like the rest of the campaign's money)."""

    @field_validator("ends_at")
    @classmethod
    def _ends_after_start(cls, ends_at: NaiveDatetime, info: ValidationInfo) -> NaiveDatetime:
        starts_at = info.data.get("starts_at")
        if starts_at is not None and ends_at <= starts_at:
            raise ValueError(f"the campaign ends ({ends_at}) before it starts ({starts_at})")
        return ends_at

    @model_validator(mode="after")
    def _exclusive_has_priority(self) -> Campaign:
        if self.stacking == "exclusive" and self.priority is None:
            fail("Campaign", [(("priority",), "an exclusive campaign needs a priority", None)])
        return self

    @property
    def rank(self) -> tuple[int, str]:
        """Stacking order: higher priority first, then id."""
        return (-(self.priority or 0), self.id)


class RuleSet(Rules):
    """A cashback program: publish it as a new version; it applies from effective_from."""

    currency: Currency
    time_zone: str = Field(examples=["America/Sao_Paulo"])
    """The storefront's IANA time zone: campaigns, months, birthdays and expiry use it."""
    effective_from: Timestamp
    """When this version starts to apply; never before it is published."""
    name: Label | None = None
    base_rate: Rate
    """The share of a line's amount returned, as a decimal string ("0.05" is 5%)."""
    category_rates: dict[StoreId, Rate] = Field(default_factory=dict)
    """Replace the base rate for lines of these categories."""
    excluded_categories: tuple[StoreId, ...] = ()
    """Lines of these categories never earn (gift cards, services...)."""
    min_order_amount: Money = 0
    """Orders below this amount (minor units) earn nothing."""
    tiers: Tiers | None = None
    campaigns: tuple[Campaign, ...] = Field(default=(), max_length=200)
    green: GreenBonus | None = None
    birthday: BirthdayBonus | None = None
    first_purchase: Bonus | None = None
    channels: dict[Channel, ChannelRule] = Field(default_factory=dict)
    """Per channel; a channel not listed earns with no extra."""
    segments: dict[StoreId, SegmentRule] = Field(default_factory=dict, max_length=100)
    """Per customer segment (the storefront's own names, sent with each purchase): each
    segment a purchase carries adds its extra rate; a segment not listed adds nothing."""
    favourite_category: FavouriteCategory | None = None
    cumulative: Cumulative | None = None
    milestones: tuple[Milestone, ...] = Field(default=(), max_length=MAX_MILESTONES)
    """The customer's n-th purchase, a lifetime spend crossed, a streak of months: the
    purchase that reaches one earns its bonus, once per customer."""
    caps: Caps = Caps()
    points: PointsMode | None = None
    """Present: the program credits points instead of money."""
    lifecycle: Lifecycle = Lifecycle()
    experiment: Experiment | None = None
    """Present: the holdout variant earns no cashback from the program at all (so a report
    can measure the whole program's lift); the other variants earn the program as written
    plus their extra rate. Assignment is by a hash of the customer (rules.experiments)."""
    refund_policy: Literal["claw_back_unspent", "claw_back_within_balance", "record_debt"] = (
        "record_debt"
    )
    """When a refund meets cashback already spent: take back only what is unspent, take
    back what the balance allows, or record the rest as debt netted from future cashback."""
    gross_margin: Rate | None = Field(default=None, examples=["0.30"])
    """The storefront's gross margin on sales: the program report prices an experiment's
    incremental revenue with it (ROI); absent, the report gives no ROI."""

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        zone(name)
        return name

    @model_validator(mode="after")
    def _consistent(self) -> RuleSet:
        fail("RuleSet", [*self._excluded_problems(), *self._campaign_problems()])
        fail("RuleSet", self._experiment_problems())
        return self

    def _experiment_problems(self) -> list[Problem]:
        """Experiment ids are unique in the program: two experiments with one id would
        assign every customer alike, so neither could be told from the other."""
        problems: list[Problem] = []
        seen = {self.experiment.id} if self.experiment else set()
        for i, campaign in enumerate(self.campaigns):
            if campaign.experiment is None:
                continue
            if campaign.experiment.id in seen:
                problems.append(
                    (
                        ("campaigns", i, "experiment", "id"),
                        f"experiment id {campaign.experiment.id!r} appears twice",
                        campaign.experiment.id,
                    )
                )
            seen.add(campaign.experiment.id)
        return problems

    @model_validator(mode="after")
    def _growth_consistent(self) -> RuleSet:
        fail("RuleSet", milestone_problems(self.milestones))
        return self

    def _excluded_problems(self) -> list[Problem]:
        excluded = set(self.excluded_categories)
        return [
            (("category_rates", category), f"category {category!r} is excluded", category)
            for category in self.category_rates
            if category in excluded
        ]

    def _campaign_problems(self) -> list[Problem]:
        problems: list[Problem] = []
        excluded, seen = set(self.excluded_categories), set[str]()
        for i, campaign in enumerate(self.campaigns):
            if campaign.id in seen:
                problems.append(
                    (
                        ("campaigns", i, "id"),
                        f"campaign id {campaign.id!r} appears twice",
                        campaign.id,
                    )
                )
            seen.add(campaign.id)
            problems += [
                (
                    ("campaigns", i, "categories", j),
                    f"category {category!r} is excluded from the program",
                    category,
                )
                for j, category in enumerate(campaign.categories)
                if category in excluded
            ]
            silent = {name for name, rule in self.channels.items() if not rule.earns}
            if campaign.channels and silent.issuperset(campaign.channels):
                problems.append(
                    (
                        ("campaigns", i, "channels"),
                        "the campaign only runs in channels that do not earn",
                        list(campaign.channels),
                    )
                )
            if campaign.lifecycle is not None:
                window = campaign.lifecycle.return_window_days
                window = self.lifecycle.return_window_days if window is None else window
                expiry = campaign.lifecycle.expiry or self.lifecycle.expiry
                problem = expiry_problem(window, expiry)
                if problem:
                    field = "expiry" if campaign.lifecycle.expiry else "return_window_days"
                    problems.append((("campaigns", i, "lifecycle", field), problem, expiry.kind))
        return problems

    @property
    def unit(self) -> Literal["money", "points"]:
        return "money" if self.points is None else "points"
