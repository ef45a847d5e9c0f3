"""A workflow's rules alone: the graph check, when a step runs, what a workflow came to,
and references between steps."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jobyard_api.workflows.schemas import WorkflowIn
from jobyard_libs.tasks.kinds import KINDS
from jobyard_libs.tasks.schedule import validate_cron
from jobyard_libs.workflows.models import (
    Decision,
    MissingInput,
    RunIf,
    StepSpec,
    StepStatus,
    WorkflowStatus,
    decide,
    ended,
    graph_problem,
    items_of,
    references,
    resolve,
)

pytestmark = pytest.mark.unit
S = StepStatus


def _step(id: str, *depends_on: str, **extra: Any) -> StepSpec:
    return StepSpec(
        id=id, kind="noop", depends_on=list(depends_on), max_retries=0, timeout_ms=1000, priority=5, **extra
    )


@pytest.mark.parametrize(
    ("steps", "field", "says"),
    [
        ([], "steps", "at least one"),
        ([_step(f"s{i}") for i in range(4)], "steps", "at most 3"),
        ([_step("1a")], "steps[0].id", "a letter"),
        ([_step("a.b")], "steps[0].id", "a letter"),
        ([_step("a"), _step("a")], "steps[1].id", "steps[0] already"),
        ([_step("a", "nope")], "steps[0].dependsOn", "unknown step 'nope'"),
        ([_step("a", "a")], "steps[0].dependsOn", "itself"),
        (
            [_step("a", "c"), _step("b", "a"), _step("c", "b")],
            "steps[0].dependsOn",
            "a → c → b → a",
        ),
        ([_step("a"), _step("b", payload={"u": "${a.result.x}"})], "steps[1].payload", "does not depend on"),
        ([_step("item")], "steps[0].id", "not 'item'"),
        ([_step("a"), _step("b", "a", payload={"u": "${item}"})], "steps[1].payload", "no forEach"),
        ([_step("a"), _step("b", "a", for_each="a.result.x")], "steps[1].forEach", "a reference to a list"),
        ([_step("a"), _step("b", "a", for_each="${item}")], "steps[1].forEach", "a reference to a list"),
        (
            [_step("a"), _step("c"), _step("b", "a", for_each="${c.result.x}")],
            "steps[2].forEach",
            "does not depend",
        ),
    ],
)
def test_a_wrong_graph_is_named_by_its_field(steps: list[StepSpec], field: str, says: str) -> None:
    problem = graph_problem(steps, max_steps=3)
    assert problem is not None
    assert problem[0] == field and says in problem[1]


def test_a_diamond_and_a_reference_to_a_dependency_are_fine() -> None:
    steps = [
        _step("a"),
        _step("b", "a"),
        _step("c", "a"),
        _step("d", "b", "c", payload={"n": "${b.result.n}"}),
    ]
    assert graph_problem(steps, max_steps=4) is None


@pytest.mark.parametrize(
    ("run_if", "dependencies", "decision"),
    [
        (RunIf.ALL_SUCCEEDED, [S.COMPLETED, S.COMPLETED], Decision.RUN),
        (RunIf.ALL_SUCCEEDED, [S.COMPLETED, S.DEAD], Decision.SKIP),
        (RunIf.ALL_SUCCEEDED, [S.COMPLETED, S.SKIPPED], Decision.SKIP),
        (RunIf.ALL_SUCCEEDED, [S.COMPLETED, S.PENDING], Decision.WAIT),
        (RunIf.ANY_SUCCEEDED, [S.DEAD, S.COMPLETED], Decision.RUN),
        (RunIf.ANY_SUCCEEDED, [S.DEAD, S.SKIPPED], Decision.SKIP),
        (RunIf.ANY_SUCCEEDED, [S.COMPLETED, S.WAITING], Decision.WAIT),
        (RunIf.ALL_DONE, [S.DEAD, S.CANCELLED, S.SKIPPED], Decision.RUN),
        (RunIf.ALL_DONE, [S.DEAD, S.PENDING], Decision.WAIT),
        (RunIf.ANY_FAILED, [S.COMPLETED, S.FAILED], Decision.RUN),
        (RunIf.ANY_FAILED, [S.COMPLETED, S.SKIPPED], Decision.SKIP),
        (RunIf.ALL_SUCCEEDED, [], Decision.RUN),
    ],
)
def test_a_step_runs_only_when_its_condition_holds_once_its_dependencies_are_done(
    run_if: RunIf, dependencies: list[StepStatus], decision: Decision
) -> None:
    assert decide(run_if, dependencies) is decision


@pytest.mark.parametrize(
    ("steps", "outcome"),
    [
        ([S.COMPLETED, S.SKIPPED], WorkflowStatus.COMPLETED),
        ([S.COMPLETED, S.DEAD, S.COMPLETED], WorkflowStatus.FAILED),
        ([S.FAILED], WorkflowStatus.FAILED),
        ([S.CANCELLED, S.DEAD], WorkflowStatus.CANCELLED),
        ([S.COMPLETED, S.PENDING], None),
        ([S.WAITING], None),
    ],
)
def test_what_a_workflow_came_to(steps: list[StepStatus], outcome: WorkflowStatus | None) -> None:
    assert ended(steps) is outcome


def test_a_fan_out_is_over_a_bounded_list() -> None:
    inputs = {"a": {"ids": list(range(3)), "many": list(range(1001)), "one": 1}}
    assert items_of("${a.result.ids}", inputs) == [0, 1, 2]
    with pytest.raises(MissingInput, match="at most 1000"):
        items_of("${a.result.many}", inputs)
    with pytest.raises(MissingInput, match="not a list"):
        items_of("${a.result.one}", inputs)
    assert resolve({"u": "${item.url}", "n": "${a.result.one}"}, inputs, {"url": "x"}) == {"u": "x", "n": 1}


def test_a_reference_takes_the_value_whole_and_nothing_is_evaluated() -> None:
    inputs = {"a": {"items": [{"url": "https://example.com/x"}], "n": 3}}
    payload = {
        "u": "${a.result.items.0.url}",
        "n": "${a.result.n}",
        "all": "${a.result}",
        "text": "${__import__}",
    }
    assert resolve(payload, inputs) == {
        "u": "https://example.com/x",
        "n": 3,
        "all": inputs["a"],
        "text": "${__import__}",
    }
    with pytest.raises(MissingInput, match="no 'missing'"):
        resolve({"u": "${a.result.missing}"}, inputs)
    with pytest.raises(MissingInput, match="no '5'"):
        resolve({"u": "${a.result.items.5}"}, inputs)


def _documented_workflows() -> list[dict[str, Any]]:
    """Every whole workflow docs/workflows.md shows (a JSON block with a name and steps)."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "workflows.md").read_text()
    found = []
    for block in re.findall(r"```json\n(.*?)```", text, flags=re.DOTALL):
        try:
            example = json.loads(block)
        except ValueError:
            continue  # a fragment, such as the schedule fields alone
        if isinstance(example, dict) and "steps" in example:
            found.append(example)
    return found


def test_every_workflow_the_guide_shows_is_accepted() -> None:
    """What the api checks before storing one: its fields, its graph, each step's kind and
    payload (once references are left to resolve)."""
    examples = _documented_workflows()
    assert len(examples) >= 4  # the one under "Submit one", a chain, a diamond, a fan-out
    for example in examples:
        body = WorkflowIn.model_validate(example)
        specs = [StepSpec.model_validate(step.model_dump()) for step in body.steps]
        assert graph_problem(specs, max_steps=100) is None, example["name"]
        for spec in specs:
            assert spec.kind in KINDS, (example["name"], spec.kind)
            if not references(spec.payload):
                assert KINDS[spec.kind].payload_problem(spec.payload) is None, (example["name"], spec.id)
        if body.cron:
            validate_cron(body.cron)
