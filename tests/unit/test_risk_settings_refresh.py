"""When purchases refresh the stored thresholds: once when there are none, then not again
for a day, whoever asks; a PUT of other shares meanwhile wins."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from cashback.domain.clock import to_iso
from cashback.domain.orders import Order
from cashback.domain.risk import stats
from cashback.domain.tenants import RiskThresholds, TenantSettings
from cashback.services import risk_settings

METADATA = {
    "model_version": "m1",
    "thresholds": {"review": 0.6, "block": 0.7},
    "feature_quantiles": {},
}
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class FakeStore:
    """The RiskStatsStore port in memory, with the adapter's conditions."""

    def __init__(self) -> None:
        self.settings = TenantSettings(currency="BRL")
        self.thresholds_at: str | None = None
        self.items: dict[str, dict[str, Any]] = {}
        self.reads = 0

    def get_tenant(self, tenant: str) -> TenantSettings | None:
        return self.settings

    def add_risk_stats(
        self, tenant: str, day: str, shard: int, model: str, counts: Mapping[str, int]
    ) -> None:
        item = self.items.setdefault(f"{day}#{shard:02d}#{model}", {"model": model})
        for name, value in counts.items():
            item[name] = item.get(name, 0) + value

    def risk_stats(self, tenant: str, first_day: str, last_day: str) -> list[dict[str, Any]]:
        self.reads += 1
        return [item for sk, item in self.items.items() if first_day <= sk[:10] <= last_day]

    def claim_thresholds(self, tenant: str, now: str, stale_before: str) -> bool:
        if self.thresholds_at is not None and self.thresholds_at >= stale_before:
            return False
        self.thresholds_at = now
        return True

    def set_thresholds(
        self, tenant: str, thresholds: RiskThresholds, review_share: str, block_share: str
    ) -> bool:
        if (str(self.settings.review_share), str(self.settings.block_share)) != (
            review_share,
            block_share,
        ):
            return False
        self.settings = self.settings.model_copy(update={"thresholds": thresholds})
        return True

    def put_risk_settings(
        self, tenant: str, mode: str, review_share: str, block_share: str, thresholds: Any
    ) -> None:
        raise AssertionError("not used here")


def _order(i: int, at: datetime) -> Order:
    return Order(
        tenant="t",
        order_id=f"o{i}",
        customer_id=f"c{i}",
        amount=10000,
        currency="BRL",
        cashback=500,
        refunded=0,
        lot_sk=None,
        occurred_at=to_iso(at),
        request_hash="h",
        reply="{}",
        status_code=201,
        risk={"score": f"{0.3 + (i % 400) / 1000:.6f}", "rules_fired": [], "model_version": "m1"},
    )


def test_purchases_refresh_thresholds_once_a_day() -> None:
    store = FakeStore()
    for i in range(stats.MIN_PURCHASES + 100):
        at = T0 + timedelta(seconds=i)
        risk_settings.after_purchase(store, "t", store.settings, _order(i, at), at, METADATA)
    first = store.settings.thresholds
    assert first is not None and first.source == "model" and first.purchases == 1
    assert store.reads == 1  # the first purchase took the turn; the rest found them fresh
    later = T0 + timedelta(hours=25)
    risk_settings.after_purchase(store, "t", store.settings, _order(9999, later), later, METADATA)
    second = store.settings.thresholds
    assert second is not None and second.source == "storefront"
    assert second.purchases == stats.MIN_PURCHASES + 101 and store.reads == 2


def test_a_refresh_at_old_shares_does_not_overwrite_new_ones() -> None:
    store = FakeStore()
    cached = store.settings
    store.settings = store.settings.model_copy(update={"review_share": cached.review_share * 2})
    assert risk_settings.refresh(store, "t", cached, METADATA, T0) is not None
    assert store.settings.thresholds is None  # computed at the old shares: not stored


def test_unscreened_purchases_are_not_counted() -> None:
    store = FakeStore()
    unscreened = replace(_order(1, T0), risk=None)
    risk_settings.after_purchase(store, "t", store.settings, unscreened, T0, METADATA)
    assert store.items == {} and store.thresholds_at is None
