"""Which published version of a program applies, and keeping it in a warm container.

Numbering: a tenant's versions are 1, 2, 3... in publication order, assigned by the
server (a rule set body carries no version), never reused. Storage writes version N+1 on
the condition that it does not exist yet; a concurrent publisher loses that condition and
retries as N+2, so two publications never share a number.

In force: a version applies from `max(effective_from, published_at)`. Publishing ahead
(effective_from in the future) is the normal case; an effective_from in the past cannot
rewrite what was in force before the publication, so the version in force at an instant
never changes once that instant has been seen. At an instant, the version with the latest
start applies; two with the same start go to the later one (the higher number), which is
how a scheduled version is withdrawn or corrected: publish another with the same start.

Caching: versions are immutable, so their bodies can be cached for the container's life;
only the list of versions (the index) is refreshed, after a short TTL. A version published
ahead is already in the index when it starts, so its start is exact; one that starts
within the TTL of its publication may be seen up to a TTL late by a warm container.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Generic, NamedTuple, TypeVar

from cashback.domain.caching import TtlCache

T = TypeVar("T")


class VersionRecord(NamedTuple):
    version: int
    effective_from: datetime
    published_at: datetime

    @property
    def starts(self) -> datetime:
        return max(self.effective_from, self.published_at)


def in_force(records: Iterable[VersionRecord], at: datetime) -> VersionRecord | None:
    """The version that applies at `at`, or None when none had started."""
    best: VersionRecord | None = None
    for record in records:
        if record.starts <= at and (
            best is None or (record.starts, record.version) > (best.starts, best.version)
        ):
            best = record
    return best


def timeline(records: Iterable[VersionRecord]) -> list[VersionRecord]:
    """The versions that are ever in force, in the order they take over (a version whose
    start a later publication also claims never applies)."""
    by_start: dict[datetime, VersionRecord] = {}
    for record in records:
        held = by_start.get(record.starts)
        if held is None or record.version > held.version:
            by_start[record.starts] = record
    return [by_start[start] for start in sorted(by_start)]


def next_version(existing: Iterable[int]) -> int:
    """The number the next publication takes."""
    return max(existing, default=0) + 1


def check_history(records: Sequence[VersionRecord]) -> list[str]:
    """What is wrong with a tenant's list of versions (empty when it is sound)."""
    problems: list[str] = []
    ordered = sorted(records, key=lambda r: r.version)
    for expected, record in enumerate(ordered, start=1):
        if record.version != expected:
            problems.append(f"version {record.version}: expected {expected} (gap or duplicate)")
    for earlier, later in zip(ordered, ordered[1:], strict=False):
        if later.published_at < earlier.published_at:
            problems.append(
                f"version {later.version} was published before version {earlier.version}"
            )
    return problems


class RuleBook(Generic[T]):
    """The rules a tenant's purchase at `at` is evaluated under, loaded through storage's
    two reads: the tenant's version index (cached with a TTL) and one version's body
    (cached for good: versions are immutable)."""

    def __init__(
        self,
        load_index: Callable[[str], Sequence[VersionRecord]],
        load_version: Callable[[str, int], T],
        *,
        ttl_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        max_versions: int = 64,
    ) -> None:
        self._load_index = load_index
        self._load_version = load_version
        self._index: TtlCache[str, tuple[VersionRecord, ...]] = TtlCache(ttl_seconds, clock)
        self._bodies: TtlCache[tuple[str, int], T] = TtlCache(float("inf"), clock, max_versions)

    def at(self, tenant: str, at: datetime) -> tuple[int, T] | None:
        """(version, rules) in force for the tenant at `at`; None if no version applies."""
        index = self._index.get(tenant, lambda: tuple(self._load_index(tenant)))
        record = in_force(index, at)
        if record is None:
            return None
        body = self._bodies.get(
            (tenant, record.version), lambda: self._load_version(tenant, record.version)
        )
        return record.version, body

    def published(self, tenant: str) -> None:
        """Forget the tenant's index (the container that published sees it at once)."""
        self._index.invalidate(tenant)
