"""The durable Celery peer: Redis broker, each result stored by Celery's MongoDB result backend.

What Jobyard does for every task (a record of its outcome in MongoDB), done the Celery way,
on the same MongoDB server and Redis as Jobyard. A run is counted once Celery has stored
its result (``task_postrun`` comes after the backend's write). Celery's CLI imports this
module; ``BENCH_REDIS_URL`` and ``BENCH_MONGODB_URL`` name the servers.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun
from redis import Redis

QUEUE = "celery-mongo-bench"
COUNTER = "bench:celery-mongodb:done"
DATABASE = "bench_celery_results"
app = Celery("bench_durable", broker=os.environ["BENCH_REDIS_URL"], backend=os.environ["BENCH_MONGODB_URL"])
app.conf.task_default_queue = QUEUE
app.conf.mongodb_backend_settings = {"database": DATABASE, "taskmeta_collection": "taskmeta"}
app.conf.worker_prefetch_multiplier = int(os.environ.get("BENCH_CELERY_PREFETCH", "4"))
_counter = Redis.from_url(os.environ["BENCH_REDIS_URL"])


@app.task
def noop() -> dict[str, int]:
    return {"ok": 1}


@task_postrun.connect
def _counted(**_: Any) -> None:
    _counter.incr(COUNTER)
