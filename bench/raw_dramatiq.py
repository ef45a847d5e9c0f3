"""The raw Dramatiq baseline: a no-op actor that counts its runs in Redis.

Dramatiq's CLI imports this module (``python -m dramatiq bench.raw_dramatiq``); the broker
comes from ``BENCH_REDIS_URL``.
"""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from redis import Redis

QUEUE = "raw"
COUNTER = "bench:dramatiq:done"
broker = RedisBroker(url=os.environ["BENCH_REDIS_URL"], namespace="bench-raw")  # type: ignore[no-untyped-call]
dramatiq.set_broker(broker)
_counter = Redis.from_url(os.environ["BENCH_REDIS_URL"])


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def noop() -> None:
    _counter.incr(COUNTER)
