"""The console reads the services' answers as their reply models, and its templates read
only attributes those models (or the console's own views) have."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from datetime import datetime
from typing import Any

import jinja2
import pytest
from jinja2 import nodes
from jobyard_console.upstream import UpstreamError, read
from jobyard_console.web import templates
from jobyard_libs.schemas import Page
from jobyard_libs.tasks.replies import TaskOut
from pydantic import BaseModel

pytestmark = pytest.mark.unit

# what a template may be handed: the services' reply models and the console's own views
VIEWS = (
    "jobyard_libs.tasks.replies",
    "jobyard_libs.imports.replies",
    "jobyard_libs.accounts",
    "jobyard_libs.audit",
    "jobyard_libs.retention",
    "jobyard_libs.monitoring",
    "jobyard_libs.queue.depth",
    "jobyard_libs.tasks.stats",
    "jobyard_libs.schemas",
    "jobyard_console.web",
    "jobyard_console.sessions",
    "jobyard_console.charts",
    "jobyard_console.pages.tasks",
    "jobyard_libs.workflows.replies",
    "jobyard_console.graphs",
)
LOOP = {
    "index",
    "index0",
    "first",
    "last",
    "length",
    "revindex",
    "revindex0",
    "cycle",
    "previtem",
    "nextitem",
}


def _attributes() -> set[str]:
    known = set(dir({})) | set(dir("")) | set(dir(datetime)) | LOOP
    for name in VIEWS:
        for _, cls in inspect.getmembers(importlib.import_module(name), inspect.isclass):
            if issubclass(cls, BaseModel):
                known |= set(cls.model_fields) | set(cls.model_computed_fields)
            elif dataclasses.is_dataclass(cls):
                known |= {f.name for f in dataclasses.fields(cls)}
            else:
                continue
            known |= {n for n in dir(cls) if not n.startswith("_")}
    return known


def test_every_attribute_a_template_reads_exists_on_what_it_is_given() -> None:
    known = _attributes()
    env = templates.env
    assert env.loader is not None
    unknown = [
        f"{name}: .{node.attr}"
        for name in env.list_templates()
        for node in env.parse(env.loader.get_source(env, name)[0]).find_all(nodes.Getattr)
        if node.attr not in known
    ]
    assert unknown == []


def test_a_misspelt_attribute_fails_the_page_instead_of_showing_nothing() -> None:
    task = TaskOut.model_validate(_task())
    assert templates.env.from_string("{{ task.next_run_at }}").render(task=task) == "None"
    with pytest.raises(jinja2.UndefinedError):
        templates.env.from_string("{{ task.nextRunAt }}").render(task=task)


def test_an_answer_is_read_as_its_model_and_ignores_what_a_newer_service_adds() -> None:
    page = read(
        Page[TaskOut], {"items": [_task(addedLater=1)], "page": 1, "limit": 20, "total": 1, "more": True}
    )
    assert page.items[0].next_run_at is None and page.items[0].run_count == 3
    assert page.items[0].created_at == datetime.fromisoformat("2026-12-01T08:00:00+00:00")


def test_an_answer_that_does_not_fit_is_a_502_naming_the_field() -> None:
    answer = _task()
    del answer["runCount"]
    with pytest.raises(UpstreamError) as raised:
        read(TaskOut, answer)
    assert raised.value.status == 502 and raised.value.field == "runCount"
    assert "runCount" in raised.value.message


def _task(**extra: Any) -> dict[str, Any]:
    return {
        "id": "6a0000000000000000000001",
        "ownerId": "u1",
        "name": "nightly",
        "description": None,
        "type": "recurring",
        "kind": "noop",
        "payload": {},
        "priority": 5,
        "queue": "tasks.default",
        "status": "active",
        "scheduledAt": None,
        "cron": "0 3 * * *",
        "timezone": "UTC",
        "misfirePolicy": "fire_once",
        "nextRunAt": None,
        "maxRetries": 3,
        "timeoutMs": 30000,
        "webhookUrl": None,
        "runCount": 3,
        "lastRunAt": None,
        "actions": ["run", "pause"],
        "createdAt": "2026-12-01T08:00:00Z",
        "updatedAt": "2026-12-01T08:00:00Z",
        **extra,
    }
