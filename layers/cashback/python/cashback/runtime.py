"""What a warm Lambda container keeps between invocations: the store and tenant settings."""

from __future__ import annotations

import threading
import time
from functools import lru_cache

from cashback.config import settings
from cashback.errors import Forbidden
from cashback.notifications import EventPublisher
from cashback.store import Store
from cashback.tenants import TenantSettings


@lru_cache(maxsize=1)
def store() -> Store:
    return Store(settings().table_name)


@lru_cache(maxsize=1)
def publisher() -> EventPublisher:
    bus = settings().event_bus_name
    if not bus:
        raise RuntimeError("EVENT_BUS_NAME is not set for this function")
    return EventPublisher(bus)


_cache: dict[str, tuple[float, TenantSettings]] = {}
_lock = threading.Lock()


def tenant_settings(tenant: str) -> TenantSettings:
    """A tenant's settings, cached for a short while so a purchase does not read them."""
    ttl = settings().settings_cache_seconds
    with _lock:
        cached = _cache.get(tenant)
    if cached and time.monotonic() - cached[0] < ttl:
        return cached[1]
    found = store().get_tenant(tenant)
    if found is None:
        raise Forbidden(f"tenant {tenant} is not configured", code="tenant_not_configured")
    with _lock:
        _cache[tenant] = (time.monotonic(), found)
    return found
