"""The scheduled lifecycle job: ripen, remind, expire — for every customer, exactly once.

"Now" is the scheduled event's time, so a run can be replayed. Due work is found through
the sparse `due` index, one day bucket at a time, each day spread over DUE_SHARDS
shards, reading only what is due by `now` (work done leaves the index): the cost of a run
grows with what is due, never with the size of the ledger.

The job keeps a checkpoint: the last day whose buckets it has finished. A run starts
after it (or RESCAN before `now`, whichever is earlier, so a run "as of" a moment never
trusts a checkpoint that a run for a later moment set), walks day by day up to `now`,
reading only items due by `now`, and stops cleanly when the Lambda's time is
nearly up; the next run picks up where it stopped (what it did not reach is still in the
index). Every lot moves in one conditional transaction, so overlapping runs, a rerun after
a crash, or a replay of a past hour change nothing twice. A lot that keeps failing is
counted and left for the next run; it never blocks the rest.

The scheduled time is checked before anything runs (`scheduled_time`, `check_schedule`):
ISO 8601 with an offset, and no more than MAX_AHEAD ahead of the function's own clock,
which the handler reads and passes in; a run "as of" next year would expire cashback
for good. Local stacks that replay history opt out (`time_travel`). The checkpoint never
moves past the days a run's `now` has closed: a checkpoint found later than that (set by
a run ahead of the clock) is not trusted; the run scans FIRST_LOOKBACK back and sets the
checkpoint to what it closed.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cashback.domain import ledger
from cashback.domain.changes import AccountMoved, AlreadyRecorded, LotChange
from cashback.domain.clock import to_iso
from cashback.domain.ledger import Account, Notice
from cashback.observability import logger
from cashback.services.ports import DueStore, Publisher

JOB = "lifecycle"
DAY_FORMAT = "%Y-%m-%d"
# A day is closed only this long after it ends, so a purchase written at 23:59:59 into
# that day's bucket (it was already due) is never left behind in a closed day.
GRACE = timedelta(minutes=15)
# Where a job with no checkpoint yet starts (longer than any back-dating window in use).
FIRST_LOOKBACK = timedelta(days=7)
# Every run looks at least this far back: empty buckets cost a query each, no reads.
RESCAN = timedelta(days=2)
# Stop this long before the Lambda's limit: enough to finish the lot in hand.
SAFETY_MS = 20_000
ATTEMPTS = 5
# How far ahead of the function's clock a scheduled time may be (clock skew, early delivery).
MAX_AHEAD = timedelta(minutes=5)
# How far behind: EventBridge Scheduler retries for at most a day, and a dead-letter queue
# keeps a message at most 14 days; anything older is not a delivery of a real schedule.
MAX_BEHIND = timedelta(days=14)
_ISO_WITH_OFFSET = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")


class ScheduleRefused(ValueError):
    """The event's `time` is not one this job may run as of; nothing was changed."""


# Only a local stack that replays history sets this (`cashback serve --time-travel`);
# template.yaml never does, so a deployed job refuses to run ahead of its clock.
TIME_TRAVEL_ENV = "CASHBACK_TIME_TRAVEL"


def scheduled_time(value: object) -> datetime:
    """The event's `time`: an ISO 8601 string with a UTC offset (as EventBridge writes it),
    nothing else: no epoch numbers, no naive times, no garbage."""
    if not isinstance(value, str) or not _ISO_WITH_OFFSET.fullmatch(value):
        raise ScheduleRefused(
            f"the event's time must be ISO 8601 with an offset, e.g. "
            f"2026-11-29T12:00:00Z; got {value!r:.80}"
        )
    text = value.replace("Z", "+00:00")
    if "." in text:  # Python 3.11 takes at most 6 fractional digits
        head, tail = text.split(".", 1)
        digits = re.match(r"\d+", tail).group()  # type: ignore[union-attr]
        text = f"{head}.{digits[:6]}{tail[len(digits) :]}"
    try:
        moment = datetime.fromisoformat(text)
        moment.astimezone(UTC)
    except (ValueError, OverflowError) as error:
        raise ScheduleRefused(f"the event's time {value!r} is not a valid moment") from error
    return moment


def check_schedule(scheduled: datetime, clock: datetime, *, time_travel: bool = False) -> None:
    """Refuse a run as of a moment more than MAX_AHEAD ahead of `clock` (the function's own
    clock, read by the handler) or more than MAX_BEHIND behind it. `time_travel` (a local
    stack replaying history, never a deployment) allows any moment."""
    if time_travel:
        return
    if scheduled > clock + MAX_AHEAD:
        raise ScheduleRefused(
            f"the scheduled time {to_iso(scheduled)} is ahead of this function's clock "
            f"({to_iso(clock)}) by more than {int(MAX_AHEAD.total_seconds() // 60)} minutes; "
            "a run ahead of time would ripen and expire cashback early, for good"
        )
    if scheduled < clock - MAX_BEHIND:
        raise ScheduleRefused(
            f"the scheduled time {to_iso(scheduled)} is more than {MAX_BEHIND.days} days "
            f"behind this function's clock ({to_iso(clock)})"
        )


@dataclass
class RunReport:
    now: str
    started_after: str | None = None
    checkpoint: str | None = None
    days_scanned: int = 0
    complete: bool = False  # reached `now` with nothing left behind
    stopped_early: bool = False
    index_items_read: int = 0
    account_reads: int = 0
    lots_ripened: int = 0
    lots_expired: int = 0
    reminders: int = 0
    cashback_ripened: int = 0
    cashback_expired: int = 0
    notices_published: int = 0
    failures: int = 0
    failed_items: list[str] = field(default_factory=list)
    # cashback_ripened / cashback_expired by the storefronts' currency (what metrics emit:
    # amounts of different currencies do not add up)
    by_currency: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _day(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


class LifecycleRun:
    def __init__(
        self,
        store: DueStore,
        publisher: Publisher,
        currency_of: Callable[[str], str],
        now: datetime,
        remaining_ms: Callable[[], int],
    ) -> None:
        self.store, self.publisher, self.currency_of = store, publisher, currency_of
        self.now, self.now_iso = now, to_iso(now)
        self.remaining_ms = remaining_ms
        self.accounts: dict[tuple[str, str], Account] = {}
        self.report = RunReport(now=self.now_iso)
        self.readers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="due-reader")

    def run(self) -> RunReport:
        try:
            return self._run()
        finally:
            self.readers.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> RunReport:
        checkpoint = self.store.checkpoint(JOB)
        self.report.started_after = checkpoint
        resetting = checkpoint is not None and checkpoint > self._last_closable()
        if resetting:
            # Set by a run for a later moment: what lies between is unknown, so look back
            # as a first run does and bring the checkpoint back to what this run closes.
            logger.warning(
                "lifecycle checkpoint is ahead of the run's time; rescanning",
                extra={"checkpoint": checkpoint, "now": self.now_iso},
            )
            day, checkpoint = _day(self.now - FIRST_LOOKBACK), None
        elif checkpoint:
            after = datetime.strptime(checkpoint, DAY_FORMAT).replace(tzinfo=UTC)
            day = min(after + timedelta(days=1), _day(self.now - RESCAN))
        else:
            day = _day(self.now - FIRST_LOOKBACK)
        closing = True  # every day so far finished: the checkpoint may follow
        while day <= self.now:
            if self._out_of_time():
                break
            finished = self._day(day)
            self.report.days_scanned += 1
            if not finished:
                closing = False
            label = day.strftime(DAY_FORMAT)
            if (
                closing
                and day + timedelta(days=1) + GRACE <= self.now
                and (checkpoint is None or label > checkpoint)
            ):  # rescanned days: closed
                if resetting:
                    self.store.set_checkpoint(JOB, label)
                    resetting = False
                else:
                    self.store.advance_checkpoint(JOB, label)
                self.report.checkpoint = label
            if self.report.stopped_early:
                break
            day += timedelta(days=1)
        else:
            self.report.complete = closing
        return self.report

    def _last_closable(self) -> str:
        """The last day a run at `now` may close (it ended GRACE ago)."""
        return (_day(self.now - GRACE) - timedelta(days=1)).strftime(DAY_FORMAT)

    def _out_of_time(self) -> bool:
        if self.remaining_ms() < SAFETY_MS:
            self.report.stopped_early = True
        return self.report.stopped_early

    def _day(self, day: datetime) -> bool:
        """Process every shard of one day; True when nothing due was left behind.

        The shards' first pages are read concurrently (most are empty on most days); the
        items are then processed one by one, so a customer's lots never race each other."""
        label = day.strftime(DAY_FORMAT)
        buckets = self.store.due_buckets(label)
        first_pages = self.readers.map(lambda b: self.store.due_page(b, self.now_iso), buckets)
        finished = True
        for bucket, (items, read, start) in zip(buckets, first_pages, strict=True):
            while True:
                self.report.index_items_read += read
                for item in items:
                    if self._out_of_time():
                        return False
                    finished &= self._item(item, bucket)
                if not start:
                    break
                items, read, start = self.store.due_page(bucket, self.now_iso, start)
        return finished

    def _item(self, item: dict[str, Any], bucket: str) -> bool:
        try:
            work = self.store.due_work(item)
            if isinstance(work, Notice):
                return self._republish(work)
            return self._lot(work, bucket)
        except Exception:  # one bad item must never block the rest
            logger.exception(
                "lifecycle item failed", extra={"pk": item.get("pk"), "sk": item.get("sk")}
            )
            self.report.failures += 1
            self.report.failed_items.append(f"{item.get('pk')}|{item.get('sk')}")
            return False

    def _account(self, tenant: str, customer_id: str) -> Account:
        key = (tenant, customer_id)
        if key not in self.accounts:
            self.accounts[key] = self.store.get_account(tenant, customer_id)
            self.report.account_reads += 1
        return self.accounts[key]

    def _lot(self, lot: ledger.Lot, bucket: str) -> bool:
        for attempt in range(ATTEMPTS):
            account = self._account(lot.tenant, lot.customer_id)
            try:
                # The index is eventually consistent and other runs, purchases and refunds
                # move lots and accounts too: a stale pair fails here or at the commit's
                # conditions, and we read both again.
                step = ledger.advance(account, lot, self.now)
                if not step.changed:
                    return True  # another run got here first
                self.store.commit_advance(
                    LotChange(
                        lot,
                        step.lot,
                        step.entries,
                        account,
                        step.account,
                        step.notices,
                        due_bucket=bucket,
                        now=self.now_iso,
                    )
                )
            except (AccountMoved, AlreadyRecorded, ValueError):
                self.accounts.pop((lot.tenant, lot.customer_id), None)
                fresh = self.store.get_lot(lot)
                if fresh is None:
                    return True
                lot = fresh
                time.sleep(random.uniform(0, 0.01 * 2**attempt))
                continue
            self.accounts[(lot.tenant, lot.customer_id)] = step.account
            self._count(step, lot.tenant)
            return self._publish(list(step.notices))
        raise RuntimeError(
            f"lot {lot.expires_at}#{lot.order_id} of {lot.customer_id} kept changing under us"
        )

    def _count(self, step: ledger.Advance, tenant: str) -> None:
        for entry in step.entries:
            if entry.kind == "ripen":
                self.report.lots_ripened += 1
                self.report.cashback_ripened += entry.deltas["available"]
                self._count_money(tenant, "ripened", entry.deltas["available"])
            elif entry.kind == "expire":
                self.report.lots_expired += 1
                self.report.cashback_expired += entry.deltas["expired"]
                self._count_money(tenant, "expired", entry.deltas["expired"])
        self.report.reminders += sum(n.kind == "cashback.expiring" for n in step.notices)

    def _count_money(self, tenant: str, kind: str, amount: int) -> None:
        try:
            currency = self.currency_of(tenant)
        except Exception:  # the lot is moved already: a count must never fail it
            logger.exception("no currency for tenant", extra={"tenant": tenant})
            currency = "unknown"
        totals = self.report.by_currency.setdefault(currency, {"ripened": 0, "expired": 0})
        totals[kind] += amount

    def _publish(self, notices: list[Notice]) -> bool:
        if not notices:
            return True
        accepted = self.publisher.publish(notices, self.currency_of)
        for ok, notice in zip(accepted, notices, strict=True):
            if ok:
                self.store.mark_published(notice, self.now_iso)
                self.report.notices_published += 1
        return all(accepted)

    def _republish(self, notice: Notice) -> bool:
        """A notice committed by a run that died (or failed to publish) before sending it."""
        # Only a run for a later moment may take over a notice: runs for the same moment
        # (a duplicate invocation, an overlapping run) leave it to the run that made it,
        # so a notice goes out twice only when its first run died after the commit.
        if not self.store.claim_notice(notice, self.now_iso):
            return True
        return self._publish([notice])
