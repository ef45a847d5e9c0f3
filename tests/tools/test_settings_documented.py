from __future__ import annotations

from pathlib import Path

from jobyard_devstack.generated_docs import BLOCKS, current, stale
from jobyard_devstack.settings_doc import settings_docs
from jobyard_devstack.values_doc import values_table

ROOT = Path(__file__).resolve().parents[2]


def test_every_generated_block_is_current() -> None:
    assert all(current(ROOT, block) is not None for block in BLOCKS), "a generated block lost its markers"
    assert stale(ROOT) == [], "run `uv run jobyard-dev docs` to regenerate them"


def test_every_setting_is_described() -> None:
    undocumented = [d.env for d in settings_docs() if len(d.description) < 10]
    assert undocumented == []


def test_every_chart_value_is_described() -> None:
    # a row whose last cell (the description) is empty ends with "|  |" or "| |"
    rows = [r for r in values_table(ROOT).splitlines()[2:] if r.replace(" ", "").endswith("||")]
    assert rows == []
