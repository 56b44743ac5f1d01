"""API Gateway's usage plan throttling, locally: a token bucket per API key.

Each key on a plan starts with `burst` tokens; a request takes one; tokens come back at
`rate` per second up to `burst`. A request finding no token is throttled (429), whatever
the other keys' buckets hold: one tenant's burst never takes another tenant's requests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cashback_tools.local.template import UsagePlan

Clock = Callable[[], float]


@dataclass
class _Bucket:
    tokens: float
    updated: float


class Throttle:
    def __init__(self, plan: UsagePlan, clock: Clock = time.monotonic) -> None:
        if plan.rate <= 0 or plan.burst < 1:
            raise ValueError(f"{plan.name}: rate and burst must be positive")
        self.plan = plan
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float | None:
        """Take a token for `key`: None when there was one, else the seconds until the
        next token (for Retry-After)."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(float(self.plan.burst), now)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.plan.burst), bucket.tokens + elapsed * self.plan.rate)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return None
            return (1 - bucket.tokens) / self.plan.rate
