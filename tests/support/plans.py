"""Reading a query plan (``explain``) in tests."""

from __future__ import annotations

from typing import Any


def index_scan(stage: dict[str, Any]) -> dict[str, Any] | None:
    """The plan's index scan, if it has one."""
    if stage.get("stage") == "IXSCAN":
        return stage
    return index_scan(stage["inputStage"]) if "inputStage" in stage else None
