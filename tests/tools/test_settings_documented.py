from __future__ import annotations

from pathlib import Path

import pytest
from jobyard_devstack.generated_docs import BLOCKS, current, stale
from jobyard_devstack.settings_doc import settings_docs
from jobyard_devstack.values_doc import VALUES, value_rows

ROOT = Path(__file__).resolve().parents[2]


def test_every_generated_block_is_current() -> None:
    assert all(current(ROOT, block) is not None for block in BLOCKS), "a generated block lost its markers"
    assert stale(ROOT) == [], "run `uv run jobyard-dev docs` to regenerate them"


def test_every_setting_is_described() -> None:
    docs = settings_docs()
    assert len(docs) > 50  # every service's settings were found
    undocumented = [d.env for d in docs if len(d.description) < 10]
    assert undocumented == []


def _undescribed(text: str) -> list[str]:
    return [key for key, _, meaning in value_rows(text) if not meaning.strip()]


def test_every_chart_value_is_described() -> None:
    text = (ROOT / VALUES).read_text()
    assert len(value_rows(text)) > 50
    assert _undescribed(text) == []


@pytest.mark.parametrize(
    ("added", "flagged"),
    [
        ("zzz: 1", ["zzz"]),  # no comment at all
        ("# -- \nzzz: 1", ["zzz"]),  # an empty one
        ("# -- Why it exists.\nzzz: 1", []),
        ("zzz:\n  # -- Inner.\n  inner: 1\n  bare: 2", ["zzz.bare"]),
    ],
)
def test_the_check_flags_what_it_should(added: str, flagged: list[str]) -> None:
    """The check above cannot pass vacuously: an undescribed value is reported."""
    text = (ROOT / VALUES).read_text() + "\n" + added + "\n"
    assert _undescribed(text) == flagged
