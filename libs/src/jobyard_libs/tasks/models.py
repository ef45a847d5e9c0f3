"""Tasks and executions: types, statuses, and priority → queue."""

from __future__ import annotations

from enum import StrEnum

from jobyard_libs.queue.contracts import Queue


class TaskType(StrEnum):
    ONE_TIME = "one_time"
    DELAYED = "delayed"
    RECURRING = "recurring"


class TaskStatus(StrEnum):
    ACTIVE = "active"  # will run (again)
    PAUSED = "paused"  # scheduled runs are held
    DONE = "done"  # a one-time or delayed task whose run was created
    CANCELLED = "cancelled"
    DELETED = "deleted"


class ExecutionStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    RETRYING = "retrying"
    COMPLETED = "completed"
    DEAD = "dead"  # a failed attempt with no retry left (one with retries left is ``retrying``)
    CANCELLED = "cancelled"


class MisfirePolicy(StrEnum):
    FIRE_ONCE = "fire_once"  # runs missed while no scheduler lived: one catch-up run
    SKIP = "skip"  # runs missed: none; wait for the next time


FINISHED = {
    ExecutionStatus.COMPLETED,
    ExecutionStatus.DEAD,
    ExecutionStatus.CANCELLED,
}


def queue_for(priority: int) -> Queue:
    """0-10, higher is more urgent: 7-10 → tasks.high, 4-6 → tasks.default, 0-3 → tasks.low."""
    if priority >= 7:
        return Queue.TASKS_HIGH
    if priority >= 4:
        return Queue.TASKS_DEFAULT
    return Queue.TASKS_LOW
