"""Reports: fold the table's stream into report totals, exactly once per record, and read
the liability roll-forward, breakage and the program's results from them."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from cashback.domain.changes import AccountMoved
from cashback.domain.reports import results
from cashback.domain.reports.breakage import breakage
from cashback.domain.reports.liability import Granularity, check_range, roll_forward
from cashback.domain.reports.totals import Change, Fold
from cashback.observability import logger
from cashback.services.ports import ReportStore

MIN_TIME_LEFT_MS = 10_000  # a run's transaction (with retries) fits well within this
MAX_ITEMS_PER_FOLD = 99  # one transaction: the run's marker and 99 report items
ATTEMPTS = 4  # another shard's consumer may touch the same report item at that moment


@dataclass(frozen=True)
class Folded:
    records: int  # folded now
    skipped: int  # folded before (Lambda retried the batch)
    writes: int  # report items and run markers written
    done: int  # records of the batch handled; Lambda retries from the next one


def fold(
    store: ReportStore,
    changes: Sequence[Change],
    now_epoch: int,
    time_left_ms: Callable[[], int] = lambda: 60_000,
) -> Folded:
    """Fold a batch of stream records in order, in runs of one transaction each; stop at a
    run that could not be written, or when too little time is left to write one (so the
    function never fails after a write: a failed invocation is retried, and bisected,
    from the batch's first record). A run is recorded under its first record's id, so a
    batch retried from the same record skips what was folded: each record counts once.
    `done` is where Lambda should retry from (the batch's length: nothing to retry)."""
    start = folded = skipped = writes = 0
    while start < len(changes):
        done = store.folded_run(changes[start].record_id)
        if done:
            skipped += min(done, len(changes) - start)
            start += done
            continue
        if time_left_ms() < MIN_TIME_LEFT_MS:
            break
        run = _run(changes, start)
        counters = run.counters()
        if not counters:  # nothing to add (changes that cancel out): nothing to remember
            folded, start = folded + run.records, start + run.records
            continue
        try:
            _write(store, changes[start].record_id, run.records, counters, now_epoch)
        except Exception:  # noqa: BLE001 - raising now would replay the runs written before
            logger.exception("a run of the stream could not be written; Lambda retries it")
            break
        folded, writes, start = (
            folded + run.records,
            writes + len(counters) + 1,
            start + run.records,
        )
    return Folded(folded, skipped, writes, min(start, len(changes)))


def _run(changes: Sequence[Change], start: int) -> Fold:
    run = Fold()
    for change in changes[start:]:
        if run.records and not run.fits(change, MAX_ITEMS_PER_FOLD):
            break
        run.add_change(change)
    return run


def _write(
    store: ReportStore,
    first_record_id: str,
    records: int,
    counters: dict[tuple[str, str], dict[str, int]],
    now_epoch: int,
) -> None:
    for attempt in range(ATTEMPTS):
        try:
            store.add_report_totals(first_record_id, records, counters, now_epoch)
            return
        except AccountMoved:
            if attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.05 * 2**attempt)


def program(
    store: ReportStore,
    tenant: str,
    start: date,
    end: date,
    gross_margin: Decimal | None,
) -> dict[str, Any]:
    """The program's results by month from `start`'s month to `end`'s, its cohorts, its
    cashback users against non-users, and its experiments (over their whole run)."""
    check_range(start, end, "month")
    first, last = start.isoformat()[:7], end.isoformat()[:7]
    raw = dict(store.report_months(tenant))
    listed = results.months(raw.items(), first, last)
    return {
        "tenant": tenant,
        "from": first,
        "to": last,
        "gross_margin": None if gross_margin is None else str(gross_margin),
        "months": listed,
        "cohorts": results.cohorts(store.report_cohorts(tenant)),
        "users_against_non_users": results.users_against_non_users(listed, raw),
        "experiments": results.experiments(store.report_experiments(tenant), gross_margin),
    }


def liability(
    store: ReportStore,
    tenant: str,
    start: date,
    end: date,
    granularity: Granularity,
    now: datetime,
) -> dict[str, Any]:
    """The roll-forward from `start` to `end` and breakage by cohort as of `now`."""
    check_range(start, end, granularity)
    periods = roll_forward(store.report_days(tenant, end.isoformat()), start, end, granularity)
    cohorts = breakage(store.report_cohorts(tenant), now.date().isoformat()[:7])
    return {
        "tenant": tenant,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "granularity": granularity,
        "periods": [period.as_dict() for period in periods],
        "breakage": cohorts.as_dict(),
    }
