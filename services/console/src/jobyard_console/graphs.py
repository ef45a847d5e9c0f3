"""A workflow's graph drawn on the server: each step a box in the column of its depth
(the longest path from a first step), each dependency an arrow. The page shows the SVG
and, for screen readers and for copying, the same steps as a table.

>>> from jobyard_libs.workflows.replies import StepOut
>>> def step(id, *deps):
...     return StepOut(id=id, kind="noop", depends_on=list(deps), run_if="allSucceeded", status="waiting",
...         for_each=None, execution_id=None, execution_ids=[], started_at=None, finished_at=None,
...         result=None, error=None)
>>> drawn = layout([step("a"), step("b", "a"), step("c", "a"), step("d", "b", "c")])
>>> [(n.id, n.column, n.row) for n in drawn.nodes]
[('a', 0, 0), ('b', 1, 0), ('c', 1, 1), ('d', 2, 0)]
>>> len(drawn.edges), drawn.width, drawn.height
(4, 674, 138)
"""

from __future__ import annotations

from dataclasses import dataclass

from jobyard_libs.workflows.replies import StepOut

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 170, 48, 70, 18, 12


@dataclass(frozen=True)
class Node:
    id: str
    status: str
    label: str  # its status, and how many runs a forEach step has
    href: str | None
    column: int
    row: int

    @property
    def x(self) -> int:
        return PAD + self.column * (NODE_W + GAP_X)

    @property
    def y(self) -> int:
        return PAD + self.row * (NODE_H + GAP_Y)


@dataclass(frozen=True)
class Edge:
    path: str  # an SVG path from the dependency's right side to the step's left side


@dataclass(frozen=True)
class Drawing:
    nodes: list[Node]
    edges: list[Edge]
    width: int
    height: int
    node_width: int = NODE_W
    node_height: int = NODE_H


def layout(steps: list[StepOut]) -> Drawing:
    depth: dict[str, int] = {}
    by_id = {step.id: step for step in steps}

    def depth_of(step_id: str) -> int:  # the graph was checked acyclic when it was submitted
        if step_id not in depth:
            deps = by_id[step_id].depends_on
            depth[step_id] = 1 + max(depth_of(dep) for dep in deps) if deps else 0
        return depth[step_id]

    rows: dict[int, int] = {}
    nodes: dict[str, Node] = {}
    for step in steps:
        column = depth_of(step.id)
        row = rows.get(column, 0)
        rows[column] = row + 1
        runs = f" · {len(step.execution_ids)} runs" if step.for_each is not None else ""
        first = step.execution_id or (step.execution_ids[0] if step.execution_ids else None)
        nodes[step.id] = Node(
            step.id, step.status, step.status + runs, f"/executions/{first}" if first else None, column, row
        )
    edges = []
    for step in steps:
        to = nodes[step.id]
        for dep in step.depends_on:
            start = nodes[dep]
            x1, y1 = start.x + NODE_W, start.y + NODE_H // 2
            x2, y2 = to.x, to.y + NODE_H // 2
            middle = (x1 + x2) // 2
            edges.append(Edge(f"M{x1},{y1} C{middle},{y1} {middle},{y2} {x2 - 6},{y2}"))
    columns = max(rows) + 1 if rows else 1
    height = max(rows.values(), default=1)
    return Drawing(
        list(nodes.values()),
        edges,
        width=2 * PAD + columns * NODE_W + (columns - 1) * GAP_X,
        height=2 * PAD + height * NODE_H + (height - 1) * GAP_Y,
    )
