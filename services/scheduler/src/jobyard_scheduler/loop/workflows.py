"""Start due delayed workflows and the runs of recurring ones, exactly once each.

A recurring workflow's run is stored first, under the id its moment gives it
(:func:`jobyard_libs.workflows.documents.run_id`), then the run is claimed by moving the
recurring workflow's ``nextRunAt`` on, guarded by the moment it held and by the leader's
fencing token; a delayed workflow is claimed by the same update, which makes it
``running``. Then its first steps start (:meth:`WorkflowProgress.advance`). A leader that
dies after any of these writes leaves what the next one finishes: the run stored again is
the same run, and a started workflow whose steps were never started is one the
reconciler advances.

A run missed by more than the misfire grace (no leader lived) runs once, late, and the
recurring workflow moves on to its next run from now (the tasks' ``fire_once``).

A workflow whose owner may no longer run it (deactivated, a step's kind their role may not
run, a cron more frequent than their role's floor) is cancelled when it comes due, with
the reason; while the owner's rights cannot be read, one with a kind restricted to admins
waits a tick.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from jobyard_libs.principals import DirectoryUnavailable, PrincipalResolver
from jobyard_libs.tasks.models import TaskType
from jobyard_libs.tasks.rights import REASONS, CronFloors, refusal
from jobyard_libs.tasks.schedule import BadSchedule, next_run
from jobyard_libs.workflows.documents import Workflow
from jobyard_libs.workflows.metrics import WORKFLOWS
from jobyard_libs.workflows.progress import WorkflowProgress

log = structlog.get_logger(__name__)
UNCONFIRMED = "rights_unconfirmed"  # the owner's rights cannot be read now: wait a tick


class WorkflowFiring:
    def __init__(
        self,
        progress: WorkflowProgress,
        *,
        misfire_grace: timedelta,
        rights: PrincipalResolver | None = None,
        floors: CronFloors | None = None,
    ) -> None:
        self.progress = progress
        self.workflows = progress.workflows
        self.misfire_grace = misfire_grace
        self.rights = rights
        self.floors = floors

    async def tick(self, now: datetime, fence: int) -> int:
        """Start what is due at ``now``; how many workflows (or runs) this leader started."""
        started = 0
        for workflow in await self.workflows.due(now):
            started += await self._fire(workflow, now, fence)
        return started

    async def _refusal(self, workflow: Workflow) -> str | None:
        """Why its owner may not run it now (a key of ``REASONS``, or ``UNCONFIRMED``)."""
        if self.rights is None or self.floors is None:
            return None
        try:
            state = await self.rights.state(workflow.owner_id)
        except DirectoryUnavailable:
            state = None
        cron = workflow.cron if workflow.type is TaskType.RECURRING else None
        # each kind once, and the cron's floor (50 runs computed) checked with the first only
        for i, kind in enumerate(dict.fromkeys(step.kind for step in workflow.steps.values())):
            reason = refusal(kind, cron if i == 0 else None, workflow.timezone, state, self.floors)
            if reason is not None:
                return UNCONFIRMED if state is None else reason
        return None

    async def _fire(self, workflow: Workflow, now: datetime, fence: int) -> int:
        due = workflow.next_run_at
        if due is None:
            return 0
        reason = await self._refusal(workflow)
        if reason == UNCONFIRMED:
            return 0
        if reason is not None:
            if await self.workflows.cancel_pending(workflow, REASONS[reason]):
                WORKFLOWS.labels("cancelled").inc()
                log.warning("workflow_refused", workflow_id=str(workflow.id), reason=reason)
            return 0
        missed = now - due > self.misfire_grace
        following = None
        if workflow.type is TaskType.RECURRING and workflow.cron:
            try:
                following = next_run(workflow.cron, workflow.timezone, after=now if missed else due)
            except BadSchedule as exc:  # a cron with no run left: it has nothing more to do
                if await self.workflows.cancel_pending(workflow, f"its cron has no next run: {exc}"):
                    log.warning("workflow_schedule_ended", workflow_id=str(workflow.id), error=str(exc))
                return 0
            run = workflow.run_at(due)
            await self.workflows.insert_run(run)  # stored already: by a leader that died before its claim
            if not await self.workflows.fired(workflow, next_run_at=following, fence=fence):
                return 0  # another leader claimed this run; the run it stored is this same one
            begun = run.id
        else:
            if not await self.workflows.fired(workflow, next_run_at=None, fence=fence):
                return 0
            begun = workflow.id
        WORKFLOWS.labels("started").inc()
        log.info(
            "workflow_fired",
            workflow_id=str(workflow.id),
            run_id=str(begun),
            due=due.isoformat(),
            late=missed,
        )
        await self.progress.advance(begun)
        return 1
