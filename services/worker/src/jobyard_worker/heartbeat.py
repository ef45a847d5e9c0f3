"""Keep a busy worker alive in Redis's eyes, and bring dead workers' messages back on time.

Dramatiq's Redis broker records a worker's heartbeat only as a side effect of a queue
command (fetch, ack, enqueue). A worker whose threads are all busy on long messages with
a full prefetch sends none, and after ``heartbeat_timeout`` another worker declares it
dead and requeues its in-flight messages: the same work runs twice. This middleware
beats every quarter of the timeout from its own thread while the worker lives.

With each beat it writes the process's card (:class:`jobyard_libs.queue.liveness.WorkerCard`:
host, pid, queues, threads, memory) beside it, for the console's Workers page.

The same thread sweeps the worker's queues every ``JOBYARD_QUEUE_SWEEP_SECONDS``: messages
held by workers whose heartbeat stopped go back on their queues
(:func:`jobyard_libs.queue.broker.requeue_from_dead_workers`). Dramatiq alone does that at
random (1 queue command in 1,000), which left a killed worker's messages waiting 1 to 4
minutes; with the sweep they are back within the heartbeat timeout plus the sweep interval.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import structlog
from dramatiq import Middleware, Worker
from dramatiq.brokers.redis import RedisBroker
from jobyard_libs.queue.broker import requeue_from_dead_workers
from jobyard_libs.queue.liveness import WorkerCard, card_key, workers_key
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)
FORGET_AFTER_MS = 3_600_000


def _rss_bytes() -> int | None:
    """This process's resident memory now (Linux), for its card."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def _version() -> str:
    try:
        return metadata.version("jobyard-worker")
    except metadata.PackageNotFoundError:
        return "unknown"


class WorkerHeartbeat(Middleware):
    def __init__(self, queues: Sequence[str], *, sweep_seconds: float) -> None:
        self.queues = list(queues)
        self.sweep_seconds = sweep_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def after_worker_boot(self, broker: RedisBroker, worker: Worker) -> None:  # type: ignore[override]
        beat_every = broker.heartbeat_timeout / 4000
        # the id this process beats under: the `holder` of every attempt it takes
        log.info("worker_beating", worker_id=broker.broker_id, queues=self.queues)
        keys = (f"{broker.namespace}:__heartbeats__", workers_key(broker.namespace))
        card = WorkerCard(
            id=broker.broker_id,
            host=os.environ.get("HOSTNAME") or socket.gethostname(),
            pid=os.getpid(),
            queues=self.queues,
            threads=worker.worker_threads,
            started_at=datetime.now(UTC),
            version=_version(),
        )
        card_at = card_key(broker.namespace, broker.broker_id)

        def run() -> None:
            next_beat = next_sweep = 0.0
            failing = False
            while True:
                now = time.monotonic()
                try:
                    if now >= next_beat:
                        stamp = int(time.time() * 1000)
                        for key in keys:
                            broker.client.zadd(key, {broker.broker_id: stamp})
                        card.rss_bytes = _rss_bytes()
                        broker.client.set(card_at, card.model_dump_json(by_alias=True), px=FORGET_AFTER_MS)
                        # workers dead for an hour are forgotten (their work was taken over long ago)
                        broker.client.zremrangebyscore(keys[1], "-inf", stamp - FORGET_AFTER_MS)
                        next_beat = now + beat_every
                    if now >= next_sweep:
                        requeue_from_dead_workers(broker, self.queues)
                        next_sweep = now + self.sweep_seconds
                    if failing:
                        log.info("worker_heartbeat_resumed")
                    failing = False
                except RedisError as exc:
                    if not failing:  # once per outage, not every beat
                        log.warning("worker_heartbeat_failed", error=str(exc))
                    failing = True
                    next_beat = next_sweep = now + 1.0
                if self._stop.wait(max(0.05, min(next_beat, next_sweep) - time.monotonic())):
                    return

        self._stop.clear()
        self._thread = threading.Thread(target=run, name="jobyard-heartbeat", daemon=True)
        self._thread.start()

    def after_worker_shutdown(self, broker: RedisBroker, worker: Worker) -> None:  # type: ignore[override]
        # Beat until in-flight messages are done: they are still ours while they run.
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
