"""Build the worker's broker: what ``entrypoint`` does for the Dramatiq CLI, and tests in-process."""

from __future__ import annotations

from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AgeLimit
from jobyard_libs.queue.broker import create_broker

from jobyard_worker.actor_registry import register_actors
from jobyard_worker.context import MessageContext, WorkerContextMiddleware
from jobyard_worker.heartbeat import WorkerHeartbeat
from jobyard_worker.imports import actors as import_actors
from jobyard_worker.metrics import WorkerMetrics
from jobyard_worker.settings import WorkerSettings
from jobyard_worker.tasks import actors as task_actors
from jobyard_worker.tasks import webhooks as task_webhooks

ACTOR_MODULES = (import_actors, task_actors, task_webhooks)  # importing them records their actors


def create_worker_broker(settings: WorkerSettings) -> RedisBroker:
    broker = create_broker(
        settings,
        worker=True,
        max_retries=settings.import_max_retries,
        min_backoff_ms=settings.import_min_backoff_ms,
        max_backoff_ms=settings.import_max_backoff_ms,
    )
    broker.add_middleware(
        WorkerHeartbeat([q.value for q in settings.worker_queues], sweep_seconds=settings.queue_sweep_seconds)
    )
    broker.add_middleware(MessageContext(), before=AgeLimit)  # first in, last out: wraps the rest
    broker.add_middleware(WorkerMetrics(), before=MessageContext)  # its after_* see Retries' verdict
    broker.add_middleware(WorkerContextMiddleware(settings))
    register_actors(broker, outage_wait_max_seconds=settings.outage_retry_max_seconds)
    return broker
