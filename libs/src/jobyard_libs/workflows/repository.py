"""Workflows in MongoDB: every change of a step or of the workflow is one conditional
update, so of two processes racing to start a step (both saw its last dependency finish)
exactly one wins, and a workflow ends once."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from jobyard_libs.listing import Slice, Window, paginate
from jobyard_libs.mongo import Database, Document, IndexSpec, hint_for, utcnow
from jobyard_libs.tasks.models import TaskType
from jobyard_libs.workflows.documents import Workflow
from jobyard_libs.workflows.models import StepStatus, WorkflowStatus

WORKFLOWS = "workflows"
NEWEST = [("createdAt", -1), ("_id", -1)]
FILTERS = [
    IndexSpec(WORKFLOWS, [("ownerId", 1), ("status", 1), *NEWEST]),
    IndexSpec(WORKFLOWS, [("ownerId", 1), *NEWEST]),
    IndexSpec(WORKFLOWS, [("recurringId", 1), *NEWEST]),
    IndexSpec(WORKFLOWS, [("status", 1), *NEWEST]),
]
LIST = IndexSpec(WORKFLOWS, NEWEST)
INDEXES = [
    *FILTERS,
    LIST,
    IndexSpec(WORKFLOWS, [("status", 1), ("updatedAt", 1)]),  # the reconciler's
    IndexSpec(WORKFLOWS, [("status", 1), ("nextRunAt", 1)]),  # the leader's: what is due
]


class Noted(NamedTuple):
    """A pending step's runs noted as ended, of how many (0: a step stored before it was counted)."""

    ended: int
    runs: int


def _scoped(query: Document, owner_id: str | None) -> Document:
    return query if owner_id is None else {**query, "ownerId": owner_id}


class WorkflowRepository:
    def __init__(self, db: Database) -> None:
        self.collection = db[WORKFLOWS]

    async def insert(self, workflow: Workflow) -> Workflow:
        await self.collection.insert_one(workflow.to_mongo())
        return workflow

    async def get(self, workflow_id: ObjectId, owner_id: str | None) -> Workflow | None:
        """``owner_id``: the caller's scope (``None``: an admin's view, or ``ANY_OWNER``)."""
        return Workflow.from_mongo(await self.collection.find_one(_scoped({"_id": workflow_id}, owner_id)))

    async def insert_run(self, run: Workflow) -> bool:
        """A recurring workflow's run; ``False`` when it is stored already (same moment, same id)."""
        try:
            await self.collection.insert_one(run.to_mongo())
        except DuplicateKeyError:
            return False
        return True

    async def page(
        self,
        owner_id: str | None,
        window: Window,
        *,
        status: WorkflowStatus | None,
        owner: str | None = None,
        recurring_id: ObjectId | None = None,
    ) -> Slice[Workflow]:
        query = _scoped(_scoped({}, owner), owner_id)
        if recurring_id is not None:
            query["recurringId"] = recurring_id
        if status is not None:
            query["status"] = status.value
        index = hint_for(query, FILTERS, LIST)
        return await paginate(self.collection, query, NEWEST, index, window, Workflow, recent="createdAt")

    async def due(self, now: datetime, limit: int = 100) -> list[Workflow]:
        """Pending workflows whose time (delayed) or next run (recurring) has come, earliest first."""
        query = {"status": WorkflowStatus.PENDING.value, "nextRunAt": {"$lte": now}}
        return Workflow.many(await self.collection.find(query).sort("nextRunAt", 1).limit(limit).to_list())

    async def fired(self, workflow: Workflow, *, next_run_at: datetime | None, fence: int) -> bool:
        """The run due at ``workflow.next_run_at`` is taken: a delayed workflow starts running, a
        recurring one moves on to ``next_run_at``. One claimer wins each run, and never one
        whose fencing token is older than the last this workflow saw (a leader that lost its
        lease)."""
        now = utcnow()
        changes: Document = {
            "nextRunAt": next_run_at,
            "lastRunAt": workflow.next_run_at,
            "fence": fence,
            "updatedAt": now,
        }
        if workflow.type is TaskType.DELAYED:
            changes |= {"status": WorkflowStatus.RUNNING.value, "startedAt": now}
        changed = await self.collection.update_one(
            {
                "_id": workflow.id,
                "status": WorkflowStatus.PENDING.value,
                "nextRunAt": workflow.next_run_at,
                "fence": {"$not": {"$gt": fence}},
            },
            {"$set": changes, "$inc": {"runCount": 1}},
        )
        return changed.modified_count == 1

    async def cancel_pending(self, workflow: Workflow, reason: str | None = None) -> bool:
        """A workflow that has not started (or a recurring one) is cancelled with its steps;
        ``False`` when it is no longer pending."""
        now = utcnow()
        changes: Document = {f"steps.{name}.status": StepStatus.CANCELLED.value for name in workflow.steps}
        changes |= {
            "status": WorkflowStatus.CANCELLED.value,
            "cancelRequested": True,
            "cancelReason": reason,
            "nextRunAt": None,
            "finishedAt": now,
            "updatedAt": now,
        }
        changed = await self.collection.update_one(
            {"_id": workflow.id, "status": WorkflowStatus.PENDING.value}, {"$set": changes}
        )
        return changed.modified_count == 1

    async def start_step(self, workflow_id: ObjectId, step_id: str, runs: list[ObjectId]) -> bool:
        """waiting → pending with its executions' ids: ``True`` for the one caller that wins
        (never after a cancel was asked for)."""
        now = utcnow()
        changed = await self.collection.update_one(
            {
                "_id": workflow_id,
                "status": WorkflowStatus.RUNNING.value,
                "cancelRequested": {"$ne": True},
                f"steps.{step_id}.status": StepStatus.WAITING.value,
            },
            {
                "$set": {
                    f"steps.{step_id}.status": StepStatus.PENDING.value,
                    f"steps.{step_id}.runs": runs,
                    f"steps.{step_id}.width": len(runs),
                    f"steps.{step_id}.startedAt": now,
                    "updatedAt": now,
                }
            },
        )
        return changed.modified_count == 1

    async def end_step(
        self,
        workflow_id: ObjectId,
        step_id: str,
        status: StepStatus,
        *,
        expected: StepStatus,
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> bool:
        now = utcnow()
        changed = await self.collection.update_one(
            {"_id": workflow_id, f"steps.{step_id}.status": expected.value},
            {
                "$set": {
                    f"steps.{step_id}.status": status.value,
                    f"steps.{step_id}.finishedAt": now,
                    f"steps.{step_id}.result": result,
                    f"steps.{step_id}.error": error,
                    "updatedAt": now,
                }
            },
        )
        return changed.modified_count == 1

    async def note_runs_ended(
        self, workflow_id: ObjectId, step_id: str, runs: list[ObjectId]
    ) -> Noted | None:
        """Runs of a pending step ended: noted once however often they are told, in one small
        update whose answer is two numbers, not the workflow (a fan-out of N costs at most N
        of these, not N reads of N ids). ``None``: one of them was noted already, or is not a
        pending step's run (told one at a time, each is then noted or not on its own)."""
        step = f"steps.{step_id}"
        found = await self.collection.find_one_and_update(
            {
                "_id": workflow_id,
                f"{step}.status": StepStatus.PENDING.value,
                f"{step}.runs": {"$all": runs},
                f"{step}.ended": {"$nin": runs},
            },
            {"$push": {f"{step}.ended": {"$each": runs}}, "$inc": {f"{step}.endedCount": len(runs)}},
            projection={"_id": 0, f"{step}.endedCount": 1, f"{step}.width": 1},
            return_document=ReturnDocument.AFTER,
        )
        if found is None:
            return None
        counts = found["steps"][step_id]
        return Noted(ended=int(counts.get("endedCount", 0)), runs=int(counts.get("width", 0)))

    async def finish(self, workflow_id: ObjectId, status: WorkflowStatus) -> bool:
        now = utcnow()
        changed = await self.collection.update_one(
            {"_id": workflow_id, "status": WorkflowStatus.RUNNING.value},
            {"$set": {"status": status.value, "finishedAt": now, "updatedAt": now}},
        )
        return changed.modified_count == 1

    async def request_cancel(self, workflow_id: ObjectId) -> Workflow | None:
        """From now on no step starts; the workflow as it is then (``None``: not running)."""
        return Workflow.from_mongo(
            await self.collection.find_one_and_update(
                {"_id": workflow_id, "status": WorkflowStatus.RUNNING.value},
                {"$set": {"cancelRequested": True, "updatedAt": utcnow()}},
                return_document=ReturnDocument.AFTER,
            )
        )

    async def resume(self, workflow_id: ObjectId, step_id: str, run: ObjectId) -> bool:
        """A dead step's execution was replayed: the step is pending again, and so is the
        workflow; the steps skipped meanwhile wait to be decided again. (A dead run of a
        forEach step whose other runs still run: its end is no longer noted.)"""
        found = await self.get(workflow_id, None)
        if found is None:
            return False
        if found.steps[step_id].status is StepStatus.PENDING:  # a forEach run, its siblings still running
            return await self._unnote(workflow_id, step_id, run)
        skipped = [name for name, step in found.steps.items() if step.status is StepStatus.SKIPPED]
        now = utcnow()
        changes: Document = {
            f"steps.{step_id}.status": StepStatus.PENDING.value,
            f"steps.{step_id}.finishedAt": None,
            f"steps.{step_id}.error": None,
            "status": WorkflowStatus.RUNNING.value,
            "finishedAt": None,
            "updatedAt": now,
        }
        # the replayed run runs again: no longer noted as ended
        changes[f"steps.{step_id}.endedCount"] = len([r for r in found.steps[step_id].ended if r != run])
        for name in skipped:
            changes[f"steps.{name}.status"] = StepStatus.WAITING.value
            changes[f"steps.{name}.finishedAt"] = None
        changed = await self.collection.update_one(
            {
                "_id": workflow_id,
                f"steps.{step_id}.status": StepStatus.DEAD.value,
                "cancelRequested": {"$ne": True},
            },
            {"$set": changes, "$pull": {f"steps.{step_id}.ended": run}},
        )
        return changed.modified_count == 1

    async def _unnote(self, workflow_id: ObjectId, step_id: str, run: ObjectId) -> bool:
        """A pending step's run noted as ended runs again: its end will be noted again."""
        step = f"steps.{step_id}"
        changed = await self.collection.update_one(
            {"_id": workflow_id, f"{step}.status": StepStatus.PENDING.value, f"{step}.ended": run},
            {
                "$pull": {f"{step}.ended": run},
                "$inc": {f"{step}.endedCount": -1},
                "$set": {"updatedAt": utcnow()},
            },
        )
        return changed.modified_count == 1

    async def quiet_since(self, before: datetime, limit: int) -> list[Workflow]:
        """Running workflows that have not moved since ``before`` and were not checked since
        then either (the reconciler's), least recently moved first."""
        query = {
            "status": WorkflowStatus.RUNNING.value,
            "updatedAt": {"$lt": before},
            "checkedAt": {"$not": {"$gte": before}},
        }
        found = await self.collection.find(query).sort("updatedAt", 1).limit(limit).to_list()
        return Workflow.many(found)

    async def checked(self, workflow_id: ObjectId) -> None:
        """The reconciler looked at it (``updatedAt`` stays: when it last moved)."""
        await self.collection.update_one({"_id": workflow_id}, {"$set": {"checkedAt": utcnow()}})

    async def least_recently_moved(self) -> datetime | None:
        """When the running workflow that moved least recently last moved."""
        found = await self.collection.find_one(
            {"status": WorkflowStatus.RUNNING.value}, {"updatedAt": 1}, sort=[("updatedAt", 1)]
        )
        return None if found is None else found["updatedAt"]
