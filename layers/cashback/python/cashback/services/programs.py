"""Cashback programs: publishing rule-set versions and finding the one in force.

A version is immutable once published and kept forever, with who published it and when.
It applies from max(effective_from, published_at) (see rules.versions), so publishing
never rewrites what past purchases earned. Campaign budgets get their shards when a
campaign first appears; a later version that changes a campaign's budget resizes them by
the difference (what was already spent stays spent: a budget cut below it leaves the
campaign with nothing left).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cashback.domain.changes import BUDGET_ITEMS
from cashback.domain.clock import to_iso
from cashback.domain.errors import NotFound, Unprocessable
from cashback.domain.rules import budget, limits
from cashback.domain.rules.ruleset import RuleSet
from cashback.domain.rules.versions import VersionRecord, in_force, next_version
from cashback.services.ports import ProgramStore

BUDGET_SHARDS = 16
# The longest tiers window a program may set, plus slack: older spend is forgotten.
SPEND_DAYS_KEPT = 400


def check(rules: RuleSet) -> None:
    """Refuse what the platform cannot run (rules.limits): a 422 with the first problem's
    code and every problem by field; nothing is published."""
    found = limits.problems(rules, budget_items=BUDGET_ITEMS)
    if found:
        raise Unprocessable(
            "; ".join(f"{p.field}: {p.message}" for p in found),
            code=found[0].code,
            details=[{"field": p.field, "problem": p.message, "code": p.code} for p in found],
        )


def publish(
    store: ProgramStore,
    tenant: str,
    currency: str,
    rules: RuleSet,
    published_by: str,
    now: datetime,
) -> dict[str, Any]:
    """Validate against the storefront and publish the next version number."""
    if rules.currency != currency:
        raise Unprocessable(
            f"this storefront runs in {currency}, not {rules.currency}",
            code="currency_mismatch",
            details=[{"field": "currency"}],
        )
    check(rules)
    record = {
        "rules": rules.model_dump(mode="json"),
        "effective_from": to_iso(rules.effective_from),
        "published_at": to_iso(now),
        "published_by": published_by,
    }
    # A retry of a publish that failed after its version was written (a timeout, a lost
    # reply) must not publish the same program again: the latest version, if it is this
    # very program, is the answer.
    versions = store.rule_versions(tenant)
    if versions:
        latest = store.rule_version(tenant, max(r["version"] for r in versions))
        if latest is not None and (latest["rules"], latest["effective_from"]) == (
            record["rules"],
            record["effective_from"],
        ):
            return _published(latest)
    # Budgets first, the version last: a failure in between leaves no version behind, and
    # the retry converges on the same budgets (opening is conditional, resizing computes
    # the difference afresh).
    for campaign in rules.campaigns:
        if campaign.budget is not None and not store.open_budget(
            tenant, campaign.id, budget.split(campaign.budget, BUDGET_SHARDS)
        ):
            resize_budget(store, tenant, campaign.id, campaign.budget)
    while True:  # two publishers at once: one takes the number, the other the next one
        version = next_version(r["version"] for r in versions)
        if store.put_rule_version(tenant, version, record):
            break
        versions = store.rule_versions(tenant)
    return _published({"version": version, **record})


def _published(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item[k] for k in ("version", "effective_from", "published_at", "published_by")}


def resize_budget(store: ProgramStore, tenant: str, campaign: str, total: int) -> None:
    """Bring a campaign's shards to a new total allowance. Each step is a conditional
    update of one shard, and the difference is computed afresh from the shards each time,
    so a publish that is retried, or races purchases, converges on the same budget."""
    for _ in range(100):
        shards = store.budget_shards(tenant, campaign)
        difference = total - sum(shard["allowance"] for shard in shards)
        if difference > 0:
            changes = list(zip(shards, budget.split(difference, len(shards)), strict=True))
        else:
            changes, owed = [], -difference
            for shard in shards:  # take back only what is still there
                take = min(owed, shard["remaining"])
                owed -= take
                changes.append((shard, -take))
        changes = [(shard, delta) for shard, delta in changes if delta]
        if not changes:
            return
        for shard, delta in changes:
            store.resize_budget_shard(tenant, campaign, shard["shard"], delta, shard["remaining"])
    raise RuntimeError(f"campaign {campaign}'s budget kept changing; publish again")


def records(store: ProgramStore, tenant: str) -> list[VersionRecord]:
    return [
        VersionRecord(
            item["version"], _moment(item["effective_from"]), _moment(item["published_at"])
        )
        for item in store.rule_versions(tenant)
    ]


def load(store: ProgramStore, tenant: str, version: int) -> RuleSet:
    item = store.rule_version(tenant, version)
    if item is None:
        raise NotFound(f"no rules version {version}", code="rules_version_not_found")
    return RuleSet.model_validate(item["rules"])


def version_reply(store: ProgramStore, tenant: str, version: int) -> dict[str, Any]:
    item = store.rule_version(tenant, version)
    if item is None:
        raise NotFound(f"no rules version {version}", code="rules_version_not_found")
    return {
        k: item[k] for k in ("version", "effective_from", "published_at", "published_by", "rules")
    }


def in_force_reply(store: ProgramStore, tenant: str, now: datetime) -> dict[str, Any]:
    """The version in force at `now` (its rules too) and every version published."""
    current = in_force(records(store, tenant), now)
    return {
        "in_force": version_reply(store, tenant, current.version) if current else None,
        "versions": sorted(store.rule_versions(tenant), key=lambda r: r["version"]),
    }


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
