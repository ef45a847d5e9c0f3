"""enqueue_many runs Dramatiq's dispatch script by its hash, in one pipelined round trip, and
loads it when Redis does not know it (a restart, a failover): every message queued once."""

from __future__ import annotations

import pytest
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from jobyard_libs.queue.contracts import ActorName, ExecutePayload, Queue
from jobyard_libs.queue.sender import build_message, enqueue_many
from redis.exceptions import ResponseError


def queued(broker: RedisBroker, queue: Queue) -> list[str]:
    ids = broker.client.lrange(f"{broker.namespace}:{queue.value}", 0, -1)
    return sorted(i.decode() if isinstance(i, bytes) else str(i) for i in ids)


def messages(count: int, prefix: str) -> list[Message[object]]:
    return [
        build_message(
            ActorName.TASK_EXECUTE,
            ExecutePayload(execution_id=f"{prefix}{i}"),
            queue=Queue.TASKS_LOW,
            message_id=f"{prefix}-{i}",
        )
        for i in range(count)
    ]


def test_messages_are_queued_once_each(broker: RedisBroker) -> None:
    enqueue_many(broker, messages(3, "a"))
    assert queued(broker, Queue.TASKS_LOW) == ["a-0", "a-1", "a-2"]


def test_a_script_redis_does_not_know_is_loaded_and_each_message_queued_once(broker: RedisBroker) -> None:
    script = broker.scripts["dispatch"]
    known = script.sha
    script.sha = "0" * 40  # a hash Redis has never seen: what it answers after a restart or failover
    enqueue_many(broker, messages(3, "b"))
    assert queued(broker, Queue.TASKS_LOW) == ["b-0", "b-1", "b-2"]
    assert script.sha == known  # loaded once: later batches run by hash again
    enqueue_many(broker, messages(1, "c"))
    assert queued(broker, Queue.TASKS_LOW) == ["b-0", "b-1", "b-2", "c-0"]


def test_an_error_of_the_script_itself_is_raised_not_taken_for_a_missing_script(broker: RedisBroker) -> None:
    script = broker.scripts["dispatch"]
    known = script.sha
    broker.client.set(f"{broker.namespace}:__heartbeats__", "not a sorted set")  # the script's ZADD fails
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        enqueue_many(broker, messages(1, "d"))
    assert script.sha == known
    assert queued(broker, Queue.TASKS_LOW) == []
