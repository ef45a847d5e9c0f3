"""A dependency being away, told apart from a bug, and logged once per outage.

An *outage* is MongoDB or Redis unreachable (connection refused or reset, no server to
select, a timeout on the wire): waiting fixes it. Every other error is a bug or bad data
and is handled as such. HTTP services answer an outage with 503 and ``Retry-After``; loops
(scheduler, monitor, worker) wait with a capped backoff and go on when it is over.

Usage
-----

::

    dependency_of(ServerSelectionTimeoutError("no primary"))
    # → 'mongodb'
    watch = OutageLog("scheduler")
    watch.failed("mongodb", exc)   # logs "dependency_lost" once, however many polls fail
    watch.recovered("mongodb")     # logs "dependency_back" with how long it was away
"""

from __future__ import annotations

import time

import structlog
from pymongo.errors import ConnectionFailure, ExecutionTimeout, WTimeoutError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from jobyard_libs.backoff import backoff

log = structlog.get_logger(__name__)
MONGODB_OUTAGES = (ConnectionFailure, ExecutionTimeout, WTimeoutError)
REDIS_OUTAGES = (RedisConnectionError, RedisTimeoutError)
OUTAGES = (*MONGODB_OUTAGES, *REDIS_OUTAGES)


def dependency_of(exc: BaseException) -> str | None:
    """``"mongodb"`` or ``"redis"`` when ``exc`` means that dependency is away, else ``None``."""
    if isinstance(exc, MONGODB_OUTAGES):
        return "mongodb"
    if isinstance(exc, REDIS_OUTAGES):
        return "redis"
    return None


def backoff_seconds(failures: int, *, base: float = 0.5, cap: float = 30.0) -> float:
    """How long to wait out an outage after ``failures`` failures in a row (the one rule:
    :func:`jobyard_libs.backoff.backoff`), 0.5 s doubling up to 30 s unless told."""
    return backoff(failures, base=base, cap=cap)


class OutageLog:
    """Logs the start and the end of each outage, never every failed poll in between."""

    def __init__(self, process: str) -> None:
        self.process = process
        self.since: dict[str, float] = {}

    def failed(self, dependency: str, exc: BaseException) -> None:
        if dependency not in self.since:
            self.since[dependency] = time.monotonic()
            log.warning("dependency_lost", process=self.process, dependency=dependency, error=str(exc)[:300])

    def recovered(self, dependency: str | None = None) -> None:
        for name in [dependency] if dependency else list(self.since):
            started = self.since.pop(name, None) if name else None
            if started is not None:
                log.info(
                    "dependency_back",
                    process=self.process,
                    dependency=name,
                    away_seconds=round(time.monotonic() - started, 1),
                )

    @property
    def away(self) -> bool:
        return bool(self.since)
