"""Enqueue messages by actor name, carrying the request id into the worker's logs.

Usage
-----

::

    enqueue(broker, ActorName.IMPORT_RUN_FEED, RunFeedPayload(import_log_id=..., feed_url=...))
"""

from __future__ import annotations

from dramatiq import Broker, Message

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
