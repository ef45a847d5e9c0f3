"""The one backoff rule (jobyard_libs.backoff): exponential, capped, jittered over the upper half."""

from __future__ import annotations

import random

import pytest
from jobyard_libs.backoff import backoff
from jobyard_libs.outages import backoff_seconds
from jobyard_libs.tasks.outcomes import backoff_ms
from jobyard_libs.tasks.settings import TaskSettings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("failures", range(1, 15))
def test_each_wait_is_within_the_upper_half_of_its_capped_ceiling(failures: int) -> None:
    ceiling = min(30_000.0, 100.0 * 2 ** (failures - 1))
    waits = [backoff(failures, base=100, cap=30_000) for _ in range(200)]
    assert all(ceiling / 2 <= wait <= ceiling for wait in waits)


def test_the_jitter_spreads_waiters_apart() -> None:
    random.seed(11)
    waits = {round(backoff(5, base=100, cap=30_000)) for _ in range(100)}
    assert len(waits) > 50  # not in step: a fleet retrying together would hammer the recovery


def test_zero_or_fewer_failures_wait_the_base() -> None:
    assert backoff(0, base=100, cap=1000, draw=lambda: 1.0) == 100.0


def test_task_retries_and_outages_use_the_same_rule() -> None:
    settings = TaskSettings(task_retry_base_ms=1000, task_retry_max_ms=60_000)
    for retry in range(1, 10):
        ceiling = min(60_000, 1000 * 2 ** (retry - 1))
        assert ceiling // 2 <= backoff_ms(retry, settings) <= ceiling
        assert (
            min(30.0, 0.5 * 2 ** (retry - 1)) / 2
            <= backoff_seconds(retry)
            <= min(30.0, 0.5 * 2 ** (retry - 1))
        )
