"""When a recurring task runs next: cron (5 fields, or 6 with seconds last) in a time zone.

croniter walks the *wall clock* of the task's zone; this module turns wall-clock moments
into instants with the rule Debian's cron (Vixie cron) follows across daylight-saving
changes, so a daily job runs once a day whatever the clocks do:

- **clocks go back** (a wall-clock hour happens twice): a job at a fixed hour runs once, at
  the first pass; a job whose hour field is a wildcard (``*``, ``*/2``) runs in both passes,
  as its interval says in real time;
- **clocks go forward** (a wall-clock hour never happens): a job at a fixed hour whose time
  falls in the gap runs once, at the moment the clocks jump; a wildcard-hour job skips the
  moments that do not exist.

Only standard cron syntax is accepted: numbers, ``*``, ranges, lists, steps, and English
month and weekday names. croniter's extensions (``R`` random, ``H`` hashed, ``L``, ``W``,
``#``, ``?``) are refused: ``R`` even draws a new time at every computation.

Usage
-----

::

    next_run("30 2 * * *", "Europe/Berlin", after=datetime(2026, 3, 29, tzinfo=UTC))
    # → datetime.datetime(2026, 3, 29, 1, 0, tzinfo=datetime.timezone.utc)  # 02:30 does not exist: 03:00 CEST
    next_runs("30 2 * * *", "Europe/Berlin", after=datetime(2026, 10, 24, 12, tzinfo=UTC), count=2)
    # → [2026-10-25 00:30 UTC (02:30 CEST, once), 2026-10-26 01:30 UTC]
"""

from __future__ import annotations

import heapq
import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cron_descriptor import get_description
from croniter import croniter
from croniter.croniter import CroniterError

NAMES = {
    3: "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC",
    4: "SUN|MON|TUE|WED|THU|FRI|SAT",
}
LOOKBACK = timedelta(hours=3)  # more than any zone's daylight-saving shift


class BadSchedule(ValueError):
    pass


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadSchedule(f"unknown time zone {name!r}") from exc


def _standard(field: str, position: int) -> bool:
    names = NAMES.get(position)
    atom = r"(\*|\d+" + (f"|{names}" if names else "") + r")"
    term = rf"{atom}(-{atom})?(/\d+)?"
    return re.fullmatch(rf"{term}(,{term})*", field, flags=re.IGNORECASE) is not None


def validate_cron(expression: str) -> str:
    """The expression, normalised; :class:`BadSchedule` when it is malformed, uses syntax that
    is not standard cron, or never fires (``0 0 30 2 *``: February has no 30th)."""
    fields = expression.split()
    if len(fields) not in (5, 6):
        raise BadSchedule("cron needs 5 fields (minute hour day month weekday), or 6 with seconds last")
    for position, field in enumerate(fields[:5]):
        if not _standard(field, position):
            raise BadSchedule(f"invalid cron {expression!r}: {field!r} is not standard cron syntax")
    if len(fields) == 6 and not _standard(fields[5], 0):
        raise BadSchedule(f"invalid cron {expression!r}: {fields[5]!r} is not standard cron syntax")
    normalised = " ".join(fields)
    try:
        croniter(normalised, datetime(2026, 1, 1)).get_next(datetime)
    except (CroniterError, ValueError, KeyError, TypeError) as exc:
        raise BadSchedule(f"invalid cron {expression!r}: {exc}") from exc
    return normalised


def _jump(before: datetime, after: datetime, tz: ZoneInfo) -> datetime:
    """The instant (to the second) between ``before`` and ``after`` when ``tz``'s offset changes."""
    low, high = before, after
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).utcoffset() == low.astimezone(tz).utcoffset():
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)


def _instants(wall: datetime, tz: ZoneInfo, wildcard_hour: bool) -> list[datetime]:
    """The instants at which the wall-clock moment ``wall`` fires, by the rule above."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first == second:
        return [first]
    exists = first.astimezone(tz).replace(tzinfo=None) == wall
    if exists:  # the repeated hour: fold 0 is the first pass
        return [first, second] if wildcard_hour else [first]
    # the skipped hour: fold 1 reads it with the later offset, so it lies before the jump
    return [] if wildcard_hour else [_jump(second, first, tz)]


def _shift_near(instant: datetime, tz: ZoneInfo) -> timedelta:
    """How far the zone's offset moves within ``LOOKBACK`` of ``instant`` (zero, mostly)."""
    before, after = (
        (instant - LOOKBACK).astimezone(tz).utcoffset(),
        (instant + LOOKBACK).astimezone(tz).utcoffset(),
    )
    assert before is not None and after is not None
    return abs(after - before)


def _runs(expression: str, tz: ZoneInfo, after: datetime) -> Iterator[datetime]:
    """Every instant the cron fires strictly after ``after``, in order."""
    wildcard_hour = expression.split()[1].startswith("*")
    local = after.astimezone(tz)
    start = local.replace(tzinfo=None)
    if wildcard_hour and local.fold == 0 and local.replace(fold=1).astimezone(UTC) != after:
        # ``after`` is in the first pass of a repeated hour: the second pass of wall-clock
        # moments before its own still lies ahead
        start -= _shift_near(after, tz)
    walls = croniter(expression, start)
    pending: list[datetime] = []
    last: datetime | None = None
    while True:
        wall = walls.get_next(datetime)
        found = _instants(wall, tz, wildcard_hour)
        for instant in found:
            if instant > after:
                heapq.heappush(pending, instant)
        if not found:
            continue  # a moment the clocks skipped, for a wildcard hour: nothing fires
        # no later wall-clock moment fires before this one's first instant: readings rise with
        # the wall clock, except across a skipped hour, whose moments fire at the jump
        horizon = min(found)
        while pending and pending[0] <= horizon:
            instant = heapq.heappop(pending)
            if instant != last:  # several skipped moments of a fixed hour all fire at the jump: once
                last = instant
                yield instant


def next_runs(expression: str, timezone: str, *, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` runs strictly after ``after``, in UTC at millisecond precision."""
    runs = _runs(validate_cron(expression), zone(timezone), after.astimezone(UTC))
    try:
        found = list(itertools.islice(runs, count))
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


def describe(expression: str) -> str:
    """The expression in English words (cron-descriptor), seconds included."""
    fields = validate_cron(expression).split()
    words = str(get_description(" ".join(fields[:5])))
    return f"{words}, at second {fields[5]}" if len(fields) == 6 else words


class ScheduleRefused(BadSchedule):
    """A submitted schedule that cannot be accepted, naming its field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def first_run(
    delayed: bool,
    scheduled_at: datetime | None,
    cron: str | None,
    timezone: str,
    *,
    least: timedelta,
    now: datetime,
) -> datetime | None:
    """When delayed (``delayed``) or recurring (``cron`` given) work first runs: ``None``
    for neither. :class:`ScheduleRefused` names the field at fault: a zone that does not
    exist, a ``scheduledAt`` without a zone or not in the future, a cron that is malformed
    or fires less than ``least`` apart (the owner's role's floor)."""
    try:
        zone(timezone)
    except BadSchedule as exc:
        raise ScheduleRefused("timezone", str(exc)) from exc
    if delayed:
        if scheduled_at is None:
            raise ScheduleRefused("scheduledAt", "delayed work needs scheduledAt")
        if scheduled_at.tzinfo is None:
            raise ScheduleRefused("scheduledAt", "scheduledAt needs a time zone (e.g. Z)")
        if scheduled_at <= now:
            raise ScheduleRefused("scheduledAt", "scheduledAt is in the past")
        return scheduled_at
    if cron is None:
        return None
    try:
        following = next_run(cron, timezone, after=now)
        gap = shortest_interval(cron, timezone, after=now)
    except BadSchedule as exc:
        raise ScheduleRefused("cron", str(exc)) from exc
    if gap < least:
        raise ScheduleRefused(
            "cron",
            f"cron runs every {gap.total_seconds():g} s; at least {least.total_seconds():g} s apart allowed",
        )
    return following
