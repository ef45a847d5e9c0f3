"""Task outcomes counted in Redis per minute: what the monitor's task stats read.

Every execution that finishes (completed, dead, cancelled) is counted once, in the minute
it finished, and every failed attempt that is retried (``retrying``) in the minute it
failed: hash ``<prefix>stats:tasks:<minute>``, field ``<kind>|<status>``. Its
run time and its latency (due → finished) are sampled into capped lists beside it. Keys
expire after an hour. Reading a window costs one pipelined round trip over its minutes,
however many executions are stored, on MongoDB or on the embedded server alike.

The console's charts read a second, day-long series: hash ``<prefix>stats:series:<minute>``
with, per queue, the outcome counts (``c|<queue>|<status>``), a run-time histogram
(``h|<queue>|<bucket>``: buckets 1.26 times wide from 1 ms, so a percentile read from it is
within one bucket, at most 26 % high or low) and the queue's backlog as the monitor last
read it that minute (``d|<queue>``). Histograms add up exactly across minutes and queues,
which samples would not; the hash stays a few dozen fields a minute, kept 25 hours.

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

import math
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from jobyard_libs.redis_client import RedisKeys
from jobyard_libs.schemas import Reply
from jobyard_libs.tasks.documents import Execution
from jobyard_libs.tasks.models import FINISHED, ExecutionStatus

BUCKET_SECONDS = 60
KEEP_SECONDS = 3600
SAMPLES_PER_BUCKET = 2000  # per kind and minute: enough for percentiles, bounded memory
SERIES_KEEP_SECONDS = 25 * 3600  # the day chart, and an hour's grace
HISTOGRAM_BASE_SECONDS = 0.001
HISTOGRAM_STEPS_PER_DOUBLING = 3  # bucket bounds grow by 2^(1/3), about 1.26
HISTOGRAM_TOP = 66  # 1 ms * 2^22, about 70 min: longer runs share the last bucket
SPANS: dict[str, tuple[int, int]] = {"hour": (60, 1), "day": (1440, 10)}  # minutes, minutes a point
Span = Literal["hour", "day"]
CHARTED = ("completed", "retrying", "dead", "cancelled")  # retrying: an attempt failed, a retry follows
QUANTILES = (0.5, 0.95, 0.99)


def histogram_bucket(seconds: float) -> int:
    """The bucket of a run time: bucket ``i`` holds (bound(i-1), bound(i)].

    >>> histogram_bucket(0.001), histogram_bucket(0.0011), histogram_bucket(0.002), histogram_bucket(1e9)
    (0, 1, 3, 66)
    """
    if seconds <= HISTOGRAM_BASE_SECONDS:
        return 0
    steps = HISTOGRAM_STEPS_PER_DOUBLING * math.log2(seconds / HISTOGRAM_BASE_SECONDS)
    return min(HISTOGRAM_TOP, math.ceil(steps - 1e-9))


def histogram_bound(bucket: int) -> float:
    """The upper bound of a bucket, in seconds."""
    return float(HISTOGRAM_BASE_SECONDS * 2 ** (bucket / HISTOGRAM_STEPS_PER_DOUBLING))


def histogram_quantile(histogram: Mapping[int, int], q: float) -> float | None:
    """The ``q`` quantile of the run times a histogram counted, interpolated inside its bucket
    (as Prometheus does); ``None`` when it counted nothing.

    >>> round(histogram_quantile({10: 100}, 0.5), 4)  # all within (bound(9), bound(10)]
    0.009
    >>> histogram_quantile({}, 0.99) is None
    True
    """
    total = sum(histogram.values())
    if total <= 0:
        return None
    rank, seen = q * total, 0
    for bucket in sorted(histogram):
        count = histogram[bucket]
        if count and seen + count >= rank:
            lower = histogram_bound(bucket - 1) if bucket else 0.0
            return lower + (histogram_bound(bucket) - lower) * (rank - seen) / count
        seen += count
    return histogram_bound(max(histogram))


class SeriesPoint(Reply):
    at: datetime  # the start of the point's minutes
    completed: int = 0
    retrying: int = 0  # attempts that failed and were retried
    dead: int = 0
    cancelled: int = 0
    p50_seconds: float | None = None
    p95_seconds: float | None = None
    p99_seconds: float | None = None
    depth: dict[str, int] = {}  # backlog per queue: each minute's last reading, the highest in the point


class StatsSeries(Reply):
    """``GET /api/v1/stats/series``: outcomes, run-time percentiles and queue depth over time."""

    span: Span
    step_seconds: int
    queue: str | None
    queues: list[str]
    points: list[SeriesPoint]


def _series_point(at: datetime, hashes: Iterable[Mapping[str, str]], queue: str | None) -> SeriesPoint:
    point = SeriesPoint(at=at)
    histogram: dict[int, int] = defaultdict(int)
    counts: dict[str, int] = defaultdict(int)
    for fields in hashes:
        for name, value in fields.items():
            what, _, rest = name.partition("|")
            field_queue, _, key = rest.partition("|")
            if what == "d":
                point.depth[field_queue] = max(point.depth.get(field_queue, 0), int(value))
            elif queue is not None and field_queue != queue:
                continue
            elif what == "c":
                counts[key] += int(value)
            elif what == "h":
                histogram[int(key)] += int(value)
    for status in CHARTED:
        setattr(point, status, counts.get(status, 0))
    for q in QUANTILES:
        setattr(point, f"p{int(q * 100)}_seconds", histogram_quantile(histogram, q))
    if queue is not None:
        point.depth = {queue: point.depth.get(queue, 0)}
    return point


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

    def _series(self, minute: int) -> str:
        return self.keys.key("stats", "series", str(minute))

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
            if execution.status is ExecutionStatus.RETRYING:  # an attempt failed; another follows
                minute = int(execution.updated_at.timestamp()) // BUCKET_SECONDS
                counts[self._bucket(minute), f"{execution.kind}|retrying"] += 1
                counts[self._series(minute), f"c|{execution.queue}|retrying"] += 1
                continue
            finished = execution.completed_at
            if execution.status not in FINISHED or finished is None:
                continue
            minute = int(finished.timestamp()) // BUCKET_SECONDS
            bucket, series = self._bucket(minute), self._series(minute)
            counts[bucket, f"{execution.kind}|{execution.status.value}"] += 1
            counts[series, f"c|{execution.queue}|{execution.status.value}"] += 1
            if execution.duration_ms is not None:
                samples[f"{bucket}:{execution.kind}:duration"].append(execution.duration_ms / 1000)
                counts[series, f"h|{execution.queue}|{histogram_bucket(execution.duration_ms / 1000)}"] += 1
            latency = max(0.0, (finished - execution.scheduled_for).total_seconds())
            samples[f"{bucket}:{execution.kind}:latency"].append(latency)
        for (bucket, field_name), count in counts.items():
            pipe.hincrby(bucket, field_name, count)
        for bucket in {bucket for bucket, _ in counts}:
            pipe.expire(bucket, SERIES_KEEP_SECONDS if ":series:" in bucket else KEEP_SECONDS)
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

    async def record_depth(self, backlogs: Mapping[str, int], *, now: float | None = None) -> None:
        """The monitor's reading of each queue's backlog, kept for the minute it was read in."""
        series = self._series(int(now if now is not None else time.time()) // BUCKET_SECONDS)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(series, mapping={f"d|{queue}": n for queue, n in backlogs.items()})
            pipe.expire(series, SERIES_KEEP_SECONDS)
            await pipe.execute()

    async def series(
        self, span: Span, queues: Sequence[str], queue: str | None = None, *, now: float | None = None
    ) -> StatsSeries:
        """The span's points, oldest first: one a minute for the hour, one per 10 minutes for
        the day; one pipelined round trip over its minutes."""
        minutes, per_point = SPANS[span]
        last = int(now if now is not None else time.time()) // BUCKET_SECONDS
        first = last - minutes + 1
        first -= first % per_point  # points start on whole steps, so they do not shift each minute
        async with self.redis.pipeline(transaction=False) as pipe:
            for minute in range(first, last + 1):
                pipe.hgetall(self._series(minute))
            hashes: list[dict[bytes | str, bytes | str]] = await pipe.execute()
        decoded = [{_text(k): _text(v) for k, v in h.items()} for h in hashes]
        points = [
            _series_point(
                datetime.fromtimestamp((first + offset) * BUCKET_SECONDS, UTC),
                decoded[offset : offset + per_point],
                queue,
            )
            for offset in range(0, len(decoded), per_point)
        ]
        return StatsSeries(
            span=span,
            step_seconds=per_point * BUCKET_SECONDS,
            queue=queue,
            queues=list(queues),
            points=points,
        )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
