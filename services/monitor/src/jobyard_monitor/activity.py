"""What the platform did lately: each feed's recent imports and the tasks' outcomes.

Read on the refresh interval, exported as gauges and ``GET /status``.

Feed health: each enabled feed's last 10 import logs, through the ``feedUrl`` + newest
index (bounded by the number of feeds). Task outcomes: the per-minute counters and samples
in Redis (:mod:`jobyard_libs.tasks.stats`) over the window, so the cost does not grow with
the executions stored. A scrape reads neither; it serves the last reading.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from jobyard_libs.imports.documents import ImportLog
from jobyard_libs.imports.feed_sources import FeedSourceRepository
from jobyard_libs.imports.import_logs import UNWATCHED, ImportLogRepository
from jobyard_libs.imports.models import ImportStatus
from jobyard_libs.mongo import Database
from jobyard_libs.tasks.stats import TaskStats
from prometheus_client import Gauge

FINISHED = {ImportStatus.COMPLETED, ImportStatus.FAILED, ImportStatus.NOT_MODIFIED}
SUCCEEDED = {ImportStatus.COMPLETED, ImportStatus.NOT_MODIFIED}
RUNS_READ = 10  # per feed: enough to count consecutive failures up to 10
QUANTILES = (0.5, 0.95, 0.99)

LAST_RUN = Gauge(
    "jobyard_import_last_run_timestamp_seconds", "When the feed's last import started.", ["feed"]
)
LAST_SUCCESS = Gauge(
    "jobyard_import_last_success_timestamp_seconds", "When the feed last imported successfully.", ["feed"]
)
CONSECUTIVE_FAILURES = Gauge(
    "jobyard_import_consecutive_failures",
    "Failed imports in a row, newest first (0 after a success).",
    ["feed"],
)
LAST_ITEMS = Gauge(
    "jobyard_import_last_items",
    "Items of the feed's last finished import, by result: fetched, new, updated, unchanged, failed.",
    ["feed", "result"],
)
TASK_EXECUTIONS = Gauge(
    "jobyard_task_executions_recent",
    "Executions completed within the stats window, by kind and status.",
    ["kind", "status"],
)
TASK_DURATION = Gauge(
    "jobyard_task_duration_seconds",
    "Run time of executions completed within the window.",
    ["kind", "quantile"],
)
TASK_LATENCY = Gauge(
    "jobyard_task_latency_seconds",
    "Due time to completion of executions completed within the window (queueing + retries + run).",
    ["kind", "quantile"],
)
WINDOW = Gauge("jobyard_task_stats_window_seconds", "The window the task stats cover.")


@dataclass
class FeedHealth:
    feed: str
    last_run_at: datetime | None = None
    last_success_at: datetime | None = None
    consecutive_failures: int = 0
    last_items: dict[str, int] = field(default_factory=dict)


@dataclass
class TaskOutcomes:
    """The task stats of the window, with their quantiles worked out."""

    window_seconds: float
    counts: dict[tuple[str, str], int]
    duration: dict[str, dict[float, float]]
    latency: dict[str, dict[float, float]]

    def as_dict(self) -> dict[str, Any]:
        kinds = sorted({k for k, _ in self.counts})
        return {
            "windowSeconds": self.window_seconds,
            "byKind": {
                kind: {
                    "counts": {s: n for (k, s), n in self.counts.items() if k == kind},
                    "durationSeconds": {
                        f"p{int(q * 100)}": v for q, v in self.duration.get(kind, {}).items()
                    },
                    "latencySeconds": {f"p{int(q * 100)}": v for q, v in self.latency.get(kind, {}).items()},
                }
                for kind in kinds
            },
        }


class ActivityWatcher:
    """Reads feed health and task outcomes on the refresh interval; keeps the last reading."""

    def __init__(self, db: Database, stats: TaskStats, window: timedelta) -> None:
        self.sources = FeedSourceRepository(db)
        self.logs = ImportLogRepository(db, UNWATCHED)
        self.stats, self.window = stats, window
        self.feeds: list[FeedHealth] = []
        self.tasks = TaskOutcomes(window.total_seconds(), {}, {}, {})

    async def refresh(self) -> None:
        feeds, tasks = await self.feed_health(), await task_outcomes(self.stats, self.window)
        export(feeds, tasks)
        self.feeds, self.tasks = feeds, tasks

    def as_dict(self) -> dict[str, Any]:
        def when(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment else None

        return {
            "imports": [
                {"feed": f.feed, "lastRunAt": when(f.last_run_at), "lastSuccessAt": when(f.last_success_at),
                 "consecutiveFailures": f.consecutive_failures, "lastItems": f.last_items}
                for f in self.feeds
            ],
            "tasks": self.tasks.as_dict(),
        }  # fmt: skip

    async def feed_health(self) -> list[FeedHealth]:
        """Each enabled feed's last runs, through the feed + newest index: bounded by the feeds."""
        return [
            _health(source.url, await self.logs.latest(source.url, RUNS_READ))
            for source in await self.sources.enabled()
        ]


def _health(url: str, runs: list[ImportLog]) -> FeedHealth:
    health = FeedHealth(url, last_run_at=runs[0].timestamp if runs else None)
    finished = [r for r in runs if r.status in FINISHED]
    for run in finished:
        if run.status in SUCCEEDED:
            break
        health.consecutive_failures += 1
    success = next((r for r in finished if r.status in SUCCEEDED), None)
    if success is not None:
        health.last_success_at = success.finished_at or success.timestamp
    if finished:
        last = finished[0]
        health.last_items = {
            "fetched": last.total_fetched, "new": last.new_jobs, "updated": last.updated_jobs,
            "unchanged": last.unchanged_jobs, "failed": last.failed_count,
        }  # fmt: skip
    return health


async def task_outcomes(stats: TaskStats, window: timedelta) -> TaskOutcomes:
    read = await stats.read(window)
    return TaskOutcomes(read.seconds, read.counts, _quantiles(read.durations), _quantiles(read.latencies))


def _quantiles(samples: dict[str, list[float]]) -> dict[str, dict[float, float]]:
    result = {}
    for kind, values in samples.items():
        if len(values) == 1:
            result[kind] = dict.fromkeys(QUANTILES, values[0])
        elif values:
            cuts = statistics.quantiles(values, n=100, method="inclusive")
            result[kind] = {q: cuts[int(q * 100) - 1] for q in QUANTILES}
    return result


def export(feeds: list[FeedHealth], tasks: TaskOutcomes) -> None:
    for gauge in (LAST_RUN, LAST_SUCCESS, CONSECUTIVE_FAILURES, LAST_ITEMS, TASK_EXECUTIONS, TASK_DURATION,
                  TASK_LATENCY):  # fmt: skip
        gauge.clear()  # a deleted feed or a quiet kind leaves no stale series
    for f in feeds:
        if f.last_run_at is not None:
            LAST_RUN.labels(f.feed).set(f.last_run_at.timestamp())
        LAST_SUCCESS.labels(f.feed).set(f.last_success_at.timestamp() if f.last_success_at else 0)
        CONSECUTIVE_FAILURES.labels(f.feed).set(f.consecutive_failures)
        for result, n in f.last_items.items():
            LAST_ITEMS.labels(f.feed, result).set(n)
    WINDOW.set(tasks.window_seconds)
    for (kind, status), n in tasks.counts.items():
        TASK_EXECUTIONS.labels(kind, status).set(n)
    for gauge, table in ((TASK_DURATION, tasks.duration), (TASK_LATENCY, tasks.latency)):
        for kind, quantiles in table.items():
            for q, v in quantiles.items():
                gauge.labels(kind, str(q)).set(v)
