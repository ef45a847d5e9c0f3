"""Every task kind the api accepts has a runner in the worker, and nothing runs unannounced."""

from __future__ import annotations

import inspect

import pytest
from jobyard_libs.tasks.kinds import KINDS
from jobyard_worker.tasks.runners import RUNNERS, KindContext

pytestmark = pytest.mark.unit


def test_the_kinds_the_api_accepts_are_the_kinds_the_worker_runs() -> None:
    assert sorted(KINDS) == sorted(RUNNERS)


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_each_runner_takes_the_payload_its_kind_declares(name: str) -> None:
    signature = inspect.signature(RUNNERS[name], locals={"KindContext": KindContext}, eval_str=True)
    parameters = list(signature.parameters.values())
    assert [p.name for p in parameters] == ["context", "payload"]
    assert parameters[0].annotation is KindContext
    assert parameters[1].annotation is KINDS[name].payload
