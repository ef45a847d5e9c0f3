"""Work runs only for an owner who may run it **now**: the rule, and what a change of rights
does to the owner's work.

A task is checked against its owner's current rights (:mod:`jobyard_libs.principals`)
when it is made or changed (api), each time it fires (scheduler), and each time one of its
executions starts (worker): a deactivated owner's work never fires, a demoted owner's
admin-only kinds and too-frequent crons stop. :func:`refusal` is that one rule.

When an admin changes an account, :class:`OwnerWork` applies the change to its work at
once (auth): deactivation pauses the owner's delayed and recurring tasks and cancels their
queued executions (running ones are asked to stop); reactivation resumes exactly the tasks
the deactivation paused; a demotion pauses the recurring tasks the new role may not run.
Each paused task says why (``pausedReason``). The checks at fire and start are the safety
net when that fast path was missed.

Examples
--------
>>> floors = CronFloors(user=timedelta(seconds=60), admin=timedelta(seconds=1))
>>> refusal("noop", "* * * * * *", "UTC", PrincipalState(Role.USER, active=True), floors)
'cron_too_frequent'
>>> refusal("noop", None, "UTC", PrincipalState(Role.USER, active=False), floors)
'owner_deactivated'
>>> refusal("noop", "0 3 * * *", "UTC", PrincipalState(Role.USER, active=True), floors) is None
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from jobyard_libs.mongo import Database, utcnow
from jobyard_libs.principals import PrincipalState
from jobyard_libs.roles import Role
from jobyard_libs.settings import TaskRightsSettings
from jobyard_libs.tasks.documents import Task, TaskChanges
from jobyard_libs.tasks.kinds import KINDS
from jobyard_libs.tasks.lifecycle import ExecutionLifecycle
from jobyard_libs.tasks.models import TaskStatus, TaskType
from jobyard_libs.tasks.repository import ExecutionRepository, TaskRepository
from jobyard_libs.tasks.schedule import BadSchedule, next_run, shortest_interval

log = structlog.get_logger(__name__)
OWNER_DEACTIVATED = "owner_deactivated"
KIND_NOT_ALLOWED = "kind_not_allowed"
CRON_TOO_FREQUENT = "cron_too_frequent"
INVALID_SCHEDULE = "invalid_schedule"
REASONS = {
    OWNER_DEACTIVATED: "its owner's account is deactivated",
    KIND_NOT_ALLOWED: "its owner's role may not run this kind",
    CRON_TOO_FREQUENT: "its cron fires more often than its owner's role allows",
    INVALID_SCHEDULE: "its cron is not standard cron syntax (stored before such crons were refused)",
}


@dataclass(frozen=True)
class CronFloors:
    """The shortest interval between two runs of a recurring task, by its owner's role."""

    user: timedelta
    admin: timedelta

    @classmethod
    def of(cls, settings: TaskRightsSettings) -> CronFloors:
        return cls(
            timedelta(seconds=settings.task_min_cron_interval_seconds),
            timedelta(seconds=settings.task_min_cron_interval_seconds_admin),
        )

    def for_role(self, role: Role) -> timedelta:
        return self.admin if role is Role.ADMIN else self.user


def refusal(
    kind: str,
    cron: str | None,
    timezone: str,
    state: PrincipalState | None,
    floors: CronFloors,
    *,
    now: datetime | None = None,
) -> str | None:
    """Why work of this ``kind`` (and ``cron``) may not run for an owner in ``state``, or
    ``None`` when it may. ``state`` ``None`` (rights unknown): only what everyone may run."""
    spec = KINDS.get(kind)
    restricted = spec is not None and spec.roles != frozenset(Role)
    if state is None:
        return KIND_NOT_ALLOWED if restricted else None
    if not state.active:
        return OWNER_DEACTIVATED
    if spec is not None and not spec.allows(state.role):
        return KIND_NOT_ALLOWED
    if cron:
        try:
            gap = shortest_interval(cron, timezone, after=now or utcnow())
        except BadSchedule:
            return None  # a schedule without runs never fires anyway
        if gap < floors.for_role(state.role):
            return CRON_TOO_FREQUENT
    return None


def task_refusal(task: Task, state: PrincipalState | None, floors: CronFloors) -> str | None:
    cron = task.cron if task.type is TaskType.RECURRING else None
    return refusal(task.kind, cron, task.timezone, state, floors)


@dataclass(frozen=True)
class WorkChange:
    """What a change of an owner's rights did to their work."""

    paused_tasks: int = 0
    cancelled_executions: int = 0
    resumed_tasks: int = 0


class OwnerWork:
    def __init__(self, db: Database, lifecycle: ExecutionLifecycle, floors: CronFloors) -> None:
        self.tasks = TaskRepository(db)
        self.executions = ExecutionRepository(db)
        self.lifecycle = lifecycle
        self.floors = floors

    async def suspend(self, owner_id: str) -> WorkChange:
        """Deactivated: nothing of theirs fires or runs any more."""
        paused = await self.tasks.pause_owned(owner_id, reason=OWNER_DEACTIVATED)
        cancelled = 0
        for execution_id in await self.executions.unfinished_of_owner(owner_id):
            if await self.lifecycle.cancel(execution_id) is not None:
                cancelled += 1
        log.info("owner_work_suspended", owner_id=owner_id, paused=paused, cancelled=cancelled)
        return WorkChange(paused_tasks=paused, cancelled_executions=cancelled)

    async def resume(self, owner_id: str) -> WorkChange:
        """Reactivated: what the deactivation paused runs again (runs missed meanwhile are not
        made up: a recurring task's next run is its next one from now)."""
        resumed = 0
        now = utcnow()
        for task in await self.tasks.paused_for(owner_id, OWNER_DEACTIVATED):
            next_run_at = task.next_run_at
            if task.type is TaskType.RECURRING and task.cron:
                try:
                    next_run_at = next_run(task.cron, task.timezone, after=now)
                except BadSchedule:
                    continue
            if await self.tasks.resume_paused(task.id, OWNER_DEACTIVATED, next_run_at=next_run_at):
                resumed += 1
        log.info("owner_work_resumed", owner_id=owner_id, resumed=resumed)
        return WorkChange(resumed_tasks=resumed)

    async def recheck(self, owner_id: str, role: Role) -> WorkChange:
        """A new role: pause the active tasks it may not run (admin-only kinds, crons too frequent)."""
        state = PrincipalState(role, active=True)
        paused = 0
        for task in await self.tasks.active_scheduled_of(owner_id):
            reason = task_refusal(task, state, self.floors)
            if reason is not None and await self.pause(task, reason):
                paused += 1
        return WorkChange(paused_tasks=paused)

    async def pause(self, task: Task, reason: str) -> bool:
        """Pause one active task its owner may no longer run (the scheduler, at fire time)."""
        paused = await self.tasks.update(
            task.id,
            TaskChanges(status=TaskStatus.PAUSED, paused_reason=reason),
            expect_status=TaskStatus.ACTIVE,
        )
        if paused is not None:
            log.warning("task_paused_for_rights", task_id=str(task.id), owner_id=task.owner_id, reason=reason)
        return paused is not None
