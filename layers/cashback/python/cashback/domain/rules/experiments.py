"""Experiments in a program or a campaign: variants with shares, one of them a holdout, and
each customer's variant, assigned deterministically from a hash (no storage, no clock).

Assignment: sha256 of the JSON array [tenant, experiment id, customer id] read as a
big-endian integer, modulo BUCKETS (10,000), gives the customer's bucket; the variants,
in the order the program lists them, own consecutive ranges of buckets, each as wide as
its share times BUCKETS (shares have at most four decimals, so the ranges are exact and
cover [0, 10000) with no gap). The customer lands where their bucket falls. So the same
customer stays in the same variant while the experiment's id and shares are unchanged; a
new id draws new buckets (a reshuffle), and reordering or resizing the variants moves
only the customers whose bucket changes owner. The modulo of a 256-bit number by 10,000
is uniform to within 10^-73: no bias worth the name.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any, NamedTuple

from pydantic import Field, model_validator

from cashback.domain.ids import StoreId
from cashback.domain.rules.fields import Problem, Rate, RuleId, Rules, Share, fail

BUCKETS = 10_000


class Variant(Rules):
    name: StoreId
    """What the breakdown and the reports call it."""
    share: Share
    """The share of customers in it, as a decimal string with at most four decimals
    ("0.1" is 10%); the shares of an experiment add up to exactly 1."""
    extra_rate: Rate = Decimal(0)
    """Added to every line's rate (in a campaign's experiment: to the campaign's rate) for
    customers in this variant. The holdout has none."""


class Experiment(Rules):
    """Customers split into variants by a hash of their id; the holdout variant does
    without: a program's holdout earns no cashback from the program at all, a campaign's
    holdout does not get that campaign."""

    id: RuleId
    """Stable while the experiment runs: a new id reshuffles the customers."""
    variants: tuple[Variant, ...] = Field(min_length=2, max_length=10)
    holdout: StoreId
    """The name of the variant that does without (the control the others are measured
    against)."""

    @model_validator(mode="after")
    def _consistent(self) -> Experiment:
        problems: list[Problem] = []
        total = sum((variant.share for variant in self.variants), Decimal(0))
        if total != 1:
            problems.append((("variants",), f"the shares add up to {total}, not 1", str(total)))
        names: set[str] = set()
        for i, variant in enumerate(self.variants):
            if variant.name in names:
                problems.append(
                    (
                        ("variants", i, "name"),
                        f"variant {variant.name!r} appears twice",
                        variant.name,
                    )
                )
            names.add(variant.name)
            if variant.name == self.holdout and variant.extra_rate:
                problems.append(
                    (
                        ("variants", i, "extra_rate"),
                        "the holdout earns nothing extra: it has no extra_rate",
                        str(variant.extra_rate),
                    )
                )
        if self.holdout not in names:
            problems.append((("holdout",), f"no variant is named {self.holdout!r}", self.holdout))
        fail("Experiment", problems)
        return self


def bucket(tenant: str, experiment_id: str, customer_id: str) -> int:
    """The customer's bucket in [0, BUCKETS) for this experiment (see the module's doc)."""
    key = json.dumps([tenant, experiment_id, customer_id], separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(key.encode()).digest(), "big") % BUCKETS


def variant_at(experiment: Experiment, at: int) -> Variant:
    """The variant owning bucket `at`: variants own consecutive ranges in listed order."""
    end = 0
    for variant in experiment.variants:
        end += int(variant.share * BUCKETS)
        if at < end:
            return variant
    return experiment.variants[-1]  # unreachable: the shares cover every bucket


def assign(experiment: Experiment, tenant: str, customer_id: str) -> Variant:
    """The customer's variant: the same one for as long as the id and shares stay."""
    return variant_at(experiment, bucket(tenant, experiment.id, customer_id))


class Assignment(NamedTuple):
    """A purchase's variant in one experiment, as its breakdown records it. `campaign`
    names the campaign whose experiment it is (None: the program's)."""

    id: str
    variant: str
    holdout: bool
    campaign: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "variant": self.variant,
            "holdout": self.holdout,
            "campaign": self.campaign,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Assignment:
        return cls(data["id"], data["variant"], data["holdout"], data.get("campaign"))
