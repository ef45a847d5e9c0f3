"""The Celery peer: a no-op task that counts its runs in Redis (Redis broker, no result backend).

Celery's CLI imports this module (``celery -A bench.celery_peer worker``); the broker comes
from ``BENCH_REDIS_URL``.
"""

from __future__ import annotations

import os

from celery import Celery
from redis import Redis

QUEUE = "celery-bench"
COUNTER = "bench:celery:done"
app = Celery("bench", broker=os.environ["BENCH_REDIS_URL"])
app.conf.task_default_queue = QUEUE
_counter = Redis.from_url(os.environ["BENCH_REDIS_URL"])


@app.task(ignore_result=True)
def noop() -> None:
    _counter.incr(COUNTER)
