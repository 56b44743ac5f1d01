"""What the engine prepares once per rule set and once per order, so a line costs a few
dictionary look-ups and one multiplication per rule applied to it.

A line's *rate plan* (which rules apply, at which rates, in which order) depends only on
its category, whether it is eco, and which SKU-targeted campaigns name its SKU, given the
order's running campaigns and extra rates; so plans are kept per rule set for each such
order situation (a handful: tier x channel x bonuses x campaigns running) and reused
across orders of a warm container. The stacking rules themselves are in `_make`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import NamedTuple
from zoneinfo import ZoneInfo

from cashback.domain import currencies
from cashback.domain.rules.evaluation import RuleKind
from cashback.domain.rules.ruleset import Campaign, RuleSet, zone

Head = tuple[RuleKind, str, str, Decimal]  # an Applied without its value


class CampaignRule(NamedTuple):
    """A campaign ready for matching: its window as UTC instants, its targets as sets."""

    campaign: Campaign
    start: datetime
    end: datetime
    channels: frozenset[str]
    categories: frozenset[str]
    skus: frozenset[str]
    everything: bool
    head: Head


@dataclass(frozen=True)
class Compiled:
    rules: RuleSet
    tz: ZoneInfo
    factor: Decimal  # ledger units per minor unit
    campaigns: tuple[CampaignRule, ...]  # stacking order: priority, then id
    by_sku: dict[str, tuple[str, ...]]  # SKU -> campaigns naming it, in stacking order
    excluded: frozenset[str]  # categories that never earn
    planners: dict[tuple[tuple[Head, ...], tuple[Head, ...]], OrderPlanner] = field(
        default_factory=dict
    )

    def planner(self, active: list[CampaignRule], extras: list[Head]) -> OrderPlanner:
        """The planner for an order situation, shared by every order in it."""
        key = (tuple(c.head for c in active), tuple(extras))  # heads: a variant's rate
        found = self.planners.get(key)
        if found is None:
            if len(self.planners) >= MAX_PLANNERS:
                self.planners.clear()
            found = self.planners[key] = OrderPlanner(self, active, extras)
        return found


class RatePlan(NamedTuple):
    heads: tuple[Head, ...]
    rate: Decimal  # their sum
    campaigns: tuple[str, ...]  # ids of the campaigns among them


_KINDS: dict[str, RuleKind] = {
    "add": "campaign_add",
    "replace": "campaign_replace",
    "exclusive": "campaign_exclusive",
}
_cache: dict[int, Compiled] = {}
MAX_RULE_SETS = 128  # compiled rule sets per container (tenants x versions in use)
MAX_PLANNERS = 256
MAX_PLANS = 4096  # per planner: distinct (category, eco, SKU campaigns) seen


FIRST_INSTANT = datetime.min.replace(tzinfo=UTC)
LAST_INSTANT = datetime.max.replace(tzinfo=UTC)


def instant(local: datetime, tz: ZoneInfo) -> datetime:
    """A local wall-clock time as a UTC instant. Publishing keeps campaign bounds within
    the years 2000-2099 (rules.limits), but a version stored before that limit may hold
    9999-12-31, past datetime.max in UTC: such a bound is clamped to the first or last
    representable instant ("forever"), so no purchase fails on it."""
    try:
        return local.replace(tzinfo=tz).astimezone(UTC)
    except (OverflowError, ValueError):
        return LAST_INSTANT if local.year > 1 else FIRST_INSTANT


def compiled(rules: RuleSet) -> Compiled:
    """Once per rule set, cached by identity (a rule set is immutable, and the cache keeps
    it alive, so its id cannot be reused while cached)."""
    hit = _cache.get(id(rules))
    if hit is not None and hit.rules is rules:
        return hit
    tz = zone(rules.time_zone)
    factor = Decimal(1)
    if rules.points is not None:
        factor = rules.points.points_per_currency_unit.scaleb(
            -currencies.MINOR_UNITS[rules.currency]
        )
    campaigns = tuple(
        CampaignRule(
            c,
            instant(c.starts_at, tz),
            instant(c.ends_at, tz),
            frozenset(c.channels),
            frozenset(c.categories),
            frozenset(c.skus),
            not (c.categories or c.skus),
            (_KINDS[c.stacking], c.id, c.name, c.rate),
        )
        for c in sorted(rules.campaigns, key=lambda c: c.rank)
    )
    by_sku: dict[str, tuple[str, ...]] = {}
    for c in campaigns:
        for sku in c.skus:
            by_sku[sku] = (*by_sku.get(sku, ()), c.campaign.id)
    if len(_cache) >= MAX_RULE_SETS:
        _cache.clear()
    result = _cache[id(rules)] = Compiled(
        rules, tz, factor, campaigns, by_sku, frozenset(rules.excluded_categories)
    )
    return result


class OrderPlanner:
    """Rate plans for the lines of one order, given the campaigns running for it (in
    stacking order) and the extra rates every line gets (tier, channel, bonuses; the
    favourite category's only on lines of that category)."""

    def __init__(self, compiled: Compiled, active: list[CampaignRule], extras: list[Head]) -> None:
        self._rules = compiled.rules
        self._active = active
        self._rank = {c.campaign.id: i for i, c in enumerate(active)}
        self._sku_index = compiled.by_sku
        self._extras = tuple(extras)
        green = self._rules.green
        self._green: Head | None = (
            ("green", "green", "Eco bonus", green.extra_rate)
            if green and green.extra_rate
            else None
        )
        self._by_category: dict[str, list[CampaignRule]] = {}
        self._plans: dict[tuple[str, bool, tuple[str, ...]], RatePlan] = {}

    def plan(self, category: str, sku: str, eco: bool) -> RatePlan:
        hits = self._sku_index.get(sku, ())
        if hits:
            hits = tuple(id for id in hits if id in self._rank)
        key = (category, eco, hits)
        found = self._plans.get(key)
        if found is None:
            if len(self._plans) >= MAX_PLANS:
                self._plans.clear()
            found = self._plans[key] = self._make(category, eco, hits)
        return found

    def _targeting(self, category: str, hits: tuple[str, ...]) -> list[CampaignRule]:
        by_category = self._by_category.get(category)
        if by_category is None:
            by_category = self._by_category[category] = [
                c for c in self._active if c.everything or category in c.categories
            ]
        if not hits:
            return by_category
        ids = {c.campaign.id for c in by_category} | set(hits)
        return [self._active[i] for i in sorted(self._rank[id] for id in ids)]

    def _make(self, category: str, eco: bool, hits: tuple[str, ...]) -> RatePlan:
        targeting = self._targeting(category, hits)
        exclusive = next((c for c in targeting if c.head[0] == "campaign_exclusive"), None)
        if exclusive is not None:
            return RatePlan((exclusive.head,), exclusive.head[3], (exclusive.campaign.id,))
        heads: list[Head] = []
        campaigns: list[str] = []
        replace = next((c for c in targeting if c.head[0] == "campaign_replace"), None)
        category_rate = self._rules.category_rates.get(category)
        if replace is not None:
            heads.append(replace.head)
            campaigns.append(replace.campaign.id)
        elif category_rate is not None:
            heads += [("category", category, category, category_rate)] if category_rate else []
        elif self._rules.base_rate:
            heads.append(("base", "base", "Base rate", self._rules.base_rate))
        heads += [h for h in self._extras if h[0] != "favourite_category" or h[1] == category]
        if eco and self._green is not None:
            heads.append(self._green)
        for c in targeting:
            if c.head[0] == "campaign_add" and c.head[3]:
                heads.append(c.head)
                campaigns.append(c.campaign.id)
        return RatePlan(
            tuple(heads), sum((head[3] for head in heads), Decimal(0)), tuple(campaigns)
        )
