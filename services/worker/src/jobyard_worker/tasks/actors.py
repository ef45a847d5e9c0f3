"""The task actor: run one attempt of an execution."""

from __future__ import annotations

from typing import Any

from jobyard_libs.documents import as_id
from jobyard_libs.queue.contracts import ActorName, ExecutePayload
from jobyard_libs.tasks.live_logs import LiveLogs
from jobyard_libs.tasks.repository import ExecutionRepository
from jobyard_libs.tasks.rights import CronFloors

from jobyard_worker.actor_registry import actor
from jobyard_worker.context import worker_context
from jobyard_worker.tasks.service import Executor

# No Dramatiq time limit: each attempt enforces its task's own timeoutMs.
NO_LIMIT_MS = 7 * 24 * 3600 * 1000


@actor(ActorName.TASK_EXECUTE, time_limit=NO_LIMIT_MS)
async def execute(payload: dict[str, Any]) -> None:
    context = worker_context()
    db = context.resources.db
    executor = Executor(
        context.lifecycle,
        context.outcomes,
        ExecutionRepository(db),
        context.broker,
        context.settings,
        db,
        context.guard,
        context.rights,
        context.resources.events.import_changed,
        CronFloors.of(context.settings),
        context.audit,
        context.liveness,
        LiveLogs(context.resources.events.redis, context.resources.events.keys),
    )
    await executor.execute(as_id(ExecutePayload.model_validate(payload).execution_id))
