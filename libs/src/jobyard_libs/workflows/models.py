"""A workflow's rules that need no database: the shape of its steps, the graph check, when
a step may run, and how a step's payload takes values from the results it depends on.

Usage
-----

::

    problem = graph_problem(steps, max_steps=100)      # None, or (field, message)
    decide(RunIf.ALL_SUCCEEDED, [StepStatus.COMPLETED, StepStatus.DEAD])
    # → <Decision.SKIP: 'skip'>
    resolve({"url": "${fetch.result.next}"}, {"fetch": {"next": "https://example.com/2"}})
    # → {'url': 'https://example.com/2'}
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

STEP_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")  # a key in stored paths: no '.', no '$'
# "${step.result.key.0}": a value of a dependency's result; "${item.key}": of a forEach run's item
REFERENCE = re.compile(
    r"^\$\{(?:([A-Za-z][A-Za-z0-9_-]{0,63})\.result|(item))((?:\.[A-Za-z0-9_-]{1,64})*)\}$"
)
ITEM = "item"  # not a step id: a forEach run's own item
FOR_EACH_MAX = 1000  # runs one forEach step may fan out to
RUNS_MAX = 2000  # executions one workflow may start in all (a hostile graph cannot amplify further)


class WorkflowStatus(StrEnum):
    PENDING = "pending"  # delayed, before its time; recurring, while it fires runs of its own
    RUNNING = "running"
    COMPLETED = "completed"  # every step completed or was skipped by its condition
    FAILED = "failed"  # a step died or could not start
    CANCELLED = "cancelled"


class StepStatus(StrEnum):
    WAITING = "waiting"  # for the steps it depends on
    PENDING = "pending"  # its execution is queued (its own status says more: processing, retrying)
    COMPLETED = "completed"
    FAILED = "failed"  # could not start: a reference its payload names is missing, or its payload is wrong
    DEAD = "dead"  # its execution exhausted its retries (a replay resumes the workflow)
    SKIPPED = "skipped"  # its condition can no longer hold
    CANCELLED = "cancelled"


DONE = frozenset(
    {StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.DEAD, StepStatus.SKIPPED, StepStatus.CANCELLED}
)
UNSUCCESSFUL = frozenset({StepStatus.FAILED, StepStatus.DEAD, StepStatus.CANCELLED})


class RunIf(StrEnum):
    ALL_SUCCEEDED = "allSucceeded"  # every dependency completed (the default)
    ANY_SUCCEEDED = "anySucceeded"  # at least one completed
    ALL_DONE = "allDone"  # whatever they came to
    ANY_FAILED = "anyFailed"  # at least one failed, died or was cancelled: a compensation step


class Decision(StrEnum):
    WAIT = "wait"
    RUN = "run"
    SKIP = "skip"


def decide(run_if: RunIf, dependencies: list[StepStatus]) -> Decision:
    """Whether a waiting step runs, is skipped, or waits: decided once every dependency is
    done (a skipped dependency counts as done, not as succeeded or failed).

    >>> decide(RunIf.ALL_SUCCEEDED, [StepStatus.COMPLETED, StepStatus.PENDING])
    <Decision.WAIT: 'wait'>
    >>> decide(RunIf.ANY_FAILED, [StepStatus.COMPLETED, StepStatus.SKIPPED])
    <Decision.SKIP: 'skip'>
    >>> decide(RunIf.ALL_DONE, [])
    <Decision.RUN: 'run'>
    """
    if any(status not in DONE for status in dependencies):
        return Decision.WAIT
    succeeded = [status is StepStatus.COMPLETED for status in dependencies]
    holds = {
        RunIf.ALL_SUCCEEDED: all(succeeded),
        RunIf.ANY_SUCCEEDED: any(succeeded) or not dependencies,
        RunIf.ALL_DONE: True,
        RunIf.ANY_FAILED: any(status in UNSUCCESSFUL for status in dependencies),
    }[run_if]
    return Decision.RUN if holds else Decision.SKIP


def ended(statuses: list[StepStatus]) -> WorkflowStatus | None:
    """What a workflow came to once every step is done; ``None`` while one is not. A step
    that failed or died fails the workflow, even when a compensation step (``anyFailed``)
    ran after it: the workflow did not do what it was for, and says so.

    >>> ended([StepStatus.COMPLETED, StepStatus.SKIPPED])
    <WorkflowStatus.COMPLETED: 'completed'>
    >>> ended([StepStatus.DEAD, StepStatus.COMPLETED])
    <WorkflowStatus.FAILED: 'failed'>
    """
    if any(status not in DONE for status in statuses):
        return None
    if StepStatus.CANCELLED in statuses:
        return WorkflowStatus.CANCELLED
    if any(status in (StepStatus.FAILED, StepStatus.DEAD) for status in statuses):
        return WorkflowStatus.FAILED
    return WorkflowStatus.COMPLETED


class StepSpec(BaseModel):
    """One step as submitted: what it runs, after what, on which condition."""

    id: str
    kind: str
    payload: dict[str, Any] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)
    run_if: RunIf = RunIf.ALL_SUCCEEDED
    for_each: str | None = None  # "${step.result.list}": one run per item of that list
    max_retries: int
    timeout_ms: int
    priority: int


def graph_problem(steps: list[StepSpec], *, max_steps: int) -> tuple[str, str] | None:
    """What is wrong with a workflow's graph, as (field, message), or ``None``: too many
    steps, a malformed or repeated id, an unknown dependency, a step depending on itself, a
    cycle (named by a step on it), or a payload reference to a step it does not depend on.

    >>> a = dict(kind="noop", max_retries=0, timeout_ms=1000, priority=5)
    >>> graph_problem([StepSpec(id="a", depends_on=["b"], **a), StepSpec(id="b", depends_on=["a"], **a)], max_steps=9)
    ('steps[0].dependsOn', 'a cycle: a → b → a')
    """
    if not steps:
        return "steps", "a workflow needs at least one step"
    if len(steps) > max_steps:
        return "steps", f"{len(steps)} steps; at most {max_steps} allowed"
    index: dict[str, int] = {}
    for i, step in enumerate(steps):
        if not STEP_ID.match(step.id) or step.id == ITEM:
            return f"steps[{i}].id", "a letter, then up to 63 letters, digits, '-' or '_' (not 'item')"
        if step.id in index:
            return f"steps[{i}].id", f"{step.id!r} is used by steps[{index[step.id]}] already"
        index[step.id] = i
    for i, step in enumerate(steps):
        for dependency in step.depends_on:
            if dependency == step.id:
                return f"steps[{i}].dependsOn", f"{step.id!r} depends on itself"
            if dependency not in index:
                return f"steps[{i}].dependsOn", f"unknown step {dependency!r}"
        for name in references(step.payload) - {ITEM}:
            if name not in step.depends_on:
                return f"steps[{i}].payload", f"refers to {name!r}, which it does not depend on"
        if ITEM in references(step.payload) and step.for_each is None:
            return f"steps[{i}].payload", "refers to ${item}, but the step has no forEach"
        if step.for_each is not None:
            over = references(step.for_each)
            if not over or ITEM in over:
                return (
                    f"steps[{i}].forEach",
                    'a reference to a list in a dependency\'s result: "${step.result.key}"',
                )
            if not over <= set(step.depends_on):
                return f"steps[{i}].forEach", f"refers to {over.pop()!r}, which it does not depend on"
    cycle = _cycle(steps)
    if cycle:
        return f"steps[{index[cycle[0]]}].dependsOn", "a cycle: " + " → ".join(cycle)
    return None


def _cycle(steps: list[StepSpec]) -> list[str] | None:
    """A cycle among the steps (its ids, the first repeated at the end), found depth first."""
    edges = {step.id: step.depends_on for step in steps}
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in edges[node]:
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for step in steps:
        if step.id not in state and (found := visit(step.id)):
            return found
    return None


def references(value: Any) -> set[str]:
    """The steps a payload takes values from (``"${step.result.path}"`` string values)."""
    if isinstance(value, str):
        match = REFERENCE.match(value)
        return {match.group(1) or ITEM} if match else set()
    if isinstance(value, dict):
        return set().union(*(references(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(references(v) for v in value)) if value else set()
    return set()


class MissingInput(Exception):
    """A payload names a value its dependency's result does not have."""


def resolve(value: Any, inputs: dict[str, Any], item: Any = None) -> Any:
    """The payload with every reference replaced by the value it names: a string that is
    exactly ``${step.result}`` or ``${step.result.key.0.key}`` (keys of objects, indexes of
    lists; ``step`` one it depends on), or ``${item}``/``${item.key}`` (a forEach run's
    item), becomes that value, whatever its type. Nothing is evaluated: a reference is a
    path, and any other string is left as it is.

    >>> resolve({"n": "${a.result.items.1}", "s": "${a} stays"}, {"a": {"items": [4, 5]}})
    {'n': 5, 's': '${a} stays'}
    >>> resolve(["${item.id}"], {}, item={"id": 7})
    [7]
    """
    if isinstance(value, str):
        match = REFERENCE.match(value)
        if not match:
            return value
        name, path = match.group(1), match.group(3)
        found: Any = inputs.get(name) if name else item
        for key in path.split(".")[1:]:
            if isinstance(found, dict) and key in found:
                found = found[key]
            elif isinstance(found, list) and key.isdigit() and int(key) < len(found):
                found = found[int(key)]
            else:
                whose = f"{name}'s result" if name else ITEM
                raise MissingInput(f"{value}: {whose} has no {key!r}")
        return found
    if isinstance(value, dict):
        return {k: resolve(v, inputs, item) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, inputs, item) for v in value]
    return value


def items_of(for_each: str, inputs: dict[str, Any]) -> list[Any]:
    """The items a forEach step runs once each: a list, at most FOR_EACH_MAX long.

    >>> items_of("${a.result.ids}", {"a": {"ids": [1, 2]}})
    [1, 2]
    """
    found = resolve(for_each, inputs)
    if not isinstance(found, list):
        raise MissingInput(f"forEach {for_each}: not a list ({type(found).__name__})")
    if len(found) > FOR_EACH_MAX:
        raise MissingInput(f"forEach {for_each}: {len(found)} items; at most {FOR_EACH_MAX}")
    return found
