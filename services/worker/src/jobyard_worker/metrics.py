"""Worker metrics, correct across Dramatiq's worker processes.

``jobyard-worker`` points ``PROMETHEUS_MULTIPROC_DIR`` at an emptied folder before it
starts Dramatiq, so every worker process writes its samples there; one forked process
(Dramatiq's ``forks``) serves them summed on ``JOBYARD_WORKER_METRICS_PORT``. Run
in-process (tests), the same metrics live in the default registry.

The middleware sits first in Dramatiq's chain, so its ``after_*`` hooks run last and see
whether Retries gave up on a message (``dead``) or will retry it (``retried``).
"""

from __future__ import annotations

import os
import shutil
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dramatiq
from dramatiq.broker import MessageProxy
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from jobyard_worker.settings import WorkerSettings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LABELS = ["queue", "actor"]

MESSAGES = Counter(
    "jobyard_worker_messages_total",
    "Messages a worker finished, by outcome: succeeded, retried (failed, will retry), dead, skipped.",
    [*LABELS, "outcome"],
)
DURATION = Histogram(
    "jobyard_worker_message_duration_seconds",
    "Time a worker spent on one message.",
    LABELS,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
)
IN_PROGRESS = Gauge(
    "jobyard_worker_messages_in_progress",
    "Messages being processed right now.",
    LABELS,
    multiprocess_mode="livesum",
)


def prepare_multiprocess_dir(folder: Path) -> None:
    """An empty folder for this worker's samples (stale files would be summed in)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(folder)


class WorkerMetrics(dramatiq.Middleware):
    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    @property
    def forks(self) -> list[Any]:
        return (
            [serve_metrics] if os.environ.get(MULTIPROC_ENV) and WorkerSettings().worker_metrics_port else []
        )

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        IN_PROGRESS.labels(message.queue_name, message.actor_name).inc()
        self._started[message.message_id] = time.perf_counter()

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        labels = (message.queue_name, message.actor_name)
        started = self._started.pop(message.message_id, None)
        if started is not None:
            DURATION.labels(*labels).observe(time.perf_counter() - started)
            IN_PROGRESS.labels(*labels).dec()
        if exception is None:
            outcome = "succeeded"
        else:
            outcome = "dead" if getattr(message, "failed", False) else "retried"
        MESSAGES.labels(*labels, outcome).inc()

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        MESSAGES.labels(message.queue_name, message.actor_name, "skipped").inc()

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        folder = os.environ.get(MULTIPROC_ENV)
        if folder:
            multiprocess.mark_process_dead(os.getpid(), folder)  # type: ignore[no-untyped-call]


class _MetricsHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path in ("/healthz", "/readyz"):  # the pod's probes: this process answers while the worker runs
            body, content_type = b"ok\n", "text/plain"
        elif path == "/metrics":
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            body, content_type = generate_latest(registry), CONTENT_TYPE_LATEST
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


def serve_metrics() -> int:
    """Dramatiq runs this in its own forked process; it stops it with SIGTERM."""
    settings = WorkerSettings()
    server = ThreadingHTTPServer((settings.metrics_host, settings.worker_metrics_port), _MetricsHandler)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
