"""The charts' series: run-time histograms that add up, points on whole steps, depth kept."""

from __future__ import annotations

import random
import statistics
import time
from datetime import timedelta
from typing import Any

import pytest
from jobyard_libs.mongo import utcnow
from jobyard_libs.redis_client import RedisKeys
from jobyard_libs.tasks.models import ExecutionStatus
from jobyard_libs.tasks.stats import (
    HISTOGRAM_STEPS_PER_DOUBLING,
    TaskStats,
    histogram_bound,
    histogram_bucket,
    histogram_quantile,
)
from redis.asyncio import Redis

from tests.conftest import Isolation
from tests.support.factories import a_task, an_execution

WIDTH = 2 ** (1 / HISTOGRAM_STEPS_PER_DOUBLING)  # one bucket: the most a percentile can be off by


@pytest.mark.parametrize("seconds", [0.0005, 0.001, 0.00101, 0.0123, 0.5, 1.0, 7.3, 59.9, 3000.0])
@pytest.mark.unit
def test_a_run_time_falls_in_the_bucket_whose_bounds_hold_it(seconds: float) -> None:
    bucket = histogram_bucket(seconds)
    assert seconds <= histogram_bound(bucket) * (1 + 1e-9)
    if bucket:
        assert seconds > histogram_bound(bucket - 1)


@pytest.mark.unit
def test_percentiles_from_the_histogram_are_within_one_bucket_of_the_exact_ones() -> None:
    rng = random.Random(7)
    samples = [rng.lognormvariate(-3, 1.2) for _ in range(5000)]  # ~50 ms, a long tail
    histogram: dict[int, int] = {}
    for value in samples:
        histogram[histogram_bucket(value)] = histogram.get(histogram_bucket(value), 0) + 1
    exact = statistics.quantiles(samples, n=100, method="inclusive")
    for q in (0.5, 0.95, 0.99):
        estimate = histogram_quantile(histogram, q)
        assert estimate is not None
        assert exact[int(q * 100) - 1] / WIDTH <= estimate <= exact[int(q * 100) - 1] * WIDTH, q
    assert histogram_quantile({}, 0.5) is None


async def test_the_series_counts_outcomes_per_queue_and_keeps_depth(isolation: Isolation) -> None:
    redis = Redis.from_url(isolation.redis_url)
    stats = TaskStats(redis, RedisKeys(isolation.key_prefix))
    now = time.time()
    done = utcnow()

    def finished(status: ExecutionStatus, ms: int, queue: str, ago: timedelta = timedelta(0)) -> Any:
        at = done - ago
        return an_execution(a_task(queue=queue), status=status, duration_ms=ms, completed_at=at)

    try:
        async with redis.pipeline(transaction=False) as pipe:
            stats.add(
                pipe,
                [
                    *(finished(ExecutionStatus.COMPLETED, 20, "tasks.default") for _ in range(8)),
                    finished(ExecutionStatus.COMPLETED, 4000, "tasks.high"),
                    finished(ExecutionStatus.DEAD, 10, "tasks.default"),
                    an_execution(
                        a_task(), status=ExecutionStatus.RETRYING, updated_at=done - timedelta(hours=3)
                    ),
                    finished(ExecutionStatus.PROCESSING, 10, "tasks.default"),  # not an outcome
                ],
            )
            await pipe.execute()
        await stats.record_depth({"tasks.default": 5, "tasks.high": 1}, now=now)
        await stats.record_depth({"tasks.default": 2, "tasks.high": 0}, now=now)  # the later read

        hour = await stats.series("hour", ["tasks.default", "tasks.high"], now=now)
        assert (len(hour.points), hour.step_seconds) == (60, 60)
        last = hour.points[-1]
        assert (last.completed, last.dead, last.retrying) == (9, 1, 0)
        assert last.depth == {"tasks.default": 2, "tasks.high": 0}
        assert last.p50_seconds is not None and 0.02 / WIDTH <= last.p50_seconds <= 0.02
        assert last.p99_seconds is not None and last.p99_seconds > 1  # the 4 s run in the tail
        assert sum(p.completed + p.retrying + p.dead for p in hour.points) == 10  # nothing else

        high = await stats.series("hour", ["tasks.default", "tasks.high"], "tasks.high", now=now)
        assert (high.points[-1].completed, high.points[-1].dead) == (1, 0)
        assert high.points[-1].depth == {"tasks.high": 0}

        day = await stats.series("day", ["tasks.default", "tasks.high"], now=now)
        assert day.step_seconds == 600 and 144 <= len(day.points) <= 145
        assert all(p.at.minute % 10 == 0 for p in day.points)  # whole steps: they do not shift
        assert sum(p.retrying for p in day.points) == 1  # three hours ago: on the day, not the hour
        assert sum(p.completed for p in day.points) == 9
        wire = day.model_dump(by_alias=True, mode="json")
        assert {"stepSeconds", "points"} <= wire.keys() and "p99Seconds" in wire["points"][-1]
    finally:
        await redis.aclose()
