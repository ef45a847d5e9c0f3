"""Claims and attempt ends written together: fewer round trips, the same guarantees."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from jobyard_libs.app import Resources
from jobyard_libs.batching import Coalescer
from jobyard_libs.mongo import COMMANDS
from jobyard_libs.queue.broker import create_broker
from jobyard_libs.tasks.documents import Execution
from jobyard_libs.tasks.lifecycle import ExecutionEffects, ExecutionLifecycle
from jobyard_libs.tasks.models import ExecutionStatus
from jobyard_worker.settings import WorkerSettings

from tests.conftest import Isolation
from tests.support.factories import pending_executions
from tests.support.imports import settings_for


def _commands(name: str) -> float:
    return float(COMMANDS.labels(name)._value.get())


@pytest.fixture
def lifecycle(isolation: Isolation, resources: Resources) -> Iterator[ExecutionLifecycle]:
    broker = create_broker(settings_for(isolation, WorkerSettings))
    yield ExecutionLifecycle(resources.db, ExecutionEffects.of(resources.events, broker), group_commit=0.02)
    broker.close()


async def test_concurrent_claims_are_one_update_and_one_find_and_each_runs_once(
    resources: Resources, lifecycle: ExecutionLifecycle
) -> None:
    executions = await pending_executions(resources.db, 20)
    ids = [e.id for e in executions]
    updates, finds = _commands("update"), _commands("find")
    # every execution asked for twice at once: a redelivery racing the first delivery
    claimed = await asyncio.gather(*(lifecycle.start_attempt(i) for i in [*ids, *ids[:5]]))
    assert _commands("update") - updates == 1
    assert _commands("find") - finds == 1
    won = [c for c in claimed if c is not None]
    assert sorted(str(c.id) for c in won) == sorted(str(i) for i in ids)  # each exactly once
    assert all(c.status is ExecutionStatus.PROCESSING and c.attempts == 1 for c in won)
    again = await asyncio.gather(*(lifecycle.start_attempt(i) for i in ids))
    assert again == [None] * 20  # processing already: nobody else runs them


async def test_ends_are_one_bulk_write_with_no_read_back(
    resources: Resources, lifecycle: ExecutionLifecycle
) -> None:
    executions = await pending_executions(resources.db, 10)
    claimed = [c for c in await asyncio.gather(*(lifecycle.start_attempt(e.id) for e in executions)) if c]
    cancelled = claimed[0]
    await resources.db.executions.update_one(  # cancelled meanwhile: its end must not overwrite that
        {"_id": cancelled.id}, {"$set": {"status": "cancelled"}}
    )
    updates, finds = _commands("update"), _commands("find")
    ended = await asyncio.gather(
        *(lifecycle.finish_attempt(c, status=ExecutionStatus.COMPLETED, result={"n": 1}) for c in claimed)
    )
    assert _commands("update") - updates == 1  # one bulk_write
    assert _commands("find") - finds == 1  # only because one did not match: which one?
    assert ended[0] is None
    assert all(e is not None and e.status is ExecutionStatus.COMPLETED for e in ended[1:])
    stored = {doc["_id"]: doc async for doc in resources.db.executions.find({})}
    assert stored[cancelled.id]["status"] == "cancelled"
    for image in ended[1:]:
        assert image is not None
        doc = stored[image.id]
        assert doc["status"] == "completed" and doc["result"] == {"n": 1}
        assert (
            Execution.model_validate(doc).attempt_history == image.attempt_history
        )  # the image is the truth
        assert doc["durationMs"] == image.duration_ms


async def test_a_failed_batch_fails_every_caller_and_the_next_batch_works() -> None:
    calls: list[list[int]] = []

    async def flush(batch: list[int]) -> list[Any]:
        calls.append(batch)
        if 0 in batch:
            raise RuntimeError("the database went away")
        return [n * 10 for n in batch]

    coalescer: Coalescer[int, Any] = Coalescer(flush, window=0.01, max_size=3)
    failed = await asyncio.gather(*(coalescer.submit(n) for n in (0, 1)), return_exceptions=True)
    assert all(isinstance(f, RuntimeError) for f in failed)
    assert await asyncio.gather(*(coalescer.submit(n) for n in (1, 2, 3, 4))) == [10, 20, 30, 40]
    assert calls == [[0, 1], [1, 2, 3], [4]]  # the size cap cuts a batch at once
