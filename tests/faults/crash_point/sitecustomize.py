"""A crash at an exact point, for the fault suite: a process started with this folder on
``PYTHONPATH`` and ``JOBYARD_TEST_CRASH_AT=workflow-advance`` SIGKILLs its whole process
group (a pod killed) the first time a worker tells a workflow that a step's execution
ended: the execution's end is stored, the workflow has not moved. Once only, across
processes (``JOBYARD_TEST_CRASH_MARKER``, created atomically), so its replacement runs on.

Nothing of the product is changed: the module is wrapped as it is imported."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import signal
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

TARGET = "jobyard_libs.workflows.progress"


def _crash_once() -> None:
    try:
        os.close(os.open(os.environ["JOBYARD_TEST_CRASH_MARKER"], os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    os.killpg(os.getpgid(0), signal.SIGKILL)


def _patch(module: ModuleType) -> None:
    progress = module.WorkflowProgress
    original = progress.advance

    async def advance(self: Any, workflow_id: Any, ended: Any = None) -> Any:
        if ended:  # a worker (the lifecycle) telling of executions that ended
            _crash_once()
        return await original(self, workflow_id, ended)

    progress.advance = advance


class _WrapOnImport(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        execute = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            execute(module)
            _patch(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if os.environ.get("JOBYARD_TEST_CRASH_AT") == "workflow-advance":
    sys.meta_path.insert(0, _WrapOnImport())
