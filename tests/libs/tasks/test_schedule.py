"""Cron across daylight-saving changes: each intended moment fires once (the Vixie/Debian rule),
and only standard cron syntax is accepted."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from jobyard_libs.tasks.schedule import BadSchedule, describe, next_run, next_runs, validate_cron

pytestmark = pytest.mark.unit

# (zone, the day clocks go back, the day clocks go forward) in 2026
ZONES = [
    ("Europe/Berlin", date(2026, 10, 25), date(2026, 3, 29)),
    ("America/New_York", date(2026, 11, 1), date(2026, 3, 8)),
    ("Australia/Sydney", date(2026, 4, 5), date(2026, 10, 4)),
    ("Australia/Lord_Howe", date(2026, 4, 5), date(2026, 10, 4)),  # a half-hour shift
]


def _local_dates(runs: list[datetime], tz: str) -> list[date]:
    return [run.astimezone(ZoneInfo(tz)).date() for run in runs]


def _year(cron: str, tz: str) -> list[datetime]:
    start = datetime(2026, 1, 1, tzinfo=ZoneInfo(tz)).astimezone(UTC)
    return next_runs(cron, tz, after=start, count=365)


@pytest.mark.parametrize(("tz", "back", "forward"), ZONES)
@pytest.mark.parametrize("cron", ["30 2 * * *", "45 1 * * *", "0 2 * * *", "15 3 * * *"])
def test_a_daily_job_runs_once_every_local_day_of_the_year(
    tz: str, back: date, forward: date, cron: str
) -> None:
    """The croniter call this replaced fired `30 2 * * *` twice in Berlin on 2026-10-25."""
    runs = _year(cron, tz)
    days = _local_dates(runs, tz)
    assert days == [date(2026, 1, 1) + timedelta(days=n) for n in range(365)]
    assert runs == sorted(set(runs))


@pytest.mark.parametrize(("tz", "back", "forward"), ZONES)
def test_a_time_the_clocks_skip_runs_once_when_they_jump(tz: str, back: date, forward: date) -> None:
    zone = ZoneInfo(tz)
    day_before = datetime.combine(forward, datetime.min.time(), zone).astimezone(UTC) - timedelta(hours=1)
    skipped = "15 2 * * *"  # 02:15 does not exist on that day in any of these zones
    [run] = [
        r for r in next_runs(skipped, tz, after=day_before, count=2) if r.astimezone(zone).date() == forward
    ]
    before, after = (run - timedelta(seconds=1)).astimezone(zone), run.astimezone(zone)
    assert before.utcoffset() != after.utcoffset()  # exactly when the clocks jumped


@pytest.mark.parametrize("tz", ["Europe/Berlin", "America/New_York", "Australia/Sydney"])
def test_an_hourly_job_keeps_real_time_across_both_changes(tz: str) -> None:
    """A wildcard hour runs in both passes of the repeated hour and skips what does not exist:
    one hour between runs, all year."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    runs = next_runs("0 * * * *", tz, after=start, count=24 * 365)
    assert {b - a for a, b in itertools.pairwise(runs)} == {timedelta(hours=1)}


def test_the_repeated_hour_in_berlin_explicitly() -> None:
    after = datetime(2026, 10, 24, 23, 0, tzinfo=UTC)  # 01:00 CEST
    assert [r.isoformat() for r in next_runs("30 2 * * *", "Europe/Berlin", after=after, count=2)] == [
        "2026-10-25T00:30:00+00:00",  # 02:30 CEST, and not again at 02:30 CET
        "2026-10-26T01:30:00+00:00",
    ]
    halves = next_runs("*/30 * * * *", "Europe/Berlin", after=after, count=6)
    assert [r.strftime("%H:%M") for r in halves] == ["23:30", "00:00", "00:30", "01:00", "01:30", "02:00"]


def test_a_run_is_found_from_inside_the_second_pass() -> None:
    second_pass = datetime(2026, 10, 25, 1, 10, tzinfo=UTC)  # 02:10 CET, the hour's second pass
    assert next_run("30 2 * * *", "Europe/Berlin", after=second_pass) == datetime(
        2026, 10, 26, 1, 30, tzinfo=UTC
    )
    assert next_run("*/15 * * * *", "Europe/Berlin", after=second_pass) == datetime(
        2026, 10, 25, 1, 15, tzinfo=UTC
    )


NON_STANDARD = [
    "R * * * *",
    "H * * * *",
    "0 0 L * *",
    "0 0 15W * *",
    "0 0 * * MON#1",
    "0 0 ? * *",
    "0 0 * * * R",
]


@pytest.mark.parametrize("cron", [*NON_STANDARD, "@daily", "0 0 * FOO *"])
def test_only_standard_cron_syntax_is_accepted(cron: str) -> None:
    with pytest.raises(BadSchedule):
        validate_cron(cron)


@pytest.mark.parametrize(
    "cron", ["0 9 * JAN-MAR MON-FRI", "*/5 1-3,7 1,15 * *", "0 0 * * 7", "0 */2 * * * 30"]
)
def test_standard_syntax_passes(cron: str) -> None:
    assert validate_cron(cron) == cron
    assert describe(cron)


def test_several_skipped_moments_of_a_fixed_hour_fire_once_at_the_jump() -> None:
    """`*/15 2 * * *` has four moments in the hour Berlin skips on 2026-03-29: one run at the
    jump, not four at the same instant (which also made the shortest interval zero)."""
    runs = next_runs("*/15 2 * * *", "Europe/Berlin", after=datetime(2026, 3, 28, 12, tzinfo=UTC), count=6)
    assert [r.isoformat() for r in runs] == [
        "2026-03-29T01:00:00+00:00",
        "2026-03-30T00:00:00+00:00",
        "2026-03-30T00:15:00+00:00",
        "2026-03-30T00:30:00+00:00",
        "2026-03-30T00:45:00+00:00",
        "2026-03-31T00:00:00+00:00",
    ]
