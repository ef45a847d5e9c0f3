"""The Dramatiq broker on Redis, created explicitly (never as a side effect of an import).

Dramatiq's keys live under ``<JOBYARD_REDIS_KEY_PREFIX>dramatiq`` so that installs and
tests sharing a Redis never see each other's queues. No global broker is set: senders
pass the broker they made, and Dramatiq's CLI is pointed at ``entrypoint:broker``.

Examples
--------
>>> broker = create_broker(settings)          # senders (api, scheduler)
>>> broker = create_broker(settings, worker=True, max_retries=3)  # the worker
"""

from __future__ import annotations

from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AsyncIO, Retries

from jobyard_libs.queue.contracts import Queue
from jobyard_libs.settings import BaseServiceSettings


def broker_namespace(settings: BaseServiceSettings) -> str:
    return f"{settings.redis_key_prefix}dramatiq"


def create_broker(
    settings: BaseServiceSettings,
    *,
    worker: bool = False,
    max_retries: int = 3,
    min_backoff_ms: int = 2000,
    max_backoff_ms: int = 8000,
) -> RedisBroker:
    broker = RedisBroker(  # type: ignore[no-untyped-call]  # dramatiq leaves __init__ unannotated
        url=settings.redis_url,
        namespace=broker_namespace(settings),
        heartbeat_timeout=settings.queue_heartbeat_timeout_ms,
        maintenance_chance=settings.queue_maintenance_chance,
    )
    for middleware in broker.middleware:
        if isinstance(middleware, Retries):
            middleware.max_retries = max_retries
            middleware.min_backoff = min_backoff_ms
            middleware.max_backoff = max_backoff_ms
    if worker:
        broker.add_middleware(AsyncIO())
    for queue in Queue:
        broker.declare_queue(queue.value)
    return broker
