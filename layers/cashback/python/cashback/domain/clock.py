"""Timestamps as the ledger stores them: UTC, second precision, ISO 8601 with a Z.

Strings in this form sort in time order, which the table's sort keys rely on. Timestamps
read from requests are `Timestamp`: RFC 3339 text only, within a sane range of years."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator

_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def to_iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("timestamps must carry a time zone")
    return moment.astimezone(UTC).strftime(_FORMAT)


def from_iso(text: str) -> datetime:
    return datetime.strptime(text, _FORMAT).replace(tzinfo=UTC)


def from_epoch_ms(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).replace(microsecond=0)


# RFC 3339 date-time: an explicit offset (Z or +hh:mm), seconds required, at most
# microseconds. Pydantic alone would also read "1767225600" (or a bare number) as epoch
# seconds, and years near 1 or 9999 overflow once moved to UTC.
_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(\.[0-9]{1,6})?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def _timestamp_text(value: Any) -> Any:
    if isinstance(value, datetime):  # built in code (tests, tools), not read from JSON
        return value
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError(
            "must be an RFC 3339 timestamp with an offset, as a string "
            "(2026-01-01T12:00:00Z or 2026-01-01T09:00:00-03:00)"
        )
    year = int(value[:4])
    if not EARLIEST.year - 1 <= year <= LATEST.year:
        raise ValueError(f"must be in the years {EARLIEST:%Y} to {LATEST.year - 1}")
    return value


def _timestamp_range(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must carry a time zone")
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)")
    return value


Timestamp = Annotated[
    AwareDatetime, BeforeValidator(_timestamp_text), AfterValidator(_timestamp_range)
]
"""Every timestamp a request carries (occurred_at, effective_from...): RFC 3339 text with
an explicit offset, from 2000 up to (not including) 2100 in UTC. Never epoch seconds."""
