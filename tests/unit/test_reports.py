"""The report totals: a ledger's entries and lots folded (in any batches, retried any number
of times from a batch's first record) give the same totals once, and the liability
roll-forward and breakage read from them add up to the minor unit."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cashback.domain.changes import AccountMoved
from cashback.domain.errors import Unprocessable
from cashback.domain.ledger.accounts import Account
from cashback.domain.ledger.entries import Entry, append
from cashback.domain.ledger.lots import Lot
from cashback.domain.reports.breakage import breakage
from cashback.domain.reports.liability import STATES, check_range, roll_forward
from cashback.domain.reports.totals import Change, lot_counters
from cashback.services import reports

# Movements that keep an account conserved, as the ledger's own operations make them.
MOVES: dict[str, dict[str, int]] = {
    "purchase": {"earned": 1, "pending": 1},
    "hold": {"held": 1},
    "approve": {"held": -1, "earned": 1, "pending": 1},
    "reject": {"held": -1},
    "ripen": {"pending": -1, "available": 1},
    "redeem": {"available": -1, "spent": 1},
    "payout": {"available": -1, "reserved": 1},
    "payout_paid": {"reserved": -1, "paid_out": 1},
    "expire": {"available": -1, "expired": 1},
    "refund": {"pending": -1, "clawed_back": 1},
}
KIND = {"hold": "purchase"}  # a held purchase is a purchase entry that credits `held`


class MemoryReports:
    """The report port over dicts: the adapter's contract (a run's marker and its counters
    written together, once) without the table."""

    def __init__(self, failing: frozenset[int] = frozenset()) -> None:
        self.failing = set(failing)  # the n-th transactions fail (a throttle, a conflict)
        self.transactions = 0
        self.marks: dict[str, int] = {}
        self.items: dict[tuple[str, str], Counter[str]] = {}
        self.writes = 0

    def folded_run(self, first_record_id: str) -> int:
        return self.marks.get(first_record_id, 0)

    def add_report_totals(
        self,
        first_record_id: str,
        records: int,
        counters: dict[tuple[str, str], dict[str, int]],
        now_epoch: int,
    ) -> bool:
        self.transactions += 1
        if self.transactions in self.failing:
            raise AccountMoved((1,))
        if first_record_id in self.marks:
            return False
        self.marks[first_record_id] = records
        for key, added in counters.items():
            self.items.setdefault(key, Counter()).update(added)
        self.writes += len(counters) + 1
        return True

    def report_days(self, tenant: str, last_day: str) -> list[tuple[str, dict[str, int]]]:
        return sorted(
            (sk[4:], dict(c))
            for (t, sk), c in self.items.items()
            if t == tenant and sk.startswith("DAY#") and sk[4:] <= last_day
        )

    def report_cohorts(self, tenant: str) -> list[tuple[str, dict[str, int]]]:
        return sorted(
            (sk[7:], dict(c))
            for (t, sk), c in self.items.items()
            if t == tenant and sk.startswith("COHORT#")
        )


@st.composite
def histories(draw: st.DrawFn) -> list[Entry]:
    """Entries of a few customers over March and April 2026, each a legal movement."""
    entries: list[Entry] = []
    for customer in range(draw(st.integers(1, 3))):
        account = Account("shop", f"c{customer}")
        for _ in range(draw(st.integers(0, 12))):
            move = draw(st.sampled_from(sorted(MOVES)))
            room = min(
                [account[name] for name, sign in MOVES[move].items() if sign < 0], default=10**6
            )
            if room <= 0:
                continue
            amount = draw(st.integers(1, min(room, 10**6)))
            day = draw(st.dates(date(2026, 3, 1), date(2026, 4, 30)))
            deltas = {name: sign * amount for name, sign in MOVES[move].items()}
            kind = KIND.get(move, move)
            entry, account = append(
                account,
                kind,
                f"r{len(entries)}",
                "o",
                f"{day}T12:00:00Z",
                deltas,  # type: ignore[arg-type]
            )
            entries.append(entry)
    return entries


def _changes(entries: list[Entry]) -> list[Change]:
    return [Change(f"ev{i}", entry=entry) for i, entry in enumerate(entries)]


@given(entries=histories(), data=st.data())
def test_folding_in_any_batches_with_retries_counts_each_entry_once(
    entries: list[Entry], data: st.DataObject
) -> None:
    """Lambda's deliveries: batches in order; a batch whose invocation failed after it
    wrote comes again whole; a reply naming a failed record makes the next batch start
    there. Transactions fail at random (each run is retried, then handed back)."""
    once = MemoryReports()
    retried = MemoryReports(frozenset(data.draw(st.sets(st.integers(1, 60), max_size=20))))
    changes = _changes(entries)
    reports.fold(once, changes, 0)
    start = 0
    while start < len(changes):
        size = data.draw(st.integers(1, min(1000, len(changes) - start)))
        batch = changes[start : start + size]
        for _ in range(data.draw(st.integers(0, 2))):  # crashed after writing: sent again
            reports.fold(retried, batch, 0)
        start += reports.fold(retried, batch, 0).done
    assert retried.report_days("shop", "2999-12-31") == once.report_days("shop", "2999-12-31")


def _held(day: int) -> Entry:
    account = Account("shop", "c")
    return append(account, "purchase", "r", "o", f"2026-03-0{day}T00:00:00Z", {"held": 5})[0]


def test_a_run_that_cannot_be_written_is_handed_back_from_its_first_record() -> None:
    store = MemoryReports(frozenset(range(1, reports.ATTEMPTS + 1)))
    folded = reports.fold(store, _changes([_held(1), _held(2)]), 0)
    assert (folded.records, folded.done) == (0, 0)
    assert store.report_days("shop", "2999-12-31") == []
    again = reports.fold(store, _changes([_held(1), _held(2)]), 0)
    assert (again.records, again.done, again.writes) == (2, 2, 3)


def test_a_batch_stops_before_a_run_when_too_little_time_is_left() -> None:
    store = MemoryReports()
    folded = reports.fold(store, _changes([_held(1)]), 0, lambda: reports.MIN_TIME_LEFT_MS - 1)
    assert (folded.records, folded.done, store.transactions) == (0, 0, 0)


@given(entries=histories(), granularity=st.sampled_from(["day", "month"]))
def test_the_roll_forward_reconciles_with_the_entries_to_the_minor_unit(
    entries: list[Entry], granularity: str
) -> None:
    store = MemoryReports()
    reports.fold(store, _changes(entries), 0)
    start, end = date(2026, 3, 10), date(2026, 4, 20)
    periods = roll_forward(store.report_days("shop", end.isoformat()), start, end, granularity)  # type: ignore[arg-type]
    for before, after in zip(periods, periods[1:], strict=False):
        assert after.opening == before.closing
    for period in periods:
        assert period.closing == (
            period.opening
            + period.issued
            - period.spent
            - period.paid_out
            - period.expired
            - period.clawed_back
            - period.voided
        )
        assert period.closing == sum(period.closing_by_state.values())
    # What the ledger holds at the end, summed straight from the entries.
    summed = {
        state: sum(e.deltas.get(state, 0) for e in entries if e.occurred_at[:10] <= "2026-04-20")
        for state in STATES
    }
    assert periods[-1].closing_by_state == summed
    opening = sum(
        e.deltas.get(state, 0) for e in entries for state in STATES if e.occurred_at < "2026-03-10"
    )
    assert periods[0].opening == opening
    rejected = sum(-e.deltas.get("held", 0) for e in entries if e.kind == "reject")
    assert sum(p.voided for p in periods) == sum(
        -e.deltas.get("held", 0)
        for e in entries
        if e.kind == "reject" and "2026-03-10" <= e.occurred_at[:10] <= "2026-04-20"
    )
    assert rejected >= 0


def test_months_cover_partial_months_at_both_ends() -> None:
    periods = roll_forward([], date(2026, 1, 15), date(2026, 3, 2), "month")
    assert [(p.start, p.end) for p in periods] == [
        ("2026-01-15", "2026-01-31"),
        ("2026-02-01", "2026-02-28"),
        ("2026-03-01", "2026-03-02"),
    ]


@pytest.mark.parametrize(
    ("start", "end", "granularity"),
    [
        (date(2026, 3, 2), date(2026, 3, 1), "day"),
        (date(2025, 1, 1), date(2026, 1, 2), "day"),  # 367 days
        (date(2010, 1, 1), date(2020, 1, 1), "month"),  # 121 months
        (date(1999, 12, 31), date(2000, 1, 1), "day"),
    ],
)
def test_a_range_out_of_order_or_too_long_is_refused(
    start: date, end: date, granularity: str
) -> None:
    with pytest.raises(Unprocessable) as refused:
        check_range(start, end, granularity)  # type: ignore[arg-type]
    assert refused.value.code == "report_range"


LOT = Lot(
    "shop",
    "c1",
    "o1",
    gross=1000,
    netted=0,
    pending=1000,
    available=0,
    spent=0,
    expired=0,
    clawed_back=0,
    debited=0,
    status="HELD",
    available_at="2026-03-31T00:00:00Z",
    expires_at="2026-09-01T00:00:00Z",
    earned_at="2026-03-01T00:00:00Z",
)


def test_a_lot_counts_for_its_cohort_only_once_approved() -> None:
    assert lot_counters(None, LOT) == ("COHORT#2026-03", {"held": 1000})
    approved = replace(LOT, status="PENDING")
    assert lot_counters(LOT, approved) == (
        "COHORT#2026-03",
        {"held": -1000, "issued": 1000, "pending": 1000},
    )
    voided = replace(LOT, status="VOIDED", pending=0, clawed_back=1000)
    assert lot_counters(LOT, voided) == ("COHORT#2026-03", {"held": -1000, "voided": 1000})
    ripe = replace(approved, status="AVAILABLE", pending=0, available=1000)
    spent = replace(ripe, available=300, spent=700)
    assert lot_counters(ripe, spent)[1] == {"available": -700, "spent": 700}


def test_breakage_of_open_cohorts_follows_the_closed_ones_in_proportion_to_redemptions() -> None:
    cohorts = [
        # Closed: 10000 issued, 2000 expired, 8000 redeemed: a 20% breakage rate.
        ("2026-01", {"issued": 10000, "expired": 2000, "spent": 8000}),
        # Open: 5000 issued, 2000 redeemed so far, 3000 outstanding.
        ("2026-02", {"issued": 5000, "spent": 2000, "available": 3000}),
    ]
    report = breakage(cohorts, "2026-03")
    closed, open_ = report.cohorts
    assert report.expected_rate == "0.2000" and report.closed_cohorts == 1
    assert (closed.closed, closed.expected_breakage, closed.recognised_breakage) == (
        True,
        2000,
        2000,
    )
    assert (closed.breakage_rate, closed.redemption_rate) == ("0.2000", "0.8000")
    # Expected breakage 20% of 5000 = 1000; redeemable 4000, of which 2000 redeemed: half.
    assert (open_.closed, open_.expected_breakage, open_.recognised_breakage) == (False, 1000, 500)
    assert open_.outstanding == 3000


def test_a_cohort_of_the_current_month_is_open_even_when_nothing_is_outstanding() -> None:
    report = breakage([("2026-03", {"issued": 100, "spent": 100})], "2026-03")
    assert report.cohorts[0].closed is False and report.expected_rate is None
