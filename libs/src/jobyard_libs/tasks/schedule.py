"""When a recurring task runs next: cron (5 fields, or 6 with seconds last) in a time zone.

Examples
--------
>>> next_run("30 2 * * *", "Europe/Berlin", after=datetime(2026, 3, 29, tzinfo=UTC))
datetime.datetime(2026, 3, 29, 1, 0, tzinfo=datetime.timezone.utc)  # 02:30 does not exist: 03:00 CEST
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from croniter.croniter import CroniterError


class BadSchedule(ValueError):
    pass


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadSchedule(f"unknown time zone {name!r}") from exc


def validate_cron(expression: str) -> str:
    fields = expression.split()
    if len(fields) not in (5, 6):
        raise BadSchedule("cron needs 5 fields (minute hour day month weekday), or 6 with seconds last")
    try:
        croniter(expression)
    except (CroniterError, ValueError, KeyError) as exc:
        raise BadSchedule(f"invalid cron {expression!r}: {exc}") from exc
    return " ".join(fields)


def next_run(expression: str, timezone: str, *, after: datetime) -> datetime:
    """The first run strictly after ``after``, in UTC at millisecond precision."""
    local = after.astimezone(zone(timezone))
    upcoming: datetime = croniter(validate_cron(expression), local).get_next(datetime)
    upcoming = upcoming.astimezone(UTC)
    return upcoming.replace(microsecond=upcoming.microsecond // 1000 * 1000)
