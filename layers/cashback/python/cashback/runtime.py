"""The composition root: what a warm Lambda container builds once and keeps between
invocations (the store, the publisher, the scorer, cached tenant settings and rules), and
hands to the services as the ports they need."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from cashback.adapters.dynamodb.payouts import DynamoSandboxStore
from cashback.adapters.dynamodb.store import Store
from cashback.adapters.eventbridge import EventPublisher
from cashback.adapters.providers.sandbox import SandboxProvider
from cashback.config import settings
from cashback.domain import risk
from cashback.domain.caching import TtlCache
from cashback.domain.errors import Forbidden
from cashback.domain.payouts.provider import PayoutProvider
from cashback.domain.rules.ruleset import RuleSet, zone
from cashback.domain.rules.versions import RuleBook
from cashback.domain.tenants import TenantSettings
from cashback.observability import logger
from cashback.services import programs

if TYPE_CHECKING:
    # numpy: only the accrual function has it (ModelLayer); loaded by runtime.scorer().
    from cashback.domain.risk.scorer import Scorer


@lru_cache(maxsize=1)
def store() -> Store:
    return Store(settings().table_name)


@lru_cache(maxsize=1)
def publisher() -> EventPublisher:
    bus = settings().event_bus_name
    if not bus:
        raise RuntimeError("EVENT_BUS_NAME is not set for this function")
    return EventPublisher(bus)


@lru_cache(maxsize=1)
def rulebook() -> RuleBook[RuleSet]:
    """Rule-set versions, the index cached briefly per container, bodies for good."""
    return RuleBook(
        lambda tenant: programs.records(store(), tenant),
        lambda tenant, version: programs.load(store(), tenant, version),
        ttl_seconds=settings().settings_cache_seconds / 2,
    )


def program_at(tenant: str, at: datetime) -> tuple[int, RuleSet] | None:
    """The storefront's rule-set version in force at `at`, if it has published one."""
    return rulebook().at(tenant, at)


@lru_cache(maxsize=1)
def scorer() -> Scorer | None:
    """The refund-abuse model from its layer, loaded once per container. Without the layer,
    purchases are screened by the lists and readable rules alone (and the log says so)."""
    try:
        return risk.load_scorer()
    except risk.ModelNotFound as missing:
        logger.warning(
            "no refund-abuse model: screening with lists and rules only",
            extra={"reason": str(missing)},
        )
        return None


@lru_cache(maxsize=1)
def tenant_cache() -> TtlCache[str, TenantSettings]:
    return TtlCache(settings().settings_cache_seconds)


def tenant_settings(tenant: str) -> TenantSettings:
    """A tenant's settings, cached for a short while so a purchase does not read them."""
    return tenant_cache().get(tenant, lambda: _tenant(tenant))


def _tenant(tenant: str) -> TenantSettings:
    found = store().get_tenant(tenant)
    if found is None:
        raise Forbidden(f"tenant {tenant} is not configured", code="tenant_not_configured")
    return found


def payout_rules(tenant: str, at: datetime) -> tuple[TenantSettings, ZoneInfo]:
    """The storefront's settings for payouts (the program's payout minimum, when it sets
    one, over the storefront's) and the time zone its days and months are counted in."""
    found, program = tenant_settings(tenant), program_at(tenant, at)
    if program is None:
        return found, ZoneInfo("UTC")
    rules = program[1]
    minimum = rules.lifecycle.payout_minimum
    if minimum:
        payouts = found.payouts.model_copy(update={"minimum": minimum})
        found = found.model_copy(update={"payouts": payouts})
    return found, zone(rules.time_zone)


@lru_cache(maxsize=1)
def payout_provider() -> PayoutProvider:
    """The provider payouts are submitted to (only the sandbox ships today)."""
    config = settings()
    if config.payout_provider != "sandbox" or not config.payout_callback_secret:
        raise RuntimeError("PAYOUT_PROVIDER=sandbox and PAYOUT_CALLBACK_SECRET are needed")
    return SandboxProvider(
        config.payout_callback_secret, lambda: datetime.now(UTC), DynamoSandboxStore(store())
    )
