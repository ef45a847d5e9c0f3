"""The scheduler's notion of now: real time, or (tests, drills) a faster clock from a start."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def real_clock() -> datetime:
    return datetime.now(UTC)


def fast_clock(start: datetime, speed: float) -> Clock:
    origin = time.monotonic()
    start = start if start.tzinfo else start.replace(tzinfo=UTC)

    def now() -> datetime:
        return start + timedelta(seconds=(time.monotonic() - origin) * speed)

    return now
