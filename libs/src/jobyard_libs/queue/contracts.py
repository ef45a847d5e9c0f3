"""Queue names, actor names and message payloads: the contract between services.

A sender never imports the actor function: it enqueues by name with a payload model
(:func:`jobyard_libs.queue.sender.enqueue`), and the worker declares the actor under
the same name. Payloads travel as one JSON object, validated again on arrival.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Queue(StrEnum):
    IMPORTS = "imports"
    TASKS_HIGH = "tasks.high"
    TASKS_DEFAULT = "tasks.default"
    TASKS_LOW = "tasks.low"


class ActorName(StrEnum):
    IMPORT_APPLY_BATCH = "imports.apply_batch"
    IMPORT_RUN_FEED = "imports.run_feed"
    TASK_EXECUTE = "tasks.execute"
    TASK_SEND_WEBHOOK = "tasks.send_webhook"


ACTOR_QUEUES: dict[ActorName, Queue] = {
    ActorName.IMPORT_APPLY_BATCH: Queue.IMPORTS,
    ActorName.IMPORT_RUN_FEED: Queue.IMPORTS,
    ActorName.TASK_EXECUTE: Queue.TASKS_DEFAULT,  # each message goes to its priority's queue
    ActorName.TASK_SEND_WEBHOOK: Queue.TASKS_DEFAULT,
}


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunFeedPayload(Payload):
    """Fetch, parse and enqueue one feed for an import log created by the sender."""

    import_log_id: str
    feed_url: str


class ApplyBatchPayload(Payload):
    """One batch of parsed postings to upsert for an import log."""

    import_log_id: str
    batch_id: str
    feed_url: str
    jobs: list[dict[str, object]]


class ExecutePayload(Payload):
    """Run one execution of a task (its record holds the kind, payload and limits)."""

    execution_id: str
