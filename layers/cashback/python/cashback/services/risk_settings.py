"""A storefront's risk settings (mode, review and block shares) and the thresholds, backtests
and feature percentiles that follow from what its purchases recorded in the last 30 days.

Purchases fold their counts into the day's histogram after their transaction commits
(`after_purchase`). Thresholds are computed from the 30-day histogram on PUT and then at
most once a day (the first purchase, or settings read, that finds them a day old takes
the turn), and stored on the settings item: a purchase reads them with its settings
(cached SETTINGS_CACHE_SECONDS per container), never the histogram.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from cashback.domain.clock import to_iso
from cashback.domain.errors import Forbidden
from cashback.domain.orders import Order
from cashback.domain.risk import stats
from cashback.domain.risk.decision import NO_MODEL
from cashback.domain.risk.policy import Thresholds
from cashback.domain.tenants import RiskThresholds, TenantSettings
from cashback.services.ports import RiskStatsStore

# Thresholds older than this are recomputed by the next purchase or settings read.
REFRESH = timedelta(hours=24)
# Thresholds computed for another model are recomputed sooner (purchases scored by the
# new model use its own thresholds meanwhile); one claim an hour bounds the reads.
REFRESH_NEW_MODEL = timedelta(hours=1)


@dataclass(frozen=True)
class RiskSettings:
    mode: str
    review_share: Decimal
    block_share: Decimal
    thresholds: RiskThresholds
    model_version: str


def model_version(metadata: Mapping[str, Any] | None) -> str:
    return str(metadata["model_version"]) if metadata else NO_MODEL


def _model_thresholds(metadata: Mapping[str, Any] | None) -> Thresholds | None:
    return Thresholds.from_metadata(metadata) if metadata else None


def _quantiles(metadata: Mapping[str, Any] | None) -> Mapping[str, Sequence[float]]:
    return (metadata or {}).get("feature_quantiles", {})


def histogram(store: RiskStatsStore, tenant: str, version: str, now: datetime) -> stats.Histogram:
    """What the storefront's purchases scored by model `version` recorded in the window."""
    first, last = stats.window(now)
    items = store.risk_stats(tenant, first, last)
    return stats.Histogram.of(item for item in items if item.get("model") == version)


def _tenant(store: RiskStatsStore, tenant: str) -> TenantSettings:
    found = store.get_tenant(tenant)
    if found is None:
        raise Forbidden(f"tenant {tenant} is not configured", code="tenant_not_configured")
    return found


def compute(
    store: RiskStatsStore,
    tenant: str,
    shares: tuple[Decimal, Decimal],
    metadata: Mapping[str, Any] | None,
    now: datetime,
) -> tuple[RiskThresholds, stats.Histogram]:
    """The thresholds at (review share, block share) from the window's histogram."""
    version = model_version(metadata)
    found = histogram(store, tenant, version, now)
    limits = stats.thresholds_at(
        found, shares[0], shares[1], _model_thresholds(metadata), version, to_iso(now)
    )
    return limits, found


def _stale(stored: RiskThresholds | None, version: str, now: datetime) -> datetime | None:
    """Before when thresholds count as stale (None: the stored ones are fresh)."""
    if stored is None or stored.model_version != version:
        return now - REFRESH_NEW_MODEL
    return now - REFRESH if stored.computed_at < to_iso(now - REFRESH) else None


def refresh(
    store: RiskStatsStore,
    tenant: str,
    settings: TenantSettings,
    metadata: Mapping[str, Any] | None,
    now: datetime,
) -> RiskThresholds | None:
    """Recompute and store the thresholds when they are stale and this caller wins the
    turn; the new ones, or None when nothing was done."""
    stale_before = _stale(settings.thresholds, model_version(metadata), now)
    if metadata is None or stale_before is None:
        return None
    if not store.claim_thresholds(tenant, to_iso(now), to_iso(stale_before)):
        return None
    shares = (settings.review_share, settings.block_share)
    limits, _ = compute(store, tenant, shares, metadata, now)
    store.set_thresholds(tenant, limits, str(shares[0]), str(shares[1]))
    return limits


def current(
    store: RiskStatsStore, tenant: str, metadata: Mapping[str, Any] | None, now: datetime
) -> RiskSettings:
    """The settings and the thresholds purchases use (refreshed first when stale)."""
    settings = _tenant(store, tenant)
    version = model_version(metadata)
    limits = refresh(store, tenant, settings, metadata, now) or settings.thresholds
    if limits is None or limits.model_version != version:
        shares = (settings.review_share, settings.block_share)
        limits, _ = compute(store, tenant, shares, metadata, now)
    return RiskSettings(
        settings.risk_mode, settings.review_share, settings.block_share, limits, version
    )


def backtest(
    store: RiskStatsStore,
    tenant: str,
    proposal: tuple[stats.Mode, Decimal, Decimal],
    metadata: Mapping[str, Any] | None,
    now: datetime,
) -> tuple[RiskThresholds, stats.Backtest]:
    """What the window's purchases would have got under (mode, review share, block
    share): the thresholds those shares give, and the held / blocked / allowed."""
    mode, review_share, block_share = proposal
    limits, found = compute(store, tenant, (review_share, block_share), metadata, now)
    applied = Thresholds(review=float(limits.review), block=float(limits.block))
    return limits, stats.backtest(found, applied, mode)


def update(
    store: RiskStatsStore,
    tenant: str,
    proposal: tuple[stats.Mode, Decimal, Decimal],
    metadata: Mapping[str, Any] | None,
    now: datetime,
) -> tuple[RiskSettings, stats.Backtest | None]:
    """Store the mode and shares with the thresholds they give; the backtest too when the
    mode becomes enforce."""
    before = _tenant(store, tenant)
    mode, review_share, block_share = proposal
    limits, result = backtest(store, tenant, proposal, metadata, now)
    store.put_risk_settings(tenant, mode, str(review_share), str(block_share), limits)
    after = RiskSettings(mode, review_share, block_share, limits, model_version(metadata))
    switched = mode == "enforce" and before.risk_mode != "enforce"
    return after, result if switched else None


def after_purchase(
    store: RiskStatsStore,
    tenant: str,
    settings: TenantSettings,
    order: Order,
    now: datetime,
    metadata: Mapping[str, Any] | None,
) -> None:
    """Fold a screened purchase into its day's histogram, once its transaction committed;
    then refresh the thresholds if they are stale.

    One UpdateItem after the commit, not inside the transaction: a histogram item shared
    by concurrent purchases would make their transactions cancel each other. Only the
    call that committed gets here (a replay returns the stored reply first), so a retried
    purchase never counts twice; a crash between the commit and this update loses that
    one purchase's counts in a statistic, never any money."""
    if order.risk is None:  # risk_mode off: not screened
        return
    counts = stats.fold(order.risk, order.cashback, _quantiles(metadata))
    digest = hashlib.sha256(order.order_id.encode()).hexdigest()
    shard = int(digest[:8], 16) % stats.SHARDS
    version = str(order.risk.get("model_version") or NO_MODEL)
    store.add_risk_stats(tenant, order.occurred_at[:10], shard, version, counts)
    refresh(store, tenant, settings, metadata, now)


def percentiles(
    store: RiskStatsStore,
    tenant: str,
    features_row: Sequence[float | str],
    now: datetime,
    metadata: Mapping[str, Any] | None,
) -> list[tuple[str, float, float | None]]:
    """Each feature of a purchase (FEATURE_NAMES order, as its risk record keeps them)
    with its percentile 0..100 among the storefront's purchases of the last 30 days
    scored by the same model (None when fewer than stats.MIN_PURCHASES)."""
    row = [float(value) for value in features_row]
    found = histogram(store, tenant, model_version(metadata), now)
    return stats.feature_percentiles(found, _quantiles(metadata), row)
