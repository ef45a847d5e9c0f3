"""What the platform did lately: each feed's recent imports and the tasks' outcomes.

Read on the refresh interval, exported as gauges and ``GET /status``.

Feed health: each enabled feed's last 10 import logs, through the ``feedUrl`` + newest
index (bounded by the number of feeds), and its source's last success. Health comes from
real parses only: a ``304 Not Modified`` says the answer did not change since the last
import that *completed* (validators are kept only then), so it neither heals a failing
feed nor breaks a healthy one. A feed is, in this order:

- ``failing``: its last real parse failed (``consecutiveFailures`` of them in a row);
- ``never_parsed``: no import of it ever completed (none finished yet, or none ran);
- ``stale``: nothing of it finished (parse or 304) for ``JOBYARD_MONITOR_FEED_STALE_SECONDS``:
  the hourly import is not running for it;
- ``healthy``: otherwise. Task outcomes: the per-minute counters and samples
in Redis (:mod:`jobyard_libs.tasks.stats`) over the window, so the cost does not grow with
the executions stored. A scrape reads neither; it serves the last reading.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from jobyard_libs.imports.documents import FeedSource, ImportLog
from jobyard_libs.imports.feed_sources import FeedSourceRepository
from jobyard_libs.imports.import_logs import UNWATCHED, ImportLogRepository
from jobyard_libs.imports.models import ImportStatus
from jobyard_libs.mongo import Database, utcnow
from jobyard_libs.monitoring import FeedItems, FeedStats, KindStats, TaskStatsWindow
from jobyard_libs.tasks.stats import QUANTILES, TaskStats
from prometheus_client import Gauge

FINISHED = {ImportStatus.COMPLETED, ImportStatus.FAILED, ImportStatus.NOT_MODIFIED}
PARSED = {ImportStatus.COMPLETED, ImportStatus.FAILED}  # real parses: a 304 is neither
RUNS_READ = 10  # per feed: enough to count consecutive failures up to 10
STATES = ("healthy", "failing", "stale", "never_parsed")

LAST_RUN = Gauge(
    "jobyard_import_last_run_timestamp_seconds", "When the feed's last import started.", ["feed"]
)
LAST_SUCCESS = Gauge(
    "jobyard_import_last_success_timestamp_seconds", "When the feed last imported successfully.", ["feed"]
)
CONSECUTIVE_FAILURES = Gauge(
    "jobyard_import_consecutive_failures",
    "Failed imports in a row, newest first (0 after a success; a 304 Not Modified is neither).",
    ["feed"],
)
FEED_STATE = Gauge(
    "jobyard_import_feed_state",
    "1 for the feed's health state (healthy, failing, stale, never_parsed), 0 for the others.",
    ["feed", "state"],
)
LAST_ITEMS = Gauge(
    "jobyard_import_last_items",
    "Items of the feed's last finished import, by result: fetched, new, updated, unchanged, failed.",
    ["feed", "result"],
)
TASK_EXECUTIONS = Gauge(
    "jobyard_task_executions_recent",
    "Executions that ended within the stats window, by kind and status (completed, dead, cancelled),"
    " and attempts that failed and were retried (status retrying).",
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
    state: str = "never_parsed"
    last_run_at: datetime | None = None
    last_checked_at: datetime | None = None  # the last run that finished, a 304 included
    last_success_at: datetime | None = None
    consecutive_failures: int = 0
    last_items: FeedItems | None = None


@dataclass
class TaskOutcomes:
    """The task stats of the window, with their quantiles worked out."""

    window_seconds: float
    counts: dict[tuple[str, str], int]
    duration: dict[str, dict[float, float]]
    latency: dict[str, dict[float, float]]

    def reply(self) -> TaskStatsWindow:
        kinds = sorted({k for k, _ in self.counts})
        return TaskStatsWindow(
            window_seconds=self.window_seconds,
            by_kind={
                kind: KindStats(
                    counts={s: n for (k, s), n in self.counts.items() if k == kind},
                    duration_seconds={f"p{int(q * 100)}": v for q, v in self.duration.get(kind, {}).items()},
                    latency_seconds={f"p{int(q * 100)}": v for q, v in self.latency.get(kind, {}).items()},
                )
                for kind in kinds
            },
        )


class ActivityWatcher:
    """Reads feed health and task outcomes on the refresh interval; keeps the last reading."""

    def __init__(
        self,
        db: Database,
        stats: TaskStats,
        window: timedelta,
        *,
        stale_after: timedelta = timedelta(hours=3),
    ) -> None:
        self.stale_after = stale_after
        self.sources = FeedSourceRepository(db)
        self.logs = ImportLogRepository(db, UNWATCHED)
        self.stats, self.window = stats, window
        self.feeds: list[FeedHealth] = []
        self.tasks = TaskOutcomes(window.total_seconds(), {}, {}, {})

    async def refresh(self) -> None:
        feeds, tasks = await self.feed_health(), await task_outcomes(self.stats, self.window)
        export(feeds, tasks)
        self.feeds, self.tasks = feeds, tasks

    def feeds_reply(self) -> list[FeedStats]:
        return [
            FeedStats(
                feed=f.feed,
                state=f.state,
                last_run_at=f.last_run_at,
                last_checked_at=f.last_checked_at,
                last_success_at=f.last_success_at,
                consecutive_failures=f.consecutive_failures,
                last_items=f.last_items,
            )
            for f in self.feeds
        ]

    async def feed_health(self) -> list[FeedHealth]:
        """Each enabled feed's last runs, through the feed + newest index: bounded by the feeds."""
        now = utcnow()
        return [
            feed_health(source, await self.logs.latest(source.url, RUNS_READ), now, self.stale_after)
            for source in await self.sources.enabled()
        ]


def feed_health(
    source: FeedSource, runs: list[ImportLog], now: datetime, stale_after: timedelta
) -> FeedHealth:
    """A feed's health from its newest runs (newest first) and its source's record."""
    health = FeedHealth(source.url, last_run_at=runs[0].timestamp if runs else None)
    finished = [r for r in runs if r.status in FINISHED]
    parsed = [r for r in finished if r.status in PARSED]
    for run in parsed:
        if run.status is ImportStatus.COMPLETED:
            break
        health.consecutive_failures += 1
    success = next((r for r in parsed if r.status is ImportStatus.COMPLETED), None)
    health.last_success_at = source.last_success_at or (
        success.finished_at or success.timestamp if success else None
    )
    if finished:
        health.last_checked_at = finished[0].finished_at or finished[0].timestamp
    if parsed:
        last = parsed[0]
        health.last_items = FeedItems(
            fetched=last.total_fetched,
            new=last.new_jobs,
            updated=last.updated_jobs,
            unchanged=last.unchanged_jobs,
            failed=last.failed_count,
        )
    if health.consecutive_failures:
        health.state = "failing"
    elif health.last_success_at is None:
        health.state = "never_parsed"
    elif health.last_checked_at is None or now - health.last_checked_at > stale_after:
        health.state = "stale"
    else:
        health.state = "healthy"
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
    gauges = (LAST_RUN, LAST_SUCCESS, CONSECUTIVE_FAILURES, FEED_STATE, LAST_ITEMS)
    for gauge in (*gauges, TASK_EXECUTIONS, TASK_DURATION, TASK_LATENCY):
        gauge.clear()  # a deleted feed or a quiet kind leaves no stale series
    for f in feeds:
        if f.last_run_at is not None:
            LAST_RUN.labels(f.feed).set(f.last_run_at.timestamp())
        LAST_SUCCESS.labels(f.feed).set(f.last_success_at.timestamp() if f.last_success_at else 0)
        CONSECUTIVE_FAILURES.labels(f.feed).set(f.consecutive_failures)
        for state in STATES:
            FEED_STATE.labels(f.feed, state).set(int(state == f.state))
        for result, n in (f.last_items.model_dump() if f.last_items else {}).items():
            LAST_ITEMS.labels(f.feed, result).set(n)
    WINDOW.set(tasks.window_seconds)
    for (kind, status), n in tasks.counts.items():
        TASK_EXECUTIONS.labels(kind, status).set(n)
    for gauge, table in ((TASK_DURATION, tasks.duration), (TASK_LATENCY, tasks.latency)):
        for kind, quantiles in table.items():
            for q, v in quantiles.items():
                gauge.labels(kind, str(q)).set(v)
