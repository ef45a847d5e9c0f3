from __future__ import annotations

import re
from pathlib import Path

from jobyard_devstack.settings_doc import settings_docs, settings_table
from jobyard_devstack.values_doc import values_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_table_is_the_generated_one() -> None:
    text = README.read_text()
    match = re.search(r"<!-- settings-table:start -->\n(.*?)\n<!-- settings-table:end -->", text, re.S)
    assert match, "README lacks the settings-table markers"
    assert match.group(1).strip() == settings_table().strip(), "run `jobyard-dev settings-table` into README"


def test_every_setting_is_described() -> None:
    undocumented = [d.env for d in settings_docs() if len(d.description) < 10]
    assert undocumented == []


def test_readme_values_table_is_the_generated_one() -> None:
    text = README.read_text()
    match = re.search(r"<!-- values-table:start -->\n(.*?)\n<!-- values-table:end -->", text, re.S)
    assert match, "README lacks the values-table markers"
    assert match.group(1).strip() == values_table(README.parent).strip(), (
        "run `jobyard-dev values-table` into README"
    )


def test_every_chart_value_is_described() -> None:
    rows = [r for r in values_table(README.parent).splitlines()[2:] if r.rstrip("| ").endswith("|")]
    assert rows == []
