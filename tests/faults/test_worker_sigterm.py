"""SIGTERM to the worker mid-task: the in-flight task finishes; nothing is lost."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from bson import ObjectId
from jobyard_libs.mongo import utcnow
from jobyard_libs.queue.broker import create_broker
from jobyard_libs.tasks.dispatch import dispatch
from jobyard_libs.tasks.documents import Execution
from jobyard_libs.tasks.models import TaskStatus
from jobyard_libs.tasks.repository import ExecutionRepository, TaskRepository

from tests.conftest import Isolation
from tests.support.factories import a_task
from tests.support.imports import settings_for
from tests.support.processes import bin_path, stop_gracefully
from tests.support.waiting import eventually


async def _status(db: Any, execution_id: ObjectId) -> str:
    doc = await db.executions.find_one({"_id": execution_id})
    return str(doc["status"])


def _start_worker(isolation: Isolation, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        env = {**os.environ, **isolation.env()}
        return subprocess.Popen(
            [bin_path("jobyard-worker")],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


async def test_sigterm_mid_task_lets_it_finish(isolation: Isolation, db: Any, tmp_path: Path) -> None:
    tasks, executions = TaskRepository(db), ExecutionRepository(db)
    task = a_task(cron=None, kind="sleep", payload={"seconds": 2}, status=TaskStatus.DONE, timeout_ms=30_000)
    assert await tasks.insert(task)
    execution = await executions.create(Execution.of(task, utcnow(), "submit"))
    assert execution is not None
    broker = create_broker(settings_for(isolation))
    try:
        assert await dispatch(broker, executions, [execution]) == 1
    finally:
        broker.close()

    worker = _start_worker(isolation, tmp_path / "worker.log")

    async def running() -> bool:
        return await _status(db, execution.id) == "processing"

    await eventually(running, within=60, what="the task to start")
    code = stop_gracefully(worker)  # SIGTERM while the 2-second task runs
    assert code == 0, (tmp_path / "worker.log").read_text()[-2000:]
    done = await db.executions.find_one({"_id": execution.id})
    assert done["status"] == "completed"
    assert done["attempts"] == 1
