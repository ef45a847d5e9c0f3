"""When a recurring task runs next: cron (5 fields, or 6 with seconds last) in a time zone.

Usage
-----

::

    next_run("30 2 * * *", "Europe/Berlin", after=datetime(2026, 3, 29, tzinfo=UTC))
    # → datetime.datetime(2026, 3, 29, 1, 0, tzinfo=datetime.timezone.utc)  # 02:30 does not exist: 03:00 CEST
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
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
    """The expression, normalised; :class:`BadSchedule` when it is malformed or never fires
    (``0 0 30 2 *``: February has no 30th)."""
    fields = expression.split()
    if len(fields) not in (5, 6):
        raise BadSchedule("cron needs 5 fields (minute hour day month weekday), or 6 with seconds last")
    normalised = " ".join(fields)
    try:
        croniter(normalised, datetime(2026, 1, 1, tzinfo=UTC)).get_next(datetime)
    except (CroniterError, ValueError, KeyError, TypeError) as exc:
        raise BadSchedule(f"invalid cron {expression!r}: {exc}") from exc
    return normalised


def next_runs(expression: str, timezone: str, *, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` runs strictly after ``after``, in UTC at millisecond precision."""
    try:
        runs = croniter(validate_cron(expression), after.astimezone(zone(timezone)))
        found = [runs.get_next(datetime).astimezone(UTC) for _ in range(count)]
    except (CroniterError, ValueError) as exc:
        raise BadSchedule(f"cron {expression!r} has no next run: {exc}") from exc
    return [moment.replace(microsecond=moment.microsecond // 1000 * 1000) for moment in found]


def next_run(expression: str, timezone: str, *, after: datetime) -> datetime:
    """The first run strictly after ``after``, in UTC at millisecond precision."""
    return next_runs(expression, timezone, after=after, count=1)[0]


def shortest_interval(expression: str, timezone: str, *, after: datetime, runs: int = 50) -> timedelta:
    """The shortest gap between consecutive runs among the next ``runs``."""
    upcoming = next_runs(expression, timezone, after=after, count=runs)
    return min(b - a for a, b in itertools.pairwise(upcoming))
