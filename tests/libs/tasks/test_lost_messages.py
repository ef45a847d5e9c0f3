"""The leader queues again only what Redis really lost (a message still queued is not sent
twice): dispatch.lost asks Redis for each execution's message by its id."""

from __future__ import annotations

from datetime import timedelta

from dramatiq.brokers.redis import RedisBroker
from jobyard_libs.app import Resources
from jobyard_libs.mongo import utcnow
from jobyard_libs.tasks.dispatch import dispatch, lost
from jobyard_libs.tasks.repository import ExecutionRepository

from tests.support.factories import a_task, an_execution


async def test_a_message_still_queued_is_not_lost_and_a_deleted_one_is(
    resources: Resources, broker: RedisBroker
) -> None:
    task, now = a_task(cron=None), utcnow()
    executions = ExecutionRepository(resources.db)
    stored = await executions.insert_many(
        [an_execution(task, scheduled_for=now + timedelta(seconds=i), enqueued_at=now) for i in range(3)]
    )
    assert await dispatch(broker, executions, stored, stamped=now) == 3
    assert lost(broker, stored) == []  # all three still in Redis: nothing to send again
    assert lost(broker, stored) == []  # and asking does not change that
    gone = stored[1]
    messages = f"{broker.namespace}:{gone.queue}.msgs"
    keys = [k.decode() if isinstance(k, bytes) else str(k) for k in broker.client.hkeys(messages)]
    [key] = [k for k in keys if k.startswith(str(gone.id))]
    broker.client.hdel(messages, key)  # what a failover to a replica that had not received it loses
    assert [e.id for e in lost(broker, stored)] == [gone.id]
