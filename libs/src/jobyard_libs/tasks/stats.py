"""Task outcomes counted in Redis per minute: what the monitor's task stats read.

Every execution that finishes (completed, failed, dead, cancelled) is counted once, in the
minute it finished: hash ``<prefix>stats:tasks:<minute>``, field ``<kind>|<status>``. Its
run time and its latency (due → finished) are sampled into capped lists beside it. Keys
expire after an hour. Reading a window costs one pipelined round trip over its minutes,
however many executions are stored, on MongoDB or on the embedded server alike.

Usage
-----

::

    stats = TaskStats(redis, keys)
    await stats.record(execution)            # from the executions' notify hook
    window = await stats.read(timedelta(minutes=5))
    window.counts[("noop", "completed")]
    # → 42
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from jobyard_libs.redis_client import RedisKeys
from jobyard_libs.tasks.documents import Execution
from jobyard_libs.tasks.models import FINISHED

BUCKET_SECONDS = 60
KEEP_SECONDS = 3600
SAMPLES_PER_BUCKET = 2000  # per kind and minute: enough for percentiles, bounded memory


@dataclass
class StatsWindow:
    seconds: float
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    durations: dict[str, list[float]] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=dict)


class TaskStats:
    def __init__(self, redis: Redis, keys: RedisKeys) -> None:
        self.redis, self.keys = redis, keys

    def _bucket(self, minute: int) -> str:
        return self.keys.key("stats", "tasks", str(minute))

    async def record(self, execution: Execution) -> None:
        """Count a finished execution (called on every status change; others are ignored)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            if self.add(pipe, [execution]):
                await pipe.execute()

    def add(self, pipe: Pipeline, executions: Sequence[Execution]) -> bool:
        """Count those of ``executions`` that finished, on ``pipe``: a few commands per minute
        and kind however many there are (counters summed, samples pushed together). Whether
        anything was queued."""
        counts: dict[tuple[str, str], int] = defaultdict(int)
        samples: dict[str, list[float]] = defaultdict(list)
        for execution in executions:
            finished = execution.completed_at
            if execution.status not in FINISHED or finished is None:
                continue
            bucket = self._bucket(int(finished.timestamp()) // BUCKET_SECONDS)
            counts[bucket, f"{execution.kind}|{execution.status.value}"] += 1
            if execution.duration_ms is not None:
                samples[f"{bucket}:{execution.kind}:duration"].append(execution.duration_ms / 1000)
            latency = max(0.0, (finished - execution.scheduled_for).total_seconds())
            samples[f"{bucket}:{execution.kind}:latency"].append(latency)
        for (bucket, field_name), count in counts.items():
            pipe.hincrby(bucket, field_name, count)
        for bucket in {bucket for bucket, _ in counts}:
            pipe.expire(bucket, KEEP_SECONDS)
        for key, values in samples.items():
            pipe.rpush(key, *values)
            pipe.ltrim(key, -SAMPLES_PER_BUCKET, -1)
            pipe.expire(key, KEEP_SECONDS)
        return bool(counts)

    async def count(self, kind: str, status: str, window: timedelta) -> int:
        """How many executions of ``kind`` ended ``status`` in the window: counters only, one
        round trip, nothing else read (cheap enough to poll)."""
        last = int(time.time()) // BUCKET_SECONDS
        minutes = range(last - max(1, int(window.total_seconds()) // BUCKET_SECONDS) + 1, last + 1)
        async with self.redis.pipeline(transaction=False) as pipe:
            for minute in minutes:
                pipe.hget(self._bucket(minute), f"{kind}|{status}")
            counts = await pipe.execute()
        return sum(int(count) for count in counts if count)

    async def read(self, window: timedelta, *, now: float | None = None) -> StatsWindow:
        now = now if now is not None else time.time()
        last = int(now) // BUCKET_SECONDS
        # the window's whole minutes, the current (partial) one included
        buckets = max(1, int(window.total_seconds()) // BUCKET_SECONDS)
        minutes = range(last - buckets + 1, last + 1)
        async with self.redis.pipeline(transaction=False) as pipe:
            for minute in minutes:
                pipe.hgetall(self._bucket(minute))
            hashes = await pipe.execute()
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for fields in hashes:
            for name, count in fields.items():
                kind, status = (name.decode() if isinstance(name, bytes) else name).split("|", 1)
                counts[kind, status] += int(count)
        kinds = sorted({kind for kind, _ in counts})
        async with self.redis.pipeline(transaction=False) as pipe:
            for minute in minutes:
                for kind in kinds:
                    pipe.lrange(f"{self._bucket(minute)}:{kind}:duration", 0, -1)
                    pipe.lrange(f"{self._bucket(minute)}:{kind}:latency", 0, -1)
            lists = await pipe.execute()
        durations: dict[str, list[float]] = defaultdict(list)
        latencies: dict[str, list[float]] = defaultdict(list)
        position = 0
        for _ in minutes:
            for kind in kinds:
                durations[kind] += [float(v) for v in lists[position]]
                latencies[kind] += [float(v) for v in lists[position + 1]]
                position += 2
        return StatsWindow(window.total_seconds(), dict(counts), dict(durations), dict(latencies))
