"""The Dramatiq broker on Redis, created explicitly (never as a side effect of an import).

Dramatiq's keys live under ``<JOBYARD_REDIS_KEY_PREFIX>dramatiq`` so that installs and
tests sharing a Redis never see each other's queues. No global broker is set: senders
pass the broker they made, and Dramatiq's CLI is pointed at ``entrypoint:broker``. The
broker's Redis client comes from the one factory (URL or Sentinel, TLS, retries), so it
follows a failover like every other client.

Usage
-----

::

    broker = create_broker(settings)          # senders (api, scheduler)
    broker = create_broker(settings, worker=True, max_retries=3)  # the worker
    requeue_from_dead_workers(broker, ["tasks.default"])  # what the worker's sweep does
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AsyncIO, CurrentMessage, Retries

from jobyard_libs.queue.contracts import Queue
from jobyard_libs.redis_client import RedisConnector
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
        client=RedisConnector.from_settings(settings).sync(),
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
        broker.add_middleware(CurrentMessage())
    for queue in Queue:
        broker.declare_queue(queue.value)
    return broker


def requeue_from_dead_workers(broker: RedisBroker, queues: Iterable[str]) -> None:
    """Put back on their queues the messages that workers which stopped beating held.

    Dramatiq does this only as a side effect of 1 queue command in 1,000 (its maintenance),
    so a dead worker's messages came back 1 to 4 minutes after its heartbeat stopped. Run
    on a timer, this bounds it to the heartbeat timeout plus the timer. It runs Dramatiq's
    own dispatch script with maintenance forced and no command, so it moves exactly what
    Dramatiq's maintenance would (delay queues included) and nothing else.
    """
    dispatch = broker.scripts["dispatch"]
    now_ms = int(time.time() * 1000)
    unpack = broker._max_unpack_size()  # type: ignore[no-untyped-call]  # Dramatiq's bound for its script
    fixed = [broker.broker_id, broker.heartbeat_timeout, broker.dead_message_ttl, 1, unpack]
    for queue in queues:
        for name in (queue, f"{queue}.DQ"):
            # command (none: maintenance only), now, queue, worker, heartbeat timeout,
            # dead-letter TTL, do maintenance (1), unpack size
            dispatch(args=["sweep", now_ms, name, *fixed], keys=[broker.namespace])


def messages_present(broker: RedisBroker, messages: Sequence[tuple[str, str]]) -> list[bool]:
    """For each ``(queue, message id)``: does Redis still hold that message (queued, delayed,
    or fetched by a worker and not acknowledged)? One pipelined round trip."""
    if not messages:
        return []
    pipe = broker.client.pipeline(transaction=False)
    for queue, message_id in messages:
        base = f"{broker.namespace}:{queue}"
        pipe.hexists(f"{base}.msgs", message_id)
        pipe.hexists(f"{base}.DQ.msgs", message_id)
    found = pipe.execute()
    return [bool(found[2 * i] or found[2 * i + 1]) for i in range(len(messages))]
