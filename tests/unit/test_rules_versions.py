"""Versions of a program: which one is in force, how they are numbered, and the cache
that keeps them in a warm container (with an injected clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cashback.domain.caching import TtlCache
from cashback.domain.rules.versions import (
    RuleBook,
    VersionRecord,
    check_history,
    in_force,
    next_version,
    timeline,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def _record(version: int, effective: int, published: int) -> VersionRecord:
    return VersionRecord(version, T0 + effective * DAY, T0 + published * DAY)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_no_version_before_the_first_starts() -> None:
    assert in_force([_record(1, 0, 0)], T0 - timedelta(seconds=1)) is None
    assert in_force([], T0) is None


def test_version_published_ahead_applies_from_its_effective_from() -> None:
    records = [_record(1, 0, 0), _record(2, 26, 10)]  # Black Friday rules, published early
    assert in_force(records, T0 + 26 * DAY - timedelta(seconds=1)).version == 1  # type: ignore[union-attr]
    assert in_force(records, T0 + 26 * DAY).version == 2  # type: ignore[union-attr]


def test_retroactive_effective_from_does_not_rewrite_the_past() -> None:
    records = [_record(1, 0, 0), _record(2, 3, 10)]  # says "from day 3", published day 10
    assert in_force(records, T0 + 5 * DAY).version == 1  # type: ignore[union-attr]
    assert in_force(records, T0 + 10 * DAY).version == 2  # type: ignore[union-attr]


def test_same_start_goes_to_the_later_publication() -> None:
    records = [_record(1, 0, 0), _record(2, 20, 5), _record(3, 20, 6)]  # 3 corrects 2
    assert in_force(records, T0 + 21 * DAY).version == 3  # type: ignore[union-attr]
    assert [r.version for r in timeline(records)] == [1, 3]


def test_scheduled_version_still_takes_over_after_a_later_hotfix() -> None:
    records = [_record(1, 0, 0), _record(2, 26, 10), _record(3, 12, 12)]
    assert in_force(records, T0 + 20 * DAY).version == 3  # type: ignore[union-attr]
    assert in_force(records, T0 + 27 * DAY).version == 2  # type: ignore[union-attr]
    assert [r.version for r in timeline(records)] == [1, 3, 2]


@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), min_size=1, max_size=8),
    st.integers(-1, 40),
)
def test_in_force_agrees_with_the_timeline(days: list[tuple[int, int]], at_day: int) -> None:
    records = [_record(v, e, p) for v, (e, p) in enumerate(days, start=1)]
    at = T0 + at_day * DAY
    started = [r for r in timeline(records) if r.starts <= at]
    assert in_force(records, at) == (started[-1] if started else None)


def test_versions_are_numbered_from_one_without_gaps() -> None:
    assert next_version([]) == 1
    assert next_version([1, 2, 3]) == 4
    assert check_history([_record(1, 0, 0), _record(2, 0, 1)]) == []
    assert check_history([_record(1, 0, 0), _record(3, 0, 1)]) == [
        "version 3: expected 2 (gap or duplicate)"
    ]
    assert check_history([_record(1, 0, 5), _record(2, 0, 1)]) == [
        "version 2 was published before version 1"
    ]


def test_ttl_cache_keeps_a_value_until_its_ttl_passes() -> None:
    clock, loads = FakeClock(), [0]
    cache: TtlCache[str, int] = TtlCache(30, clock)

    def load() -> int:
        loads[0] += 1
        return loads[0]

    assert cache.get("acme", load) == 1
    clock.now += 29.9
    assert cache.get("acme", load) == 1
    clock.now += 0.1
    assert cache.get("acme", load) == 2
    cache.invalidate("acme")
    assert cache.get("acme", load) == 3


def test_ttl_cache_does_not_keep_a_failed_load() -> None:
    cache: TtlCache[str, int] = TtlCache(30, FakeClock())

    def broken() -> int:
        raise RuntimeError("DynamoDB throttled")

    with pytest.raises(RuntimeError):
        cache.get("acme", broken)
    assert cache.get("acme", lambda: 7) == 7


def test_ttl_cache_is_bounded() -> None:
    cache: TtlCache[int, int] = TtlCache(30, FakeClock(), max_entries=2)
    for key in range(3):
        cache.get(key, lambda key=key: key)  # type: ignore[misc]
    assert cache.get(0, lambda: -1) == -1  # the oldest went first


def test_ttl_cache_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        TtlCache(-1)


class Storage:
    def __init__(self, records: list[VersionRecord]) -> None:
        self.records = records
        self.index_reads = 0
        self.body_reads: list[int] = []

    def index(self, tenant: str) -> list[VersionRecord]:
        self.index_reads += 1
        return list(self.records)

    def body(self, tenant: str, version: int) -> str:
        self.body_reads.append(version)
        return f"rules v{version}"


def test_rule_book_reads_the_index_once_per_ttl_and_each_body_once() -> None:
    clock = FakeClock()
    storage = Storage([_record(1, 0, 0), _record(2, 26, 10)])
    book: RuleBook[str] = RuleBook(storage.index, storage.body, ttl_seconds=30, clock=clock)
    for hour in range(48):  # purchases around the scheduled switch, one container
        book.at("acme", T0 + 25 * DAY + hour * timedelta(hours=1))
    assert storage.index_reads == 1 and storage.body_reads == [1, 2]
    assert book.at("acme", T0 + 26 * DAY) == (2, "rules v2")
    assert book.at("acme", T0 - DAY) is None


def test_rule_book_sees_a_new_publication_after_the_ttl_or_at_once_when_told() -> None:
    clock = FakeClock()
    storage = Storage([_record(1, 0, 0)])
    book: RuleBook[str] = RuleBook(storage.index, storage.body, ttl_seconds=30, clock=clock)
    now = T0 + 12 * DAY
    assert book.at("acme", now) == (1, "rules v1")
    storage.records.append(_record(2, 12, 12))
    assert book.at("acme", now) == (1, "rules v1")  # stale for at most the TTL
    clock.now += 30
    assert book.at("acme", now) == (2, "rules v2")
    storage.records.append(_record(3, 12, 12))
    book.published("acme")
    assert book.at("acme", now) == (3, "rules v3")
