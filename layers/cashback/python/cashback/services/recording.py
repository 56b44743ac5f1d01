"""What purchases and refunds share: each is recorded exactly once (a retry gets the first
reply again), races with other writers are retried with jitter, and occurred_at must fall
within the window the storefront or its program allows."""

from __future__ import annotations

import json
import random
import time
from datetime import datetime, timedelta

from cashback.domain.clock import to_iso
from cashback.domain.errors import Conflict, Unprocessable
from cashback.domain.orders import Reply
from cashback.domain.tenants import TenantSettings

MAX_ATTEMPTS = 10


def replay(
    stored_hash: str, stored_reply: str, status_code: int, fingerprint: str, id_name: str
) -> Reply:
    if stored_hash != fingerprint:
        raise Conflict(f"this {id_name} was already used with a different request body")
    return Reply(status_code, json.loads(stored_reply), replayed=True)


def backoff(attempt: int) -> None:
    # Full jitter: concurrent writers on one account spread out instead of colliding again.
    time.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))


def check_occurred_at(
    occurred_at: datetime, now: datetime, settings: TenantSettings, backdate_days: int | None = None
) -> None:
    """occurred_at may be a little ahead (clock skew) and back as far as the back-dating
    window: the program's when it sets one (`backdate_days`), else the storefront's."""
    backdate = settings.backdate_days if backdate_days is None else backdate_days
    if occurred_at > now + timedelta(seconds=settings.future_skew_seconds):
        raise Unprocessable(
            f"occurred_at {to_iso(occurred_at)} is in the future", code="occurred_at_in_future"
        )
    if occurred_at < now - timedelta(days=backdate):
        raise Unprocessable(
            f"occurred_at {to_iso(occurred_at)} is more than {backdate} days in the past",
            code="occurred_at_too_old",
        )
