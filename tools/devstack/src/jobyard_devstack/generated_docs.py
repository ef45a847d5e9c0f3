"""The generated blocks of the docs: ``jobyard-dev docs`` rewrites them, a test checks them.

Each block sits between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` in a Markdown file;
its text comes from the code (settings classes, the chart's values), so documentation and
code cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from jobyard_devstack.settings_doc import settings_table
from jobyard_devstack.values_doc import values_table


@dataclass(frozen=True)
class Block:
    path: str  # relative to the repository root
    name: str
    render: Callable[[Path], str]


BLOCKS = [
    Block("docs/configuration.md", "settings-table", lambda root: settings_table()),
    Block("docs/chart.md", "values-table", values_table),
]


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- {name}:start -->\n)(.*?)(\n<!-- {name}:end -->)", re.S)


def current(root: Path, block: Block) -> str | None:
    match = _pattern(block.name).search((root / block.path).read_text())
    return match.group(2) if match else None


def stale(root: Path) -> list[str]:
    """The blocks whose text is not what the code generates (or that are missing)."""
    return [
        f"{b.path}#{b.name}" for b in BLOCKS if (current(root, b) or "").strip() != b.render(root).strip()
    ]


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\")  # a replacement template: backslashes are special


def regenerate(root: Path) -> list[str]:
    changed = []
    for block in BLOCKS:
        path = root / block.path
        text = path.read_text()
        fresh, count = _pattern(block.name).subn(rf"\g<1>{_escaped(block.render(root))}\g<3>", text)
        if count != 1:
            raise ValueError(f"{block.path} needs exactly one {block.name} block")
        if fresh != text:
            path.write_text(fresh)
            changed.append(f"{block.path}#{block.name}")
    return changed
