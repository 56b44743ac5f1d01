"""The payout job and the provider's word: submit requested payouts in batches (each marked
submitted before the provider is called, so nobody cancels what it may be paying; the
payout's key is the provider's idempotency key, so a resubmission never pays twice), poll
those whose callback is late, and apply what a signed callback or a poll reports.

Statuses arrive late, twice or out of order; the status machine makes a repeat harmless,
and a `returned` for a payout still `submitted` (its `paid` was missed) applies `paid`
first. Whatever the provider does, the ledger stays exact."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from cashback.domain.changes import AccountMoved, AlreadyRecorded, PayoutChange
from cashback.domain.clock import to_iso
from cashback.domain.errors import Conflict
from cashback.domain.payouts.destinations import parse_payout_method
from cashback.domain.payouts.provider import (
    PayoutOrder,
    PayoutProvider,
    ProviderEvent,
    ProviderStatus,
    ProviderTimeout,
    batches,
    from_provider_key,
    provider_key,
)
from cashback.domain.payouts.records import Payout
from cashback.domain.tenants import TenantSettings
from cashback.observability import logger
from cashback.services.payouts import Publish, found, move
from cashback.services.ports import PayoutStore

# A submitted payout whose callback has not come is polled this long after (and again).
POLL_AFTER = timedelta(minutes=5)
# An event still in the outbox this long after its commit is published again.
REPUBLISH_AFTER = timedelta(minutes=1)
# The most payouts of each kind (to submit, to poll) one run takes; the next run goes on.
RUN_LIMIT = 200

SettingsOf = Callable[[str], tuple[TenantSettings, ZoneInfo]]


@dataclass
class JobReport:
    submitted: int = 0
    refused: int = 0  # failed at once by the provider
    timeouts: int = 0  # batches whose answer never came (they are polled)
    polled: int = 0
    resubmitted: int = 0  # the provider never received them
    settled: int = 0  # paid, failed or returned, as polling found
    republished: int = 0  # events the bus had not taken, published again


def order_of(payout: Payout) -> PayoutOrder:
    method = parse_payout_method(payout.order())
    return PayoutOrder(
        provider_key(payout.tenant, payout.payout_id), payout.amount, payout.currency, method
    )


def _look_later(store: PayoutStore, payout: Payout, at: datetime) -> None:
    """Keep a payout waiting for the job, to be looked at again at `at`."""
    later = replace(payout, version=payout.version + 1)
    # It moved meanwhile: whatever moved it decides what comes next.
    with contextlib.suppress(AlreadyRecorded, AccountMoved):
        store.commit_payout(PayoutChange(later, payout.version, to_iso(at)), next_look=to_iso(at))


def apply_report(
    store: PayoutStore,
    payout: Payout,
    status: ProviderStatus,
    occurred_at: datetime,
    now: datetime,
    settings_of: SettingsOf,
    publish: Publish,
    failure_code: str | None = None,
) -> Payout:
    """Apply what the provider says a payout reached (a callback, or a poll)."""
    settings, zone = settings_of(payout.tenant)
    if status == "returned" and payout.status == "submitted":
        payout, _ = move(
            store, payout, "paid", now, settings, zone, publish=publish, occurred_at=occurred_at
        )
    moved, _ = move(
        store,
        payout,
        status,
        now,
        settings,
        zone,
        publish=publish,
        occurred_at=occurred_at,
        failure_code=failure_code,
        next_look=to_iso(now + POLL_AFTER),
    )
    return moved


def apply_event(
    store: PayoutStore,
    event: ProviderEvent,
    now: datetime,
    settings_of: SettingsOf,
    publish: Publish,
) -> Payout:
    """A verified callback: the payout it names moves to the status it reports."""
    tenant, payout_id = from_provider_key(event.payout_id)
    payout = found(store, tenant, payout_id)
    return apply_report(
        store,
        payout,
        event.status,
        event.occurred_at,
        now,
        settings_of,
        publish,
        event.failure_code,
    )


def run(
    store: PayoutStore,
    provider: PayoutProvider,
    now: datetime,
    settings_of: SettingsOf,
    publish: Publish,
) -> JobReport:
    """Submit what was requested by `now`, then poll what has waited too long."""
    report = JobReport()
    _submit(store, provider, now, settings_of, publish, report)
    _poll(store, provider, now, settings_of, publish, report)
    report.republished = republish(store, now, publish)
    return report


def republish(store: PayoutStore, now: datetime, publish: Publish) -> int:
    """Events whose step committed a while ago and the bus never took (the function died
    in between, or the bus refused): published again. Consumers drop an id seen before."""
    count = 0
    for event in store.unpublished_events(to_iso(now - REPUBLISH_AFTER)):
        if publish(event.detail_type, event.detail) is True:
            store.mark_event_published(event, to_iso(now))
            count += 1
    return count


def _submit(
    store: PayoutStore,
    provider: PayoutProvider,
    now: datetime,
    settings_of: SettingsOf,
    publish: Publish,
    report: JobReport,
) -> None:
    marked: list[Payout] = []
    for payout in store.waiting_payouts("requested", to_iso(now), RUN_LIMIT):
        settings, zone = settings_of(payout.tenant)
        try:
            moved, _ = move(
                store,
                payout,
                "submitted",
                now,
                settings,
                zone,
                publish=publish,
                next_look=to_iso(now + POLL_AFTER),
                fields={"provider": provider.name},
            )
        except Conflict:
            continue  # canceled meanwhile
        if moved.status == "submitted" and moved.version == payout.version + 1:
            marked.append(moved)
    by_key = {provider_key(p.tenant, p.payout_id): p for p in marked}
    for batch in batches([order_of(p) for p in marked], provider.max_batch):
        try:
            acknowledgements = provider.submit(batch)
        except ProviderTimeout:
            logger.warning("payout provider timed out", extra={"payouts": len(batch)})
            report.timeouts += 1
            continue
        report.submitted += len(batch)
        for ack in acknowledgements:
            if ack.status == "failed":
                report.refused += 1
                apply_report(
                    store,
                    by_key[ack.payout_id],
                    "failed",
                    now,
                    now,
                    settings_of,
                    publish,
                    ack.failure_code,
                )


def _poll(
    store: PayoutStore,
    provider: PayoutProvider,
    now: datetime,
    settings_of: SettingsOf,
    publish: Publish,
    report: JobReport,
) -> None:
    for payout in store.waiting_payouts("submitted", to_iso(now), RUN_LIMIT):
        report.polled += 1
        key = provider_key(payout.tenant, payout.payout_id)
        answer = provider.status(key)
        if answer is None:  # never received: submit again, with the same key
            report.resubmitted += 1
            with contextlib.suppress(ProviderTimeout):  # polled again later either way
                provider.submit([order_of(payout)])
            _look_later(store, payout, now + POLL_AFTER)
        elif answer.status == "submitted":
            _look_later(store, payout, now + POLL_AFTER)
        else:
            report.settled += 1
            apply_report(
                store,
                payout,
                answer.status,
                answer.occurred_at,
                now,
                settings_of,
                publish,
                answer.failure_code,
            )
