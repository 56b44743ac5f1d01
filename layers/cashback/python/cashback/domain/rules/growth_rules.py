"""The growth rules of a program as data (issue 12): the favourite-category bonus, cumulative
cashback steps and milestones; `RuleSet` holds them, `growth` reads them.

They are strict like every rule (see ruleset.py); their attribute docstrings are the JSON
Schema's descriptions. Money (spend, thresholds) is in minor units, fixed bonuses in
ledger units.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StrictInt, model_validator

from cashback.domain.rules.fields import (
    Label,
    LedgerAmount,
    Problem,
    Rate,
    RuleId,
    Rules,
    fail,
)

# The longest trailing window a favourite-category rule may read: the account keeps the
# customer's spend per category for this many days, and no more.
MAX_FAVOURITE_WINDOW_DAYS = 365
# The longest streak a milestone may ask for: the account keeps this many months.
MAX_STREAK_MONTHS = 36
MAX_MILESTONES = 20
MAX_STEPS = 20


class FavouriteCategory(Rules):
    """A higher rate in each customer's top category: the one they spent most in (net of
    refunds) over the trailing window before the purchase; ties go to the first name in
    alphabetical order. Categories the program excludes never count."""

    extra_rate: Rate
    """Added to the rate of the purchase's lines in the customer's top category."""
    window_days: Annotated[StrictInt, Field(ge=1, le=MAX_FAVOURITE_WINDOW_DAYS)] = 90
    """The trailing window, in days, ending at the purchase."""
    min_purchases: Annotated[StrictInt, Field(ge=1, le=1000)] = 1
    """Purchases the customer made before this one, at least, for a favourite to count."""


class CumulativeStep(Rules):
    min_spend: Annotated[StrictInt, Field(ge=0, le=10**14)]
    """Lifetime spend (net of refunds, minor units, before the purchase) from which this
    step's rate applies."""
    extra_rate: Rate
    """Added to every line's rate."""


class Cumulative(Rules):
    """A rate that rises with the customer's lifetime spend: the highest step whose
    min_spend their spend before the purchase reaches applies."""

    steps: tuple[CumulativeStep, ...] = Field(min_length=1, max_length=MAX_STEPS)
    """In increasing order of min_spend, each with a higher extra_rate than the one before."""

    @model_validator(mode="after")
    def _rising(self) -> Cumulative:
        problems: list[Problem] = []
        for i, step in enumerate(self.steps[1:], start=1):
            before = self.steps[i - 1]
            if step.min_spend <= before.min_spend:
                problems.append(
                    (
                        ("steps", i, "min_spend"),
                        f"steps must increase: min_spend {step.min_spend} must be above the "
                        f"previous step's {before.min_spend}",
                        step.min_spend,
                    )
                )
            if step.extra_rate <= before.extra_rate:
                problems.append(
                    (
                        ("steps", i, "extra_rate"),
                        f"steps must increase: extra_rate {step.extra_rate} must be above the "
                        f"previous step's {before.extra_rate}",
                        str(step.extra_rate),
                    )
                )
        fail("Cumulative", problems)
        return self


class MilestoneBonus(Rules):
    extra_rate: Rate = Decimal(0)
    """Added to every line's rate of the purchase that reaches the milestone."""
    fixed: LedgerAmount = 0
    """A fixed amount for that purchase, in ledger units."""


class _Milestone(Rules):
    id: RuleId
    """Stable and unique in the program: the account records it as reached, once."""
    name: Label | None = None
    """What customers read (default: what the milestone is, e.g. "5th purchase")."""
    bonus: MilestoneBonus = MilestoneBonus()
    """What the purchase that reaches it earns on top (nothing: only the event and the
    balance tell)."""


class NthPurchase(_Milestone):
    kind: Literal["nth_purchase"]
    n: Annotated[StrictInt, Field(ge=1, le=100_000)]
    """The customer's n-th purchase (counted from their first, refunds or not)."""

    @property
    def target(self) -> int:
        return self.n


class SpendMilestone(_Milestone):
    kind: Literal["spend"]
    amount: Annotated[StrictInt, Field(ge=1, le=10**14)]
    """Lifetime spend (net of refunds, minor units) the purchase makes the customer cross."""

    @property
    def target(self) -> int:
        return self.amount


class StreakMilestone(_Milestone):
    kind: Literal["streak_months"]
    months: Annotated[StrictInt, Field(ge=2, le=MAX_STREAK_MONTHS)]
    """Purchases in this many consecutive calendar months (the program's time zone)."""

    @property
    def target(self) -> int:
        return self.months


Milestone = Annotated[NthPurchase | SpendMilestone | StreakMilestone, Field(discriminator="kind")]
MilestoneKind = Literal["nth_purchase", "spend", "streak_months"]


def milestone_problems(milestones: tuple[Milestone, ...]) -> list[Problem]:
    """Ids appear once; no two milestones of one kind share a target."""
    problems: list[Problem] = []
    ids: set[str] = set()
    targets: dict[tuple[str, int], str] = {}
    for i, milestone in enumerate(milestones):
        if milestone.id in ids:
            problems.append(
                (
                    ("milestones", i, "id"),
                    f"milestone id {milestone.id!r} appears twice",
                    milestone.id,
                )
            )
        ids.add(milestone.id)
        key = (milestone.kind, milestone.target)
        if key in targets:
            problems.append(
                (
                    ("milestones", i),
                    f"milestone {milestone.id!r} has the same {milestone.kind} target "
                    f"({milestone.target}) as {targets[key]!r}",
                    milestone.target,
                )
            )
        targets.setdefault(key, milestone.id)
    return problems
