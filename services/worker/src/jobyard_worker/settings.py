"""The worker's settings (``JOBYARD_`` prefix)."""

from __future__ import annotations

from jobyard_libs.imports.settings import ImportSettings
from jobyard_libs.queue.contracts import Queue
from jobyard_libs.tasks.settings import TaskSettings
from pydantic import Field


class WorkerSettings(ImportSettings, TaskSettings):
    worker_processes: int = Field(1, ge=1, le=64, description="Worker processes (Dramatiq --processes).")
    worker_threads: int = Field(
        8, ge=1, le=256, description="Threads per worker process (Dramatiq --threads)."
    )
    worker_queues: list[Queue] = Field(
        default_factory=lambda: list(Queue), description="Queues this worker consumes (JSON list)."
    )
    task_cancel_poll_seconds: float = Field(
        0.5, gt=0, description="How often a running task checks for a cancel."
    )
    task_processing_write_after_ms: int = Field(
        250,
        ge=0,
        le=60_000,
        description="An attempt is claimed in Redis and written 'processing' to MongoDB only once it has run "
        "this long (a shorter one is written once, with its outcome: 3 writes a task instead of 4); 0: every "
        "attempt is claimed in MongoDB, and shows as processing at once.",
    )
    worker_idle_poll_max_ms: int = Field(
        100,
        ge=10,
        le=10_000,
        description="Longest wait between polls of an empty queue (Dramatiq's worker timeout, 1000 by default): "
        "the most a message that lands on an idle queue waits to be fetched.",
    )
    worker_group_commit_ms: float = Field(
        2.0,
        ge=0,
        le=100,
        description="Claims and attempt outcomes arriving within this many ms of each other are written to "
        "MongoDB in one command (group commit); each message is acknowledged only once its outcome is written.",
    )
    worker_prefetch: int = Field(
        0,
        ge=0,
        description="Messages a process fetches ahead per queue; 0: one per thread, so a busy worker holds no "
        "message it cannot start and a free one takes it (a dead worker's redelivered tasks too); raise it "
        "(Dramatiq's default is 2 x threads) for the throughput of very short tasks.",
    )
    worker_metrics_port: int = Field(
        9191, description="Port the worker serves /metrics on (summed over its processes); 0: off."
    )
    worker_metrics_dir: str = Field(
        "/tmp/jobyard-worker-metrics",  # noqa: S108 - an emptyDir in the chart
        description="Folder the worker processes share their metric samples through (emptied at start).",
    )
