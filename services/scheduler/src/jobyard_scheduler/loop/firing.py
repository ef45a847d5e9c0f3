"""Fire due delayed and recurring runs (of tasks, and of workflows:
:mod:`jobyard_scheduler.loop.workflows`), exactly once each; queue what was never queued.

A due task fires only if its owner may run it now (:mod:`jobyard_libs.tasks.rights`): a
deactivated owner's task, or one the owner's role no longer allows (an admin-only kind, a
cron more frequent than the role's floor), is paused with its reason instead.

For each due task the execution of that run is created first (unique on
``(taskId, scheduledFor)``), then the run is claimed by moving ``nextRunAt`` on,
guarded by the run it held and by the leader's fencing token. Whoever loses either race
creates nothing. A run missed by more than the misfire grace (no leader lived) follows
the task's policy: ``fire_once`` runs it once late and moves on; ``skip`` only moves on.
Each tick also queues executions stored while Redis was down, and fails the attempts of
``webhook-callback`` executions whose callback is overdue; every ``sweep_every`` it queues
again executions whose message Redis lost (a failover to a replica that had not received
it, a restart without persistence), sends again what Redis lost of stalled imports (their
run message, unapplied batches), deletes expired artifacts (CSV exports past
``JOBYARD_ARTIFACT_TTL_SECONDS``) and finished work past its retention
(:mod:`jobyard_libs.retention`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from dramatiq import Broker
from jobyard_libs.imports.pipeline import ImportRunner
from jobyard_libs.mongo import utcnow
from jobyard_libs.principals import DirectoryUnavailable, PrincipalResolver
from jobyard_libs.queue.liveness import WorkerLiveness
from jobyard_libs.retention import Retention, Swept
from jobyard_libs.tasks.artifacts import ArtifactRepository
from jobyard_libs.tasks.dispatch import dispatch, lost
from jobyard_libs.tasks.documents import Execution, Task, TaskChanges
from jobyard_libs.tasks.models import MisfirePolicy, TaskStatus, TaskType
from jobyard_libs.tasks.outcomes import Outcomes
from jobyard_libs.tasks.repository import ExecutionRepository, TaskRepository
from jobyard_libs.tasks.rights import INVALID_SCHEDULE, OwnerWork, task_refusal
from jobyard_libs.tasks.schedule import BadSchedule, next_run
from jobyard_libs.tasks.settings import TaskSettings
from jobyard_libs.workflows.progress import WorkflowProgress

from jobyard_scheduler.loop.workflows import WorkflowFiring

log = structlog.get_logger(__name__)


@dataclass
class TickResult:
    fired: int = 0
    skipped: int = 0
    paused_for_rights: int = 0
    queued: int = 0
    callbacks_overdue: int = 0
    requeued_lost: int = 0
    import_messages_resent: int = 0
    artifacts_expired: int = 0
    workers_lost: int = 0
    workflows_checked: int = 0
    workflows_started: int = 0
    expired: Swept = field(default_factory=Swept)


class Firing:
    def __init__(
        self,
        tasks: TaskRepository,
        executions: ExecutionRepository,
        outcomes: Outcomes,
        broker: Broker,
        settings: TaskSettings,
        *,
        misfire_grace: timedelta,
        requeue_after: timedelta = timedelta(seconds=30),
        artifacts: ArtifactRepository | None = None,
        imports: ImportRunner | None = None,
        sweep_every: timedelta = timedelta(seconds=10),
        rights: PrincipalResolver | None = None,
        owner_work: OwnerWork | None = None,
        liveness: WorkerLiveness | None = None,
        retention: Retention | None = None,
        workflows: WorkflowProgress | None = None,
        workflow_quiet: timedelta = timedelta(seconds=10),
        workflow_firing: WorkflowFiring | None = None,
    ) -> None:
        self.retention = retention
        self.workflows = workflows
        self.workflow_firing = workflow_firing
        self.workflow_quiet = workflow_quiet
        self.liveness = liveness
        self.rights = rights
        self.owner_work = owner_work
        self.imports = imports
        self.artifacts = artifacts
        self.sweep_every = sweep_every
        self._swept_at: datetime | None = None
        self.tasks = tasks
        self.executions = executions
        self.outcomes = outcomes
        self.broker = broker
        self.settings = settings
        self.misfire_grace = misfire_grace
        self.requeue_after = requeue_after

    async def tick(self, now: datetime, fence: int) -> TickResult:
        result = TickResult()
        for task in await self.tasks.due(now):
            await self._fire(task, now, fence, result)
        if self.workflow_firing is not None:
            result.workflows_started = await self.workflow_firing.tick(now, fence)
        # real time, not the (possibly simulated) scheduling clock: createdAt is real time
        unqueued = await self.executions.never_enqueued(stored_before=utcnow() - self.requeue_after)
        result.queued += await dispatch(self.broker, self.executions, unqueued)
        result.callbacks_overdue = await self._overdue_callbacks(now)
        real_now = utcnow()
        if self._swept_at is None or real_now - self._swept_at >= self.sweep_every:
            await self._housekeeping(real_now, result)
            self._swept_at = real_now
        return result

    async def _housekeeping(self, now: datetime, result: TickResult) -> None:
        """Attempts whose worker died; what Redis lost (messages of waiting executions, of
        stalled imports); expired files; finished work past its retention; workflows a
        crash left standing."""
        result.workers_lost = await self._workers_lost()
        waiting = await self.executions.waiting_since(now - self.requeue_after)
        # and attempts past their timeout whose holder is unknown (Redis could not say, or
        # claimed before holders were recorded): if their message is gone too, a new one
        # makes a worker take the attempt over (a duplicate finds nothing to do)
        waiting += await self.executions.stale_attempts(
            now, timedelta(seconds=self.settings.task_stale_grace_seconds)
        )
        gone = lost(self.broker, waiting)
        if gone:
            log.warning("executions_requeued", count=len(gone), ids=[str(e.id) for e in gone[:20]])
            result.requeued_lost = await dispatch(self.broker, self.executions, gone)
        if self.imports is not None:
            stalled_before = now - timedelta(seconds=self.imports.settings.import_resume_after_seconds)
            result.import_messages_resent = await self.imports.resume_stalled(stalled_before)
        if self.artifacts is not None:
            result.artifacts_expired = await self.artifacts.delete_expired(now)
        if self.retention is not None:
            result.expired = await self.retention.sweep(now)
        if self.workflows is not None:
            result.workflows_checked = await self.workflows.reconcile(self.workflow_quiet.total_seconds())

    async def _workers_lost(self) -> int:
        """Attempts whose worker stopped beating failed now, whatever their timeout (a worker
        picking up the dead worker's redelivered message does the same; one of them wins)."""
        if self.liveness is None:
            return 0
        dead = await self.liveness.dead(await self.executions.running_holders())
        if not dead:
            return 0
        lost = await self.executions.held_by(dead)
        for execution in lost:
            await self.outcomes.worker_lost(execution)
        return len(lost)

    async def _overdue_callbacks(self, now: datetime) -> int:
        """A callback that never came fails its attempt (retried like any failure)."""
        overdue = await self.executions.overdue_callbacks(now)
        for execution in overdue:
            await self.outcomes.failed(execution, error="no callback before the deadline")
        return len(overdue)

    async def _may_fire(self, task: Task, result: TickResult) -> bool:
        """Whether its owner may run it now; a task they may not is paused with the reason."""
        if self.rights is None or self.owner_work is None:
            return True
        floors = self.owner_work.floors
        try:
            state = await self.rights.state(task.owner_id)
        except DirectoryUnavailable:
            # rights unconfirmed: what anyone may run fires; an admin-only kind waits a tick
            return task_refusal(task, None, floors) is None
        reason = task_refusal(task, state, floors)
        if reason is None:
            return True
        if await self.owner_work.pause(task, reason):
            result.paused_for_rights += 1
        return False

    async def _fire(self, task: Task, now: datetime, fence: int, result: TickResult) -> None:
        due = task.next_run_at
        if due is None:
            return
        if not await self._may_fire(task, result):
            return
        missed = now - due > self.misfire_grace
        fire = not missed or task.misfire_policy is MisfirePolicy.FIRE_ONCE
        if task.type is TaskType.RECURRING and task.cron:
            try:
                following = next_run(task.cron, task.timezone, after=now if missed else due)
            except BadSchedule as exc:  # stored before its syntax was refused: paused, not fired
                if await self.tasks.update(
                    task.id,
                    TaskChanges(status=TaskStatus.PAUSED, paused_reason=INVALID_SCHEDULE),
                    expect_status=TaskStatus.ACTIVE,
                ):
                    log.warning("task_paused_invalid_schedule", task_id=str(task.id), error=str(exc))
                return
            status = TaskStatus.ACTIVE
        else:
            following, status = None, TaskStatus.DONE
        execution: Execution | None = None
        stamp = utcnow()  # its message's, stored with it: queueing it costs no second write
        if fire:
            execution = await self.executions.create(Execution.of(task, due, "schedule", enqueued_at=stamp))
        if not await self.tasks.claim_run(task, next_run_at=following, status=status, fence=fence):
            return  # another scheduler claimed this run; the execution (if any) is the same one
        if fire:
            result.fired += 1
            log.info("run_fired", task_id=str(task.id), scheduled_for=due.isoformat(), late=missed)
        else:
            result.skipped += 1
            log.info("run_skipped", task_id=str(task.id), scheduled_for=due.isoformat(), reason="misfire")
        if execution is not None:
            result.queued += await dispatch(self.broker, self.executions, [execution], stamped=stamp)
