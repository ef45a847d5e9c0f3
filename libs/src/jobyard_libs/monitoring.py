"""What the monitor answers at ``/api/v1/stats`` and ``/api/v1/workers``, typed: the monitor builds it, the console
reads it (with :class:`~jobyard_libs.tasks.stats.StatsSeries`, the charts' answer, the whole
contract between the two). camelCase on the wire, snake_case in Python, like every answer.

Examples
--------
>>> depth = QueueDepth(queue="tasks.default", ready=2, delayed=5, delayed_due=1, in_flight=3,
...                    dead=0, oldest_ready_age_seconds=0.5)
>>> depth.backlog, sorted(depth.model_dump(by_alias=True))[:4]
(6, ['backlog', 'dead', 'delayed', 'delayedDue'])
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from jobyard_libs.documents import IdStr
from jobyard_libs.queue.depth import QueueDepth
from jobyard_libs.schemas import Reply


class FeedItems(Reply):
    """The last parsed run's items."""

    fetched: int
    new: int
    updated: int
    unchanged: int
    failed: int


class FeedStats(Reply):
    feed: str
    state: str = Field(description="healthy, failing, stale or never_parsed")
    last_run_at: datetime | None = None
    last_checked_at: datetime | None = None  # the last run that finished, a 304 included
    last_success_at: datetime | None = None
    consecutive_failures: int = 0
    last_items: FeedItems | None = None


class KindStats(Reply):
    counts: dict[str, int] = Field(default_factory=dict, description="by status")
    duration_seconds: dict[str, float] = Field(default_factory=dict, description="p50, p95, p99")
    latency_seconds: dict[str, float] = Field(default_factory=dict, description="p50, p95, p99")


class TaskStatsWindow(Reply):
    window_seconds: float
    by_kind: dict[str, KindStats] = Field(default_factory=dict)

    def outcomes(self) -> dict[str, int]:
        """Every kind's counts added up, by status."""
        total: dict[str, int] = {}
        for kind in self.by_kind.values():
            for status, count in kind.counts.items():
                total[status] = total.get(status, 0) + count
        return total


class MonitorStats(Reply):
    """Queue depth per queue, live workers, the scheduler's leader, feed health, task outcomes."""

    queues: list[QueueDepth] = Field(default_factory=list)
    workers: int = 0
    scheduler_leader: bool = False
    refreshed_at: float | None = Field(None, description="when depth was last read (Unix seconds)")
    imports: list[FeedStats] = Field(default_factory=list)
    tasks: TaskStatsWindow | None = None


# GET /api/v1/workers (admins): the console's Workers page


class RunningOut(Reply):
    execution_id: IdStr
    task_id: IdStr
    kind: str
    attempt: int
    started_at: datetime | None


class WorkerOut(Reply):
    id: str
    host: str | None = Field(description="the pod's name in Kubernetes")
    pid: int | None
    queues: list[str]
    threads: int | None
    started_at: datetime | None
    version: str | None
    rss_bytes: int | None = Field(description="resident memory at its last beat")
    beat_at: datetime
    beat_age_seconds: float
    stale: bool = Field(
        description="no beat for longer than the heartbeat timeout: dead, or cut off from Redis"
    )
    running: list[RunningOut] = Field(description="the attempts it holds now")


class LeaderOut(Reply):
    present: bool = Field(description="some scheduler holds the leader lease")
    host: str | None = None
    pid: int | None = None
    fence: int | None = None
    tick_at: datetime | None = None
    tick_age_seconds: float | None = None


class WorkersOut(Reply):
    heartbeat_timeout_seconds: float
    workers: list[WorkerOut]
    scheduler: LeaderOut
