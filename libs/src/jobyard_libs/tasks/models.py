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


class TaskAction(StrEnum):
    RUN = "run"  # a run now, besides the schedule
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"  # no more runs; queued ones cancelled, running ones stopped


def task_actions(type_: TaskType, status: TaskStatus) -> list[TaskAction]:
    """What may be done to a task in this state: the api refuses the rest (409, but for
    cancel, which stays idempotent), the console offers these and no others.

    >>> task_actions(TaskType.RECURRING, TaskStatus.ACTIVE)
    [<TaskAction.RUN: 'run'>, <TaskAction.PAUSE: 'pause'>, <TaskAction.CANCEL: 'cancel'>]
    >>> task_actions(TaskType.ONE_TIME, TaskStatus.CANCELLED)
    []
    """
    allowed = []
    if status in (TaskStatus.ACTIVE, TaskStatus.PAUSED, TaskStatus.DONE):
        allowed.append(TaskAction.RUN)
    if status is TaskStatus.ACTIVE and type_ is not TaskType.ONE_TIME:
        allowed.append(TaskAction.PAUSE)
    if status is TaskStatus.PAUSED:
        allowed.append(TaskAction.RESUME)
    if status in (TaskStatus.ACTIVE, TaskStatus.PAUSED):
        allowed.append(TaskAction.CANCEL)
    return allowed


# What a task gets when its submission leaves these out: the api's, the stored model's and
# the console's form's (one place for all three).
DEFAULT_PRIORITY = 5
DEFAULT_MAX_RETRIES = 3
DEFAULT_TIMEOUT_MS = 300_000
DEFAULT_TIMEZONE = "UTC"


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
