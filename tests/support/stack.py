"""The platform's real processes on loopback, sharing one database and key prefix: auth, api,
and (as asked) monitor, a worker and the scheduler loop. What the security and fault suites
attack and break.

Examples
--------
>>> with running_stack(isolation.env(), tmp_path, worker=True) as stack:
...     headers = stack.auth.user_headers("ann@example.com")
...     httpx.post(f"{stack.api}/api/v1/tasks", json={...}, headers=headers)
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from jobyard_devstack.net import free_port

from tests.support.auth_service import ADMIN_EMAIL, ADMIN_PASSWORD, TEST_LIMITS, AuthService
from tests.support.processes import bin_path, running_process, running_service


@dataclass
class Stack:
    env: dict[str, str]
    auth: AuthService
    api: str
    monitor: str | None
    worker_metrics: str | None
    scheduler_metrics: str | None
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    console: str | None = None

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")


@contextmanager
def running_stack(
    env: dict[str, str],
    tmp: Path,
    *,
    monitor: bool = False,
    console: bool = False,
    worker: bool = False,
    scheduler: bool = False,
    worker_threads: int = 4,
    timeout: float = 60,
) -> Iterator[Stack]:
    """Start the processes asked for; ``env`` names the database, prefix and any settings."""
    env = {
        "JOBYARD_SIGNING_KEYS_DIR": str(tmp / "keys"),
        "JOBYARD_ADMIN_EMAIL": ADMIN_EMAIL,
        "JOBYARD_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "JOBYARD_WORKER_METRICS_DIR": str(tmp / "worker-metrics"),
        **TEST_LIMITS,
        **env,
    }
    subprocess.run(
        [bin_path("jobyard-auth"), "bootstrap-admin"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        timeout=timeout,
    )
    with ExitStack() as stack:
        auth_url = stack.enter_context(
            running_service([bin_path("jobyard-auth"), "serve"], env, tmp / "auth.log", timeout)
        )
        env = {
            **env,
            "JOBYARD_AUTH_URL": auth_url,
            "JOBYARD_AUTH_JWKS_URL": f"{auth_url}/.well-known/jwks.json",
        }
        api_url = stack.enter_context(
            running_service([bin_path("jobyard-api"), "serve"], env, tmp / "api.log", timeout)
        )
        monitor_url = None
        if monitor:
            monitor_url = stack.enter_context(
                running_service([bin_path("jobyard-monitor"), "serve"], env, tmp / "monitor.log", timeout)
            )
        console_url = None
        if console:
            console_env = {"JOBYARD_CONSOLE_AUTH_URL": auth_url, "JOBYARD_CONSOLE_API_URL": api_url}
            if monitor_url:
                console_env["JOBYARD_CONSOLE_MONITOR_URL"] = monitor_url
            console_url = stack.enter_context(
                running_service(
                    [bin_path("jobyard-console"), "serve"],
                    {**env, **console_env},
                    tmp / "console.log",
                    timeout,
                )
            )
        processes: dict[str, subprocess.Popen[bytes]] = {}
        worker_url = scheduler_url = None
        if worker:
            port = free_port()
            worker_url = f"http://127.0.0.1:{port}"
            command = [bin_path("jobyard-worker"), "--processes", "1", "--threads", str(worker_threads)]
            processes["worker"] = stack.enter_context(
                running_process(
                    command,
                    {**env, "JOBYARD_WORKER_METRICS_PORT": str(port)},
                    tmp / "worker.log",
                    f"{worker_url}/healthz",
                    timeout,
                )
            )
        if scheduler:
            port = free_port()
            scheduler_url = f"http://127.0.0.1:{port}"
            processes["scheduler"] = stack.enter_context(
                running_process(
                    [bin_path("jobyard-scheduler"), "run"],
                    {**env, "JOBYARD_SCHEDULER_METRICS_PORT": str(port)},
                    tmp / "scheduler.log",
                    f"{scheduler_url}/metrics",
                    timeout,
                )
            )
        yield Stack(
            env,
            AuthService(auth_url),
            api_url,
            monitor_url,
            worker_url,
            scheduler_url,
            tmp,
            processes,
            console_url,
        )


def status_becomes(
    client: httpx.Client, path: str, headers: dict[str, str], expected: int, within: float = 10.0
) -> int:
    """GET ``path`` until it answers ``expected`` (or ``within`` seconds pass); the last status."""
    deadline = time.monotonic() + within
    status = client.get(path, headers=headers).status_code
    while status != expected and time.monotonic() < deadline:
        time.sleep(0.1)
        status = client.get(path, headers=headers).status_code
    return status
