"""No Docker engine here: check the Dockerfile's structure instead of building it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "deploy" / "Dockerfile").read_text()


def _stages() -> dict[str, str]:
    parts = re.split(r"^FROM ", DOCKERFILE, flags=re.M)[1:]
    stages = {}
    for part in parts:
        header, _, body = part.partition("\n")
        name = header.split(" AS ")[-1].strip() if " AS " in header else header
        stages[name] = body
    return stages


def _services() -> list[str]:
    return sorted(
        p.parent.name
        for p in (ROOT / "services").glob("*/pyproject.toml")
        if tomllib.loads(p.read_text())["project"].get("scripts")
    )


def test_every_service_has_a_non_root_target() -> None:
    stages = _stages()
    for service in _services():
        assert service in stages, f"no target for {service}"
        body = stages[service]
        assert re.search(r"^USER 10001", body, re.M), f"{service} runs as root"
        assert f"--package jobyard-{service}" in stages[f"build-{service}"]
        assert re.search(rf'ENTRYPOINT \["jobyard-{service}"\]', body)


def test_copied_paths_exist() -> None:
    for source in re.findall(r"^COPY (?!--from)(\S+)", DOCKERFILE, re.M):
        assert (ROOT / source).exists(), source
