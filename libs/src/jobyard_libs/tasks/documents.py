"""The task engine's stored documents: ``tasks``, ``executions``, ``dead_letters``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field
from pydantic.alias_generators import to_camel

from jobyard_libs.documents import Changes, Oid, StoredDocument
from jobyard_libs.mongo import utcnow
from jobyard_libs.queue.liveness import WORKER_LOST
from jobyard_libs.tasks.models import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_PRIORITY,
    DEFAULT_TIMEOUT_MS,
    DEFAULT_TIMEZONE,
    ExecutionStatus,
    MisfirePolicy,
    TaskAction,
    TaskStatus,
    TaskType,
    task_actions,
)


class ExpiredRun(BaseModel):
    """The newest of a task's executions that retention deleted (:mod:`jobyard_libs.retention`)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", arbitrary_types_allowed=True
    )

    execution_id: Oid
    status: ExecutionStatus
    at: datetime


def name_key(name: str) -> str:
    """A task's name as its search matches it: case-folded (``Nightly`` and ``NIGHTLY`` alike).

    Stored beside the name and searched by a plain pattern, not a case-insensitive one: the
    SecantusDB Rust server compiles a pattern with ``$options: "i"`` (or any regex syntax)
    again for every document it tests (140 ms over 1,000 tasks), a literal one it does not.
    """
    return name.casefold()


class Task(StoredDocument):
    """What a user submitted: what to run, when, and how patiently."""

    owner_id: str
    name: str
    description: str | None = None
    type: TaskType = TaskType.ONE_TIME
    kind: str
    payload: dict[str, Any] = Field(default_factory=dict)
    priority: int = DEFAULT_PRIORITY
    queue: str
    status: TaskStatus
    paused_reason: str | None = None  # paused by the platform (tasks.rights), not by its owner
    scheduled_at: datetime | None = None
    cron: str | None = None
    timezone: str = DEFAULT_TIMEZONE
    misfire_policy: MisfirePolicy = MisfirePolicy.FIRE_ONCE
    next_run_at: datetime | None = None
    max_retries: int = DEFAULT_MAX_RETRIES
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    webhook_url: str | None = None
    run_count: int = 0
    last_run_at: datetime | None = None
    expired_runs: dict[str, int] = Field(default_factory=dict)  # by status: runs retention deleted
    last_expired_run: ExpiredRun | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None
    fence: int | None = None  # the newest scheduler fencing token that claimed a run of it
    deleted_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def actions(self) -> list[TaskAction]:
        """What may be done to it now (:func:`~jobyard_libs.tasks.models.task_actions`)."""
        return task_actions(self.type, self.status)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def name_key(self) -> str:
        """Stored as ``nameKey``, read back as nothing (it follows the name)."""
        return name_key(self.name)

    def to_mongo(self) -> dict[str, Any]:
        stored = super().to_mongo()
        if self.idempotency_key is None:  # the unique index is partial on a string key
            stored.pop("idempotencyKey")
        return stored


class TaskChanges(Changes):
    """What may change of a stored task (``TaskRepository.update``); its name key follows its name."""

    name: str | None = None
    description: str | None = None
    payload: dict[str, Any] | None = None
    priority: int | None = None
    queue: str | None = None
    status: TaskStatus | None = None
    paused_reason: str | None = None
    scheduled_at: datetime | None = None
    cron: str | None = None
    timezone: str | None = None
    misfire_policy: MisfirePolicy | None = None
    next_run_at: datetime | None = None
    max_retries: int | None = None
    timeout_ms: int | None = None
    webhook_url: str | None = None
    deleted_at: datetime | None = None

    def to_set(self) -> dict[str, Any]:
        changed = super().to_set()
        if self.name is not None:
            changed["nameKey"] = name_key(self.name)
        return changed


class Attempt(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    attempt: int
    started_at: datetime
    finished_at: datetime | None = None
    status: str
    error: str | None = None
    traceback: str | None = None  # of the exception that failed it (capped, secrets redacted)
    logs: list[str] = Field(default_factory=list)  # what its kind logged (capped, redacted)

    @property
    def worker_lost(self) -> bool:
        """Its worker died mid-attempt (:mod:`jobyard_libs.queue.liveness`)."""
        return self.error == WORKER_LOST


class WebhookDelivery(BaseModel):
    """The last delivery of an execution's completion webhook: its answer, or why not."""

    model_config = ConfigDict(extra="ignore")

    status: int | None = None
    error: str | None = None
    at: datetime


class Execution(StoredDocument):
    """One run of a task, with every attempt of it."""

    task_id: Oid
    owner_id: str
    kind: str
    payload: dict[str, Any] = Field(default_factory=dict)
    queue: str
    max_retries: int
    timeout_ms: int
    trigger: str
    status: ExecutionStatus = ExecutionStatus.PENDING
    scheduled_for: datetime
    attempts: int = 0
    attempt_base: int = 0  # attempts before the last replay: a replay starts a fresh retry budget
    attempt_history: list[Attempt] = Field(default_factory=list)
    enqueued_at: datetime | None = None  # part of its message's id (tasks.dispatch.message_id)
    claim: Oid | None = None  # the claim that started its last attempt: its end is fenced by it
    holder: str | None = None  # the worker process (its broker id) that took its last attempt
    # False while a worker holds the attempt by its Redis claim alone (jobyard_libs.tasks.claims):
    # the record still shows the attempt before; never stored
    claim_stored: bool = Field(True, exclude=True)
    started_at: datetime | None = None
    last_attempt_at: datetime | None = None
    completed_at: datetime | None = None
    duration_ms: int | None = None
    retry_at: datetime | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    cancel_requested: bool = False
    awaiting_callback: bool = False
    callback_deadline: datetime | None = None
    webhook_url: str | None = None
    webhook: WebhookDelivery | None = None
    replays: int = 0
    replayed_at: datetime | None = None
    # a workflow's step (jobyard_libs.workflows): its workflow (also its taskId), the step,
    # and what the steps it depends on returned, by step id
    workflow_id: Oid | None = None
    step_id: str | None = None
    inputs: dict[str, Any] | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    def next_attempt(self, *, holder: str | None, claim: Oid, at: datetime) -> Execution:
        """This waiting execution as its next attempt, claimed in Redis (begun ``at`` by
        ``holder``) and not yet written (:mod:`jobyard_libs.tasks.claims`)."""
        return self.model_copy(
            update={
                "status": ExecutionStatus.PROCESSING,
                "attempts": self.attempts + 1,
                "last_attempt_at": at,
                "started_at": self.started_at or at,
                "updated_at": at,
                "claim": claim,
                "holder": holder,
                "claim_stored": False,
            }
        )

    @classmethod
    def of(
        cls, task: Task, scheduled_for: datetime, trigger: str, *, enqueued_at: datetime | None = None
    ) -> Execution:
        """A new pending execution of ``task``, as it will be stored; ``enqueued_at``: the stamp
        of the message about to queue it (stored with it, so queueing costs no second write)."""
        return cls(
            task_id=task.id,
            owner_id=task.owner_id,
            kind=task.kind,
            payload=task.payload,
            queue=task.queue,
            max_retries=task.max_retries,
            timeout_ms=task.timeout_ms,
            trigger=trigger,
            scheduled_for=scheduled_for,
            webhook_url=task.webhook_url,
            enqueued_at=enqueued_at,
        )


class DeadLetter(StoredDocument):
    """An execution that exhausted its retries, kept to be inspected and replayed."""

    execution_id: Oid
    task_id: Oid
    owner_id: str
    kind: str
    queue: str
    payload: dict[str, Any] = Field(default_factory=dict)
    attempts: int
    error: str
    created_at: datetime = Field(default_factory=utcnow)
