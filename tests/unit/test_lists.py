"""Risk-list entries: an expiry lies in the future, an entry applies until it expires or
is removed, a purchase is screened against its customer, device and payment entries, and
settings stored while the lists lived in them still load (or say why not)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from cashback.domain.errors import Unprocessable
from cashback.domain.lists import (
    ListEntry,
    new_entry,
    purchase_subjects,
    removal,
    risk_lists,
)
from cashback.domain.tenants import TenantSettings

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_a_new_entry_is_stamped_with_who_and_when() -> None:
    entry = new_entry("t1", "deny_device", "dev-1", "stolen", "cbk_a", NOW, NOW + timedelta(days=1))
    assert entry == ListEntry(
        tenant="t1",
        kind="deny_device",
        value="dev-1",
        reason="stolen",
        by="cbk_a",
        at="2026-11-30T12:00:00Z",
        expires_at="2026-12-01T12:00:00Z",
    )


@pytest.mark.parametrize("expires_at", [NOW, NOW - timedelta(seconds=1)])
def test_an_expiry_must_be_in_the_future(expires_at: datetime) -> None:
    with pytest.raises(Unprocessable) as refused:
        new_entry("t1", "deny_device", "dev-1", "stolen", "cbk_a", NOW, expires_at)
    assert refused.value.code == "expiry_in_past"


def test_an_entry_applies_until_it_expires_or_is_removed() -> None:
    entry = new_entry("t1", "watch_customer", "ana", "r", "cbk_a", NOW, NOW + timedelta(hours=1))
    assert entry.live(NOW + timedelta(minutes=59))
    assert not entry.live(NOW + timedelta(hours=1))
    removed, change = removal(entry, "cbk_b", NOW + timedelta(minutes=5))
    assert not removed.live(NOW + timedelta(minutes=6))
    assert (change.action, change.by, change.at, change.entry) == (
        "delete",
        "cbk_b",
        "2026-11-30T12:05:00Z",
        entry,
    )


def test_a_purchase_is_screened_against_its_customer_device_and_payment() -> None:
    assert purchase_subjects("ana", "dev-1", "card-1") == (
        ("allow_customer", "ana"),
        ("deny_customer", "ana"),
        ("watch_customer", "ana"),
        ("deny_device", "dev-1"),
        ("deny_payment", "card-1"),
    )
    assert [kind for kind, _ in purchase_subjects("ana", None, None)] == [
        "allow_customer",
        "deny_customer",
        "watch_customer",
    ]


def test_only_live_entries_reach_the_decision() -> None:
    live = new_entry("t1", "deny_payment", "card-1", "r", "cbk_a", NOW)
    expired = new_entry("t1", "watch_customer", "ana", "r", "cbk_a", NOW, NOW + timedelta(hours=1))
    removed, _ = removal(new_entry("t1", "allow_customer", "ana", "r", "cbk_a", NOW), "cbk_a", NOW)
    lists = risk_lists([live, expired, removed], NOW + timedelta(hours=2))
    assert lists.deny_payments == frozenset({"card-1"})
    assert not (lists.watch_customers or lists.allow_customers)


def test_settings_stored_with_the_old_empty_lists_still_load() -> None:
    empty = {"customers": [], "devices": [], "payments": []}
    stored = {"currency": "BRL", "allow": empty, "deny": empty}
    assert TenantSettings.model_validate(stored) == TenantSettings(currency="BRL")


def test_settings_with_old_list_entries_are_refused_rather_than_lost() -> None:
    stored = {"currency": "BRL", "deny": {"customers": ["ana"], "devices": [], "payments": []}}
    with pytest.raises(ValidationError, match="move them to /v1/lists"):
        TenantSettings.model_validate(stored)
