"""Keep a busy worker alive in Redis's eyes.

Dramatiq's Redis broker records a worker's heartbeat only as a side effect of a queue
command (fetch, ack, enqueue). A worker whose threads are all busy on long messages with
a full prefetch sends none, and after ``heartbeat_timeout`` another worker declares it
dead and requeues its in-flight messages: the same work runs twice. This middleware
beats every quarter of the timeout from its own thread while the worker lives.
"""

from __future__ import annotations

import threading
import time

import structlog
from dramatiq import Middleware, Worker
from dramatiq.brokers.redis import RedisBroker
from jobyard_libs.queue.depth import workers_key
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)


class WorkerHeartbeat(Middleware):
    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def after_worker_boot(self, broker: RedisBroker, worker: Worker) -> None:  # type: ignore[override]
        interval = broker.heartbeat_timeout / 4000

        def beat() -> None:
            keys = (f"{broker.namespace}:__heartbeats__", workers_key(broker.namespace))
            while not self._stop.wait(interval):
                try:
                    now = int(time.time() * 1000)
                    for key in keys:
                        broker.client.zadd(key, {broker.broker_id: now})
                except RedisError as exc:
                    log.warning("worker_heartbeat_failed", error=str(exc))

        self._stop.clear()
        self._thread = threading.Thread(target=beat, name="jobyard-heartbeat", daemon=True)
        self._thread.start()

    def after_worker_shutdown(self, broker: RedisBroker, worker: Worker) -> None:  # type: ignore[override]
        # Beat until in-flight messages are done: they are still ours while they run.
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
