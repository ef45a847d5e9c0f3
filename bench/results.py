"""``bench/results.json``: every benchmark adds its section, beside the machine it ran on."""

from __future__ import annotations

import json
import os
import platform
import statistics
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results.json"


def _cpu_model() -> str:
    with Path("/proc/cpuinfo").open() as info:
        for line in info:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": len(os.sched_getaffinity(0)),
        "cpuModel": _cpu_model(),
        "memoryGb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "system": platform.platform(terse=True),
    }


def summary(values: list[float]) -> dict[str, Any]:
    """A figure measured over repeats: its median, spread (min, max) and every run."""
    return {"median": statistics.median(values), "spread": [min(values), max(values)], "runs": values}


def record(section: str, data: dict[str, Any]) -> None:
    current = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    current["machine"] = machine()
    current[section] = data
    RESULTS.write_text(json.dumps(current, indent=2) + "\n")
