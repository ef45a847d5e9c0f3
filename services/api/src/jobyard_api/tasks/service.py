"""Tasks: submit (one at a time or in batches), read, change, and control their runs."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from dramatiq import Broker
from jobyard_libs.auth import Principal, Role
from jobyard_libs.errors import Conflict, Forbidden, NotFoundError, ValidationFailed
from jobyard_libs.mongo import Database, Document, utcnow
from jobyard_libs.tasks.dispatch import dispatch
from jobyard_libs.tasks.kinds import KINDS
from jobyard_libs.tasks.models import TaskStatus, TaskType, queue_for
from jobyard_libs.tasks.repository import ExecutionRepository, Notify, TaskRepository
from jobyard_libs.tasks.schedule import BadSchedule, next_run, shortest_interval, zone
from jobyard_libs.tasks.settings import TaskSettings
from pydantic import ValidationError
from pymongo.errors import DuplicateKeyError

from jobyard_api.ids import object_id
from jobyard_api.tasks.schemas import TaskIn, TaskOut, TaskPatch


class TaskNotFound(NotFoundError):
    message = "task not found"


class IdempotencyConflict(Conflict):
    code, message = "idempotency_key_reused", "this Idempotency-Key was used with another request"


class TaskStateConflict(Conflict):
    code = "task_state"


class KindNotAllowed(Forbidden):
    code = "kind_not_allowed"


def to_out(doc: Document, viewer: Principal | None = None, secrets: TaskSettings | None = None,
           **extra: Any) -> dict[str, Any]:  # fmt: skip
    """The task as the API shows it; its webhook secret only to its owner."""
    fields = {
        "id": str(doc["_id"]),
        "owner_id": doc["ownerId"],
        **{k: doc.get(c) for k, c in (("name", "name"), ("description", "description"), ("type", "type"),
           ("kind", "kind"), ("payload", "payload"), ("priority", "priority"), ("queue", "queue"),
           ("status", "status"), ("scheduled_at", "scheduledAt"), ("cron", "cron"), ("timezone", "timezone"),
           ("misfire_policy", "misfirePolicy"), ("next_run_at", "nextRunAt"), ("max_retries", "maxRetries"),
           ("timeout_ms", "timeoutMs"), ("webhook_url", "webhookUrl"), ("run_count", "runCount"), ("last_run_at", "lastRunAt"),
           ("created_at", "createdAt"), ("updated_at", "updatedAt"))},
    }  # fmt: skip
    if viewer is not None and secrets is not None and viewer.subject == doc["ownerId"]:
        fields["webhook_secret"] = secrets.task_webhook_secret(str(doc["_id"]))
    return {**TaskOut(**fields).model_dump(), **extra}


def request_hash(body: TaskIn) -> str:
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


class TaskService:
    def __init__(
        self,
        db: Database,
        broker: Broker,
        *,
        payload_max_bytes: int,
        batch_max: int,
        min_cron_interval: dict[Role, timedelta],
        secrets: TaskSettings,
        notify: Notify | None = None,
    ) -> None:
        self.secrets = secrets
        self.tasks = TaskRepository(db)
        self.executions = ExecutionRepository(db, notify)
        self.broker = broker
        self.payload_max_bytes = payload_max_bytes
        self.batch_max = batch_max
        self.min_cron_interval = min_cron_interval

    def view(self, doc: Document, viewer: Principal) -> dict[str, Any]:
        return to_out(doc, viewer, self.secrets)

    # --- submission -------------------------------------------------------------------

    def build(self, body: TaskIn, owner: str, role: Role, field_prefix: str = "") -> Document:
        """Validate a submission into a task document; 422 naming the field otherwise."""
        kind = KINDS.get(body.kind)
        if kind is None:
            raise ValidationFailed(
                f"unknown kind {body.kind!r}; known: {', '.join(sorted(KINDS))}", field=f"{field_prefix}kind"
            )
        if not kind.allows(role):
            raise KindNotAllowed(
                f"tasks of kind {body.kind!r} need the admin role", field=f"{field_prefix}kind"
            )
        if len(json.dumps(body.payload)) > self.payload_max_bytes:
            raise ValidationFailed(
                f"payload larger than {self.payload_max_bytes} bytes", field=f"{field_prefix}payload"
            )
        try:
            kind.payload.model_validate(body.payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValidationFailed(
                f"payload.{where}: {first['msg']}", field=f"{field_prefix}payload.{where}".rstrip(".")
            ) from exc
        now = utcnow()
        try:
            zone(body.timezone)
        except BadSchedule as exc:
            raise ValidationFailed(str(exc), field=f"{field_prefix}timezone") from exc
        next_run_at = None
        if body.type is TaskType.DELAYED:
            if body.scheduled_at is None:
                raise ValidationFailed("delayed tasks need scheduledAt", field=f"{field_prefix}scheduledAt")
            if body.scheduled_at.tzinfo is None:
                raise ValidationFailed(
                    "scheduledAt needs a time zone (e.g. Z)", field=f"{field_prefix}scheduledAt"
                )
            if body.scheduled_at <= now:
                raise ValidationFailed("scheduledAt is in the past", field=f"{field_prefix}scheduledAt")
            next_run_at = body.scheduled_at
        if body.type is TaskType.RECURRING:
            if not body.cron:
                raise ValidationFailed("recurring tasks need cron", field=f"{field_prefix}cron")
            try:
                next_run_at = next_run(body.cron, body.timezone, after=now)
                gap = shortest_interval(body.cron, body.timezone, after=now)
            except BadSchedule as exc:
                raise ValidationFailed(str(exc), field=f"{field_prefix}cron") from exc
            least = self.min_cron_interval[role]
            if gap < least:
                raise ValidationFailed(
                    f"cron runs every {gap.total_seconds():g} s; at least {least.total_seconds():g} s apart allowed",
                    field=f"{field_prefix}cron",
                )
        return {
            "ownerId": owner,
            "name": body.name,
            "description": body.description,
            "type": body.type.value,
            "kind": body.kind,
            "payload": body.payload,
            "priority": body.priority,
            "queue": queue_for(body.priority).value,
            "status": (TaskStatus.DONE if body.type is TaskType.ONE_TIME else TaskStatus.ACTIVE).value,
            "scheduledAt": body.scheduled_at,
            "cron": body.cron if body.type is TaskType.RECURRING else None,
            "timezone": body.timezone,
            "misfirePolicy": body.misfire_policy.value,
            "nextRunAt": next_run_at,
            "maxRetries": body.max_retries,
            "timeoutMs": body.timeout_ms,
            "webhookUrl": str(body.webhook_url) if body.webhook_url else None,
        }

    async def submit(
        self, body: TaskIn, principal: Principal, idempotency_key: str | None
    ) -> tuple[Document, Document | None]:
        doc = self.build(body, principal.subject, principal.role)
        now = utcnow()
        if body.type is TaskType.ONE_TIME:  # it runs now: counted at once, as in a batch
            doc.update(runCount=1, lastRunAt=now)
        if idempotency_key:
            earlier = await self._replay(principal.subject, idempotency_key, body)
            if earlier is not None:
                return earlier
            doc.update(idempotencyKey=idempotency_key, requestHash=request_hash(body))
        try:
            task = await self.tasks.insert(doc)
        except DuplicateKeyError:  # the same key raced in from another request
            earlier = await self._replay(principal.subject, str(idempotency_key), body)
            if earlier is None:
                raise
            return earlier
        execution = None
        if body.type is TaskType.ONE_TIME:
            execution = await self.executions.create(task, now, "submit")
            if execution is not None:
                await dispatch(self.broker, self.executions, [execution])
        return task, execution

    async def _replay(self, owner: str, key: str, body: TaskIn) -> tuple[Document, Document | None] | None:
        earlier = await self.tasks.by_idempotency_key(owner, key)
        if earlier is None:
            return None
        if earlier.get("requestHash") != request_hash(body):
            raise IdempotencyConflict(field="Idempotency-Key")
        return earlier, await self.executions.first_of(earlier["_id"])

    async def submit_batch(
        self, bodies: list[TaskIn], principal: Principal
    ) -> tuple[list[Document], list[Document], int]:
        docs = []
        for i, body in enumerate(bodies):
            if body.type is not TaskType.ONE_TIME:
                raise ValidationFailed("a batch holds one-time tasks only", field=f"tasks.{i}.type")
            docs.append(self.build(body, principal.subject, principal.role, field_prefix=f"tasks.{i}."))
        now = utcnow()
        tasks = await self.tasks.insert_many([{**d, "runCount": 1, "lastRunAt": now} for d in docs])
        executions = await self.executions.insert_many([self.executions.new(t, now, "submit") for t in tasks])
        queued = await dispatch(self.broker, self.executions, executions)
        return tasks, executions, queued

    # --- reading and changing ---------------------------------------------------------

    async def get(self, task_id: str, principal: Principal) -> Document:
        oid = object_id(task_id)
        doc = await self.tasks.get(oid, None if principal.is_admin else principal.subject) if oid else None
        if doc is None:
            raise TaskNotFound()
        return doc

    async def page(
        self, principal: Principal, filters: dict[str, str | None], skip: int, limit: int
    ) -> tuple[list[Document], int]:
        query: Document = {} if principal.is_admin else {"ownerId": principal.subject}
        query.update({k: v for k, v in filters.items() if v})
        if "status" not in query:
            query["status"] = {"$ne": TaskStatus.DELETED.value}
        return await self.tasks.page(query, skip, limit)

    async def change(self, task_id: str, patch: TaskPatch, principal: Principal) -> Document:
        """Change what the patch names; only those parts are validated again."""
        task = await self.get(task_id, principal)
        if task["status"] in (TaskStatus.CANCELLED, TaskStatus.DELETED):
            raise TaskStateConflict(f"a {task['status']} task cannot change")
        changes = patch.model_dump(exclude_none=True)
        fields = patch.model_dump(exclude_none=True, by_alias=True)
        if "webhookUrl" in fields:
            fields["webhookUrl"] = str(fields["webhookUrl"])
        if "priority" in changes:
            fields["queue"] = queue_for(patch.priority or 0).value
        schedule = {"payload", "cron", "timezone", "scheduled_at"} & changes.keys()
        if schedule:
            merged = TaskIn.model_validate(
                {**{k: v for k, v in to_out(task).items() if k in TaskIn.model_fields}, **changes}
            )
            fresh = self.build(merged, task["ownerId"], principal.role)  # 422 naming the field, as on create
            if task["type"] != TaskType.ONE_TIME:
                fields["cron"] = fresh["cron"]
                if task["status"] == TaskStatus.ACTIVE:
                    fields["nextRunAt"] = fresh["nextRunAt"]
        updated = await self.tasks.update(task["_id"], fields)
        if updated is None:
            raise TaskNotFound()
        return updated

    async def delete(self, task_id: str, principal: Principal) -> None:
        task = await self.get(task_id, principal)
        await self._stop(task, TaskStatus.DELETED, deletedAt=utcnow())

    # --- control ----------------------------------------------------------------------

    async def run_now(self, task_id: str, principal: Principal) -> Document:
        task = await self.get(task_id, principal)
        if task["status"] == TaskStatus.CANCELLED:
            raise TaskStateConflict("a cancelled task cannot run")
        kind = KINDS.get(task["kind"])
        if kind is None or not kind.allows(principal.role):
            raise KindNotAllowed(f"tasks of kind {task['kind']!r} need the admin role", field="kind")
        execution = await self.executions.create(task, utcnow(), "manual")
        if execution is None:  # the same millisecond twice: the first one is this run
            raise TaskStateConflict("a run was just started")
        await dispatch(self.broker, self.executions, [execution])
        return execution

    async def pause(self, task_id: str, principal: Principal) -> Document:
        task = await self.get(task_id, principal)
        if task["type"] == TaskType.ONE_TIME or task["status"] != TaskStatus.ACTIVE:
            raise TaskStateConflict(
                f"only an active delayed or recurring task can be paused (this one is {task['status']})"
            )
        return await self._set(task, {"status": TaskStatus.PAUSED.value}, TaskStatus.ACTIVE)

    async def resume(self, task_id: str, principal: Principal) -> Document:
        task = await self.get(task_id, principal)
        if task["status"] != TaskStatus.PAUSED:
            raise TaskStateConflict(f"only a paused task can be resumed (this one is {task['status']})")
        fields: Document = {"status": TaskStatus.ACTIVE.value}
        if task["type"] == TaskType.RECURRING:  # runs missed while paused are not made up
            try:
                fields["nextRunAt"] = next_run(
                    task["cron"], task["timezone"], after=utcnow() - timedelta(milliseconds=1)
                )
            except BadSchedule as exc:
                raise TaskStateConflict(f"this task's schedule has no next run: {exc}") from exc
        return await self._set(task, fields, TaskStatus.PAUSED)

    async def cancel(self, task_id: str, principal: Principal) -> Document:
        task = await self.get(task_id, principal)
        return await self._stop(task, TaskStatus.CANCELLED)

    async def _set(self, task: Document, fields: Document, expected: TaskStatus) -> Document:
        updated = await self.tasks.update(task["_id"], fields, expect={"status": expected.value})
        if updated is None:
            raise TaskStateConflict("the task changed meanwhile; try again")
        return updated

    async def _stop(self, task: Document, status: TaskStatus, **extra: Any) -> Document:
        """No more runs; queued executions are cancelled, running ones asked to stop."""
        updated = await self.tasks.update(task["_id"], {"status": status.value, "nextRunAt": None, **extra})
        for execution_id in await self.executions.in_flight(task["_id"]):
            await self.executions.cancel(execution_id)
        return updated or task
