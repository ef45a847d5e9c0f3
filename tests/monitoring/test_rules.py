"""The alert rules: valid for Prometheus, each unit-tested with promtool, each with a runbook."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[2]
RULES = ROOT / "charts/jobyard/files/prometheus/alerts.yaml"
RULE_TESTS = Path(__file__).parent / "alerts.test.yaml"
RUNBOOKS = ROOT / "docs/runbooks.md"


def alerts() -> list[dict[str, object]]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r]


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: install Debian's prometheus package (.ci/run does)"
    return found


def test_promtool_check_rules(promtool: str) -> None:
    result = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in result.stdout


def test_promtool_unit_tests(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "test", "rules", str(RULE_TESTS)], capture_output=True, text=True, cwd=RULE_TESTS.parent
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_test_and_a_runbook() -> None:
    tested = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    firing = {
        case["alertname"] for group in tested for case in group["alert_rule_test"] if case["exp_alerts"]
    }
    quiet = {
        case["alertname"] for group in tested for case in group["alert_rule_test"] if not case["exp_alerts"]
    }
    sections = set(re.findall(r"^## (\w+)$", RUNBOOKS.read_text(), flags=re.MULTILINE))
    for alert in alerts():
        name = str(alert["alert"])
        assert name in firing, f"{name}: no promtool case where it fires"
        assert name in quiet, f"{name}: no promtool case where it stays quiet"
        assert name in sections, f"{name}: no runbook section"
        annotations = alert["annotations"]
        assert isinstance(annotations, dict)
        assert annotations["runbook_url"].endswith(f"docs/runbooks.md#{name.lower()}")
