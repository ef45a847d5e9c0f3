"""What the console checks by itself, without a stack: its pinned JavaScript, the task form."""

from __future__ import annotations

import hashlib
import json
from importlib import resources

import pytest
from jobyard_console.pages.tasks import task_body

VENDOR = resources.files("jobyard_console") / "static" / "vendor"


def test_the_served_javascript_is_the_pinned_packages() -> None:
    manifest = json.loads((VENDOR / "manifest.json").read_text())
    assert set(manifest["files"]) == {"htmx.min.js", "sse.js"}
    for name, spec in manifest["files"].items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == spec["sha256"], name
        assert spec["integrity"].startswith("sha512-") and spec["version"][0].isdigit()


def test_a_page_loads_only_the_pinned_files() -> None:
    templates = resources.files("jobyard_console") / "templates"
    base = (templates / "base.html").read_text()
    for name in ("htmx.min.js", "sse.js"):
        assert f'src="/static/vendor/{name}"' in base
    assert "http://" not in base and "https://" not in base  # no CDN, no font service


def test_a_delayed_task_is_read_in_its_time_zone() -> None:
    body, errors = task_body(
        {
            "name": "n",
            "type": "delayed",
            "kind": "noop",
            "scheduledAt": "2030-07-01T09:00",
            "timezone": "Europe/Paris",
        }
    )
    assert errors == {}
    assert body["scheduledAt"] == "2030-07-01T07:00:00+00:00"


@pytest.mark.parametrize(
    ("values", "field", "says"),
    [
        ({"kind": "http", "payload": '{"url": 5}'}, "payload", "url"),
        ({"kind": "noop", "payload": "[1]"}, "payload", "JSON object"),
        ({"kind": "noop", "payload": "{"}, "payload", "JSON object"),
        ({"kind": "noop", "priority": "high"}, "priority", "whole number"),
        ({"kind": "noop", "type": "delayed", "scheduledAt": "soon"}, "scheduledAt", "date and time"),
        (
            {"kind": "noop", "type": "delayed", "scheduledAt": "2030-01-01T00:00", "timezone": "Mars/Base"},
            "scheduledAt",
            "time zone",
        ),
    ],
)
def test_a_wrong_field_is_named(values: dict[str, str], field: str, says: str) -> None:
    _, errors = task_body({"name": "n", **values})
    assert field in errors and says in errors[field], errors


def test_a_recurring_task_carries_its_schedule() -> None:
    body, errors = task_body(
        {"name": "n", "type": "recurring", "kind": "noop", "cron": "0 3 * * *", "timezone": "UTC"}
    )
    assert errors == {} and body["cron"] == "0 3 * * *" and body["misfirePolicy"] == "fire_once"
