"""The committed dashboards are what ``jobyard-dev dashboards`` generates."""

from __future__ import annotations

import json
from pathlib import Path

from jobyard_devstack.dashboards import DASHBOARDS_DIR, rendered

ROOT = Path(__file__).parents[2]


def test_committed_dashboards_are_generated() -> None:
    files = rendered()
    assert sorted(p.name for p in (ROOT / DASHBOARDS_DIR).glob("*.json")) == sorted(files)
    for name, text in files.items():
        assert (ROOT / DASHBOARDS_DIR / name).read_text() == text, f"run `jobyard-dev dashboards` ({name})"


def test_each_dashboard_is_grafana_shaped() -> None:
    for name, text in rendered().items():
        board = json.loads(text)
        assert board["uid"].startswith("jobyard-") and board["panels"], name
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), name
        for panel in board["panels"]:
            assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]
            assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
