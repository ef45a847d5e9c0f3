"""A real Prometheus server on loopback (Debian's package), scraping the given targets every second."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from jobyard_devstack.net import free_port, wait_until


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, expr: str) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body: dict[str, Any] = response.json()
        return body

    def value(self, expr: str) -> float | None:
        result = self.query(expr)["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def names(self) -> set[str]:
        return set(httpx.get(f"{self.url}/api/v1/label/__name__/values", timeout=10).json()["data"])

    def targets_up(self) -> dict[str, bool]:
        active = httpx.get(f"{self.url}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        return {t["labels"]["job"]: t["health"] == "up" for t in active}


@contextlib.contextmanager
def running_prometheus(targets: dict[str, str], folder: Path) -> Iterator[Prometheus]:
    """``targets``: job name → ``host:port`` serving ``/metrics``."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing: install Debian's prometheus package (.ci/run does)"
    jobs = "\n".join(
        f"  - job_name: {job}\n    static_configs: [{{targets: ['{address}']}}]"
        for job, address in targets.items()
    )
    config = folder / "prometheus.yml"
    config.write_text(f"global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nscrape_configs:\n{jobs}\n")
    port = free_port()
    with (folder / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError((folder / "prometheus.log").read_text())
        try:
            return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, timeout=30, what="prometheus", interval=0.1)
        yield Prometheus(url)
    finally:
        process.terminate()
        process.wait(10)
