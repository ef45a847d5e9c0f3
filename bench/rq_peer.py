"""The RQ peer: a no-op job that counts its runs in Redis (``rq worker-pool`` runs it)."""

from __future__ import annotations

import os

from redis import Redis

QUEUE = "rq-bench"
COUNTER = "bench:rq:done"
_counter = Redis.from_url(os.environ["BENCH_REDIS_URL"])


def noop() -> None:
    _counter.incr(COUNTER)
