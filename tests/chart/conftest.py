"""Render the chart with the pinned helm (``make helm`` installs it in .tools/)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parents[2]
CHART = ROOT / "charts/jobyard"
HELM = ROOT / ".tools/helm"
VALUES = {
    "default": [CHART / "ci/minimal-values.yaml"],
    "dev": [ROOT / "helm/values/dev.yaml"],
    "prod": [ROOT / "helm/values/prod.yaml"],
}


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    assert HELM.exists(), "helm is missing: `make helm` installs the pinned one into .tools/"
    return subprocess.run([str(HELM), *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def render(values: list[Path], *sets: str) -> list[dict[str, Any]]:
    args = ["template", "jobyard", str(CHART), "--namespace", "jobyard", "--include-crds"]
    for path in values:
        args += ["-f", str(path)]
    for assignment in sets:
        args += ["--set", assignment]
    result = helm(*args)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="session", params=sorted(VALUES))
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render(VALUES[request.param])
