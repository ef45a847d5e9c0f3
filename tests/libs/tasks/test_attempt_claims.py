"""Attempts claimed in Redis: a short attempt is written once, with its end; each attempt is
still claimed once, a cancel still wins, and an attempt written on the way is fenced as
before. On the real Redis and MongoDB servers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from bson import ObjectId
from jobyard_libs.app import Resources
from jobyard_libs.mongo import COMMANDS, DOCUMENTS_WRITTEN
from jobyard_libs.queue.broker import create_broker
from jobyard_libs.tasks.claims import KEEP_AFTER_END_MS, AttemptClaims, Claim, HeldClaim
from jobyard_libs.tasks.documents import Execution
from jobyard_libs.tasks.lifecycle import ExecutionEffects, ExecutionLifecycle
from jobyard_libs.tasks.models import ExecutionStatus
from jobyard_worker.settings import WorkerSettings

from tests.conftest import Isolation
from tests.support.factories import pending_executions
from tests.support.imports import settings_for

HOLDER = "worker-a"


def _commands(name: str) -> float:
    return float(COMMANDS.labels(name)._value.get())


def _written() -> float:
    """Documents this process's updates wrote (the only command these paths write with)."""
    return float(DOCUMENTS_WRITTEN.labels("update")._value.get())


@pytest.fixture
def lifecycle(isolation: Isolation, resources: Resources) -> Iterator[ExecutionLifecycle]:
    broker = create_broker(settings_for(isolation, WorkerSettings))
    yield ExecutionLifecycle(
        resources.db,
        ExecutionEffects.of(resources.events, broker),
        group_commit=0.02,
        holder=HOLDER,
        claims=AttemptClaims(resources.redis, resources.keys),
        claim_grace_ms=5000,
    )
    broker.close()


async def _record(resources: Resources, execution_id: ObjectId) -> Execution:
    stored = Execution.from_mongo(await resources.db.executions.find_one({"_id": execution_id}))
    assert stored is not None
    return stored


async def test_claims_are_one_read_and_one_redis_round_trip_each_runs_once_and_nothing_is_written(
    resources: Resources, lifecycle: ExecutionLifecycle
) -> None:
    executions = await pending_executions(resources.db, 20)
    ids = [e.id for e in executions]
    updates, finds, written = _commands("update"), _commands("find"), _written()
    # every execution asked for twice at once: a redelivery racing the first delivery
    claimed = await asyncio.gather(*(lifecycle.start_attempt(i) for i in [*ids, *ids[:5]]))
    assert _commands("find") - finds == 1 and _commands("update") - updates == 0 and _written() == written
    won = [c for c in claimed if c is not None]
    assert sorted(str(c.id) for c in won) == sorted(str(i) for i in ids)  # each exactly once
    assert all(c.attempts == 1 and c.holder == HOLDER and not c.claim_stored for c in won)
    # another delivery, later: the record still says pending, the claim says it runs
    assert await asyncio.gather(*(lifecycle.start_attempt(i) for i in ids)) == [None] * 20
    assert (await _record(resources, ids[0])).status is ExecutionStatus.PENDING
    held = await AttemptClaims(resources.redis, resources.keys).held(ids[0])
    assert held is not None and (held.holder, held.attempt) == (HOLDER, 1)


async def test_a_short_attempt_is_written_once_with_its_end_and_a_cancel_meanwhile_wins(
    resources: Resources, lifecycle: ExecutionLifecycle
) -> None:
    executions = await pending_executions(resources.db, 10)
    claimed = [c for c in await asyncio.gather(*(lifecycle.start_attempt(e.id) for e in executions)) if c]
    cancelled = claimed[0]
    await lifecycle.cancel(cancelled.id)  # a queued one is cancelled at once, by the record
    updates, written = _commands("update"), _written()
    ended = await asyncio.gather(
        *(lifecycle.finish_attempt(c, status=ExecutionStatus.COMPLETED, result={"n": 1}) for c in claimed)
    )
    assert _commands("update") - updates == 1  # one bulk_write
    assert _written() - written == 9  # one write each, the cancelled one's none
    assert ended[0] is None and (await _record(resources, cancelled.id)).status is ExecutionStatus.CANCELLED
    for image in ended[1:]:
        assert image is not None
        stored = await _record(resources, image.id)
        assert stored.status is ExecutionStatus.COMPLETED and stored.attempts == 1
        assert stored.holder == HOLDER and stored.claim == image.claim and stored.started_at is not None
        assert [a.attempt for a in stored.attempt_history] == [1]
    # the ended claims are kept a little, then expire: a late duplicate cannot claim attempt 1
    key = AttemptClaims(resources.redis, resources.keys).key(claimed[1].id)
    assert 0 < await resources.redis.pttl(key) <= KEEP_AFTER_END_MS
    assert await lifecycle.start_attempt(claimed[1].id) is None


async def test_an_attempt_that_runs_on_is_written_processing_and_its_end_is_fenced_as_before(
    resources: Resources, lifecycle: ExecutionLifecycle
) -> None:
    [execution] = await pending_executions(resources.db, 1)
    claimed = await lifecycle.start_attempt(execution.id)
    assert claimed is not None
    written = await lifecycle.confirm_attempt(claimed)
    assert written is not None and written.claim_stored
    stored = await _record(resources, execution.id)
    assert (stored.status, stored.attempts, stored.holder) == (ExecutionStatus.PROCESSING, 1, HOLDER)
    # its end, against the claim alone, no longer matches: the record moved on to processing
    assert await lifecycle.finish_attempt(claimed, status=ExecutionStatus.COMPLETED) is None
    finished = await lifecycle.finish_attempt(written, status=ExecutionStatus.COMPLETED)
    assert finished is not None and finished.status is ExecutionStatus.COMPLETED


async def test_an_attempt_cancelled_before_it_is_written_is_never_written(
    resources: Resources, lifecycle: ExecutionLifecycle
) -> None:
    [execution] = await pending_executions(resources.db, 1)
    claimed = await lifecycle.start_attempt(execution.id)
    assert claimed is not None
    await lifecycle.cancel(execution.id)
    assert await lifecycle.confirm_attempt(claimed) is None
    stored = await _record(resources, execution.id)
    assert stored.status is ExecutionStatus.CANCELLED and stored.attempts == 0


async def test_the_claim_rules_on_redis(resources: Resources) -> None:
    claims, execution_id = AttemptClaims(resources.redis, resources.keys), ObjectId()
    first = Claim(execution_id, "a", 1000, attempt=1, ttl_ms=60_000)
    assert await claims.take([first]) == {execution_id: None}
    # attempt 1 again, by anyone: held
    assert await claims.take([Claim(execution_id, "b", 2000, 1, 60_000)]) == {
        execution_id: HeldClaim("a", 1000, 1)
    }
    # attempt 2: the first one's end was recorded, or it was taken over
    assert await claims.take([Claim(execution_id, "b", 3000, 2, 60_000)]) == {execution_id: None}
    assert await claims.held(execution_id) == HeldClaim("b", 3000, 2)
    # only its own claim is released or forgotten
    await claims.forget(first)
    assert await claims.held(execution_id) == HeldClaim("b", 3000, 2)
    await claims.forget(Claim(execution_id, "b", 3000, 2, 60_000))
    assert await claims.held(execution_id) is None
    # what is not a claim is held by nobody known, for no attempt
    assert HeldClaim.parse("garbage") == HeldClaim("", 0, 0)
