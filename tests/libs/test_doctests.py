"""Every ``>>>`` example in the source runs, and shows what it says it shows.

Examples that need a database or a network are written as plain ``Usage`` blocks (no
prompt), so a prompt always means: this is checked.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = [ROOT / "libs" / "src" / "jobyard_libs", *sorted(ROOT.glob("services/*/src/jobyard_*"))]


def _modules_with_examples() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted(package.rglob("*.py")):
            if ">>>" in path.read_text():
                parts = path.relative_to(package.parent).with_suffix("").parts
                found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


MODULES = _modules_with_examples()


def test_examples_are_found() -> None:
    assert len(MODULES) >= 8


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, report=True)
    assert result.attempted > 0
    assert result.failed == 0
