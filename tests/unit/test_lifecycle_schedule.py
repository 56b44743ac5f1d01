"""The lifecycle job's scheduled time (issue 8, finding 8): ISO 8601 with an offset, never
ahead of the function's clock, unless a local stack replays history (time travel), which
template.yaml never allows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cashback.services.lifecycle import MAX_AHEAD, ScheduleRefused, check_schedule, scheduled_time
from cashback_tools.local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
CLOCK = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-11-29T12:00:00Z", CLOCK),
        ("2026-11-29T09:00:00-03:00", CLOCK),
        ("2026-11-29T17:30:00+05:30", CLOCK),
        ("2026-11-29T12:00:00.123456789Z", CLOCK.replace(microsecond=123456)),
    ],
)
def test_iso_times_with_an_offset_are_read(text: str, moment: datetime) -> None:
    assert scheduled_time(text) == moment


@pytest.mark.parametrize(
    "value",
    [
        1767225600,
        "1767225600",
        1767225600.0,
        "2026-11-29T12:00:00",
        "2026-11-29",
        "garbage",
        "",
        None,
        True,
        ["2026-11-29T12:00:00Z"],
        {"time": "2026-11-29T12:00:00Z"},
        "2026-11-29 12:00:00Z",
        "2026-13-01T00:00:00Z",
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "2026-11-29T12:00:00Z\n",
    ],
)
def test_anything_else_is_refused(value: object) -> None:
    with pytest.raises(ScheduleRefused):
        scheduled_time(value)


def test_a_time_a_few_minutes_ahead_runs_further_ahead_is_refused() -> None:
    check_schedule(CLOCK, CLOCK)
    check_schedule(CLOCK + MAX_AHEAD, CLOCK)
    check_schedule(CLOCK - timedelta(days=1), CLOCK)  # a late retry of yesterday's run
    for ahead in (MAX_AHEAD + timedelta(seconds=1), timedelta(hours=1), timedelta(days=200)):
        with pytest.raises(ScheduleRefused, match="ahead of this function's clock"):
            check_schedule(CLOCK + ahead, CLOCK)
    with pytest.raises(ScheduleRefused, match="behind"):
        check_schedule(CLOCK - timedelta(days=15), CLOCK)


def test_time_travel_accepts_any_moment() -> None:
    check_schedule(CLOCK + timedelta(days=200), CLOCK, time_travel=True)
    check_schedule(CLOCK - timedelta(days=400), CLOCK, time_travel=True)


def test_the_template_never_allows_time_travel() -> None:
    text = (ROOT / "template.yaml").read_text()
    assert "CASHBACK_TIME_TRAVEL" not in text
    template = load_template(ROOT / "template.yaml")
    for spec in template.functions().values():
        assert "CASHBACK_TIME_TRAVEL" not in spec.environment, spec
    assert "CASHBACK_TIME_TRAVEL" not in template.environment()
