"""Enqueue messages by actor name, carrying the request id into the worker's logs.

Many messages at once (:func:`enqueue_many`) go to Redis through one pipeline: the same
Lua script Dramatiq runs per message, one round trip per ``PIPELINE_SIZE`` messages
instead of one each (a batch of 1,000 tasks: 2 round trips, not 1,000).

Usage
-----

::

    enqueue(broker, ActorName.IMPORT_RUN_FEED, RunFeedPayload(import_log_id=..., feed_url=...))
    enqueue_many(broker, [build_message(ActorName.TASK_EXECUTE, payload, message_id=...) for ...])
"""

from __future__ import annotations

from collections.abc import Sequence

from dramatiq import Broker, Message
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis, dq_name
from redis.commands.core import Script
from redis.exceptions import NoScriptError
from redis.typing import EncodableT

from jobyard_libs.queue.contracts import ACTOR_QUEUES, ActorName, Payload, Queue
from jobyard_libs.request_id import current_request_id


def build_message(
    actor: ActorName,
    payload: Payload,
    *,
    queue: Queue | None = None,
    message_id: str | None = None,
    **options: object,
) -> Message[object]:
    request_id = current_request_id()
    if request_id:
        options.setdefault("request_id", request_id)
    message: Message[object] = Message(
        queue_name=(queue or ACTOR_QUEUES[actor]).value,
        actor_name=actor.value,
        args=(payload.model_dump(mode="json"),),
        kwargs={},
        options=options,
    )
    return message if message_id is None else message.copy(message_id=message_id)


def enqueue(
    broker: Broker,
    actor: ActorName,
    payload: Payload,
    *,
    queue: Queue | None = None,
    delay_ms: int | None = None,
    message_id: str | None = None,
    **options: object,
) -> str:
    """Enqueue one message (on ``queue``, default the actor's); returns its message id."""
    message = build_message(actor, payload, queue=queue, message_id=message_id, **options)
    return broker.enqueue(message, delay=delay_ms).message_id


PIPELINE_SIZE = 500


def enqueue_many(broker: Broker, messages: Sequence[Message[object]], *, delay_ms: int | None = None) -> None:
    """Enqueue every message, as ``broker.enqueue`` would, in pipelined round trips.

    All or nothing is not promised: on a Redis error some may be queued. Callers treat the
    batch as not queued and rely on what makes a duplicate harmless (message ids derived
    from the execution, claims guarded by status).
    """
    if not isinstance(broker, RedisBroker):  # another broker (tests' stubs): one by one
        for message in messages:
            broker.enqueue(message, delay=delay_ms)
        return
    script = broker.scripts["dispatch"]
    max_unpack = broker._max_unpack_size()  # type: ignore[no-untyped-call]
    for start in range(0, len(messages), PIPELINE_SIZE):
        sent, calls = [], []
        for original in messages[start : start + PIPELINE_SIZE]:
            # Redis keeps the message under its own id (an execution's is derived from it and
            # its enqueuedAt: dispatch.message_id), so the leader can ask whether it is still
            # there (dispatch.lost); Dramatiq's own re-enqueue (a retry) gives the copy a fresh
            # key (broker.enqueue), so two copies never share one
            message = original.copy(options={"redis_message_id": original.message_id})
            queue_name = message.queue_name
            if delay_ms is not None:
                queue_name = dq_name(queue_name)
                message = message.copy(queue_name=queue_name, options={"eta": current_millis() + delay_ms})
            broker.emit_before("enqueue", message, delay_ms)
            calls.append(
                (
                    "enqueue",
                    current_millis(),
                    queue_name,
                    broker.broker_id,
                    broker.heartbeat_timeout,
                    broker.dead_message_ttl,
                    broker._should_do_maintenance("enqueue"),
                    max_unpack,
                    message.options["redis_message_id"],
                    message.encode(),
                )
            )
            sent.append(message)
        _run_script(broker, script, broker.namespace, calls)
        for message in sent:
            broker.emit_after("enqueue", message, delay_ms)


def _run_script(
    broker: RedisBroker, script: Script, key: str, calls: Sequence[tuple[EncodableT, ...]]
) -> None:
    """Each call of ``script`` in one pipelined round trip, by its hash.

    Not redis-py's ``script(client=pipeline)``: that asks ``SCRIPT EXISTS`` first, a round
    trip more for every batch (every single submit). The script is loaded when Redis says
    it does not know it (a restart, a failover, ``SCRIPT FLUSH``), and only the calls that
    failed for it run again.
    """
    pending, loaded = list(calls), False
    while pending:
        pipe = broker.client.pipeline(transaction=False)
        for args in pending:
            pipe.evalsha(script.sha, 1, key, *args)
        results = pipe.execute(raise_on_error=False)
        for result in results:
            if isinstance(result, Exception) and not isinstance(result, NoScriptError):
                raise result
        pending = [
            args for args, result in zip(pending, results, strict=True) if isinstance(result, NoScriptError)
        ]
        if pending and loaded:
            raise NoScriptError(f"Redis does not keep the {script.sha} script loaded")
        if pending:
            script.sha = broker.client.script_load(script.script)
            loaded = True
