"""``make run`` as a newcomer meets it: up, register → login → me, Ctrl-C, run again."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from jobyard_devstack.net import port_open, wait_until

from tests.support.devstack import DevStack, admin_password, dev_stack
from tests.support.processes import bin_path


@pytest.fixture
def devstack(tmp_path: Path, redis_url: str) -> Iterator[DevStack]:
    with dev_stack(tmp_path / "data", redis_url) as stack:
        yield stack


def test_up_register_login_me_then_ctrl_c(devstack: DevStack) -> None:
    banner = devstack.up()
    assert f"http://127.0.0.1:{devstack.auth_port}" in banner
    first_url = banner.split("Jobyard is up:\n", 1)[1].splitlines()[0]
    assert first_url.startswith(f"  console  http://127.0.0.1:{devstack.console_port} ")  # the console first
    base = f"http://127.0.0.1:{devstack.auth_port}"
    with httpx.Client(base_url=base, timeout=10) as http:
        assert (
            http.post(
                "/auth/v1/register",
                json={"email": "new@example.com", "password": "my long passphrase", "name": "New"},
            ).status_code
            == 201
        )
        token = http.post(
            "/auth/v1/login", json={"email": "new@example.com", "password": "my long passphrase"}
        ).json()
        me = http.get("/auth/v1/me", headers={"Authorization": f"Bearer {token['accessToken']}"})
        assert me.json()["email"] == "new@example.com"
        admin = http.post(
            "/auth/v1/login", json={"email": "admin@example.com", "password": admin_password(banner)}
        )
        assert admin.status_code == 200, banner
        headers = {"Authorization": f"Bearer {admin.json()['accessToken']}"}

    # what a newcomer sees within a minute: the first import's logs and jobs, through the api
    api = f"http://127.0.0.1:{devstack.api_port}"
    assert "3 feeds: 3 queued, 0 failed" in banner

    def imported() -> bool:
        logs = httpx.get(f"{api}/api/v1/imports", headers=headers, timeout=10).json()["items"]
        return len(logs) == 3 and all(log["status"] == "completed" for log in logs)

    wait_until(imported, timeout=60, what="the first import to complete", interval=0.2)
    jobs = httpx.get(
        f"{api}/api/v1/jobs", params={"company": "Northwind Data"}, headers=headers, timeout=10
    ).json()
    assert jobs["total"] == 2

    # and a task, run by the worker make run started
    created = httpx.post(
        f"{api}/api/v1/tasks", json={"name": "hello", "kind": "noop"}, headers=headers, timeout=10
    ).json()

    def completed() -> bool:
        execution = httpx.get(
            f"{api}/api/v1/executions/{created['executionId']}", headers=headers, timeout=10
        ).json()
        return bool(execution["status"] == "completed")

    wait_until(completed, timeout=30, what="the task to complete", interval=0.2)

    children = [
        int(p.read_text()) for p in (devstack.data_dir / "run").glob("*.pid") if p.stem != "jobyard-dev"
    ]
    assert (
        len(children) == 7
    )  # mongodb, auth, api, monitor, console, worker, scheduler (Redis is the session's own)
    assert devstack.stop(signal.SIGINT, times=2) == 0
    with pytest.raises(httpx.HTTPError):
        httpx.get(base + "/healthz", timeout=1)
    assert list((devstack.data_dir / "run").glob("*.pid")) == []
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_a_second_run_survives_a_killed_first_one(devstack: DevStack) -> None:
    first = devstack.up()
    assert devstack.process is not None
    os.kill(devstack.process.pid, signal.SIGKILL)  # the supervisor dies (its children follow it)
    devstack.process.wait(30)

    second = devstack.up()  # whatever the first left (pid files, children still stopping)
    assert admin_password(second) == admin_password(first)  # same admin, same password shown
    base = f"http://127.0.0.1:{devstack.auth_port}"
    wait_until(lambda: httpx.get(base + "/readyz", timeout=1).status_code == 200, timeout=120, what="auth")
    data = httpx.get(base + "/auth/v1/me", timeout=5)
    assert data.status_code == 401
    assert devstack.stop(signal.SIGTERM) == 0


def test_ensure_redis_reports_the_binary() -> None:
    result = subprocess.run(
        [bin_path("jobyard-dev"), "ensure-redis"], capture_output=True, text=True, check=True, timeout=300
    )
    assert result.stdout.strip().endswith("redis-server")


def test_a_crashed_service_is_restarted_and_the_stack_stays_up(devstack: DevStack) -> None:
    devstack.up()
    pid_file = devstack.data_dir / "run" / "api.pid"
    first = int(pid_file.read_text())
    os.kill(first, signal.SIGKILL)
    api = f"http://127.0.0.1:{devstack.api_port}"

    def back() -> bool:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            return (
                int(pid_file.read_text()) != first
                and httpx.get(f"{api}/readyz", timeout=1).status_code == 200
            )
        return False

    wait_until(back, timeout=60, what="the api to be restarted", interval=0.2)
    assert devstack.process is not None and devstack.process.poll() is None  # the stack never went down
    assert devstack.stop(signal.SIGINT) == 0
    assert "api exited with code -9; restarting in 1 s" in "".join(devstack.output)


def test_a_bad_setting_is_one_line_naming_it(devstack: DevStack) -> None:
    devstack.env["JOBYARD_ADMIN_PASSWORD"] = "short"
    result = subprocess.run(
        [bin_path("jobyard-dev"), "up"],
        env=devstack.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    [error] = [line for line in result.stdout.splitlines() if line.startswith("error:")]
    assert error == (
        "error: creating the first admin: jobyard-auth: JOBYARD_ADMIN_PASSWORD: password must be at least 10 characters"
    )
    devstack.env["JOBYARD_DEV_API_PORT"] = "not-a-port"
    result = subprocess.run(
        [bin_path("jobyard-dev"), "up"],
        env=devstack.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "jobyard-dev: JOBYARD_DEV_API_PORT: Input should be a valid integer, unable to parse string as an integer"
    ]


def test_a_run_starts_cleanly_whatever_an_earlier_one_left(devstack: DevStack) -> None:
    devstack.up()
    first = devstack.process
    assert first is not None
    run = devstack.data_dir / "run"
    (run / "half.pid").write_text("")  # a pid file half-written when its run was killed
    (run / "garbage.pid").write_text("12ab")
    first.send_signal(signal.SIGTERM)  # the earlier run is stopping as the next one starts
    second = devstack.up()
    output = second + "".join(devstack.output)
    assert "Traceback" not in output
    assert f"http://127.0.0.1:{devstack.auth_port}" in second
    assert first.wait(60) is not None
    assert not (run / "half.pid").exists() and not (run / "garbage.pid").exists()
    assert devstack.stop(signal.SIGINT) == 0


def test_the_banner_names_each_feed_whose_first_import_failed(devstack: DevStack) -> None:
    from tests.support.feed_server import PUBLIC_STAND_IN, FeedServer

    feeds = FeedServer()
    try:
        good = feeds.serve("/jobicy.xml", fixture="jobicy.xml")
        gone = f"{feeds.base_url}/gone.xml"
        devstack.env["JOBYARD_FEEDS"] = f'["{good}", "{gone}"]'
        devstack.env["JOBYARD_EGRESS_ALLOWED_HOSTS"] = PUBLIC_STAND_IN
        banner = devstack.up()
    finally:
        feeds.stop()
    assert "2 feeds: 1 queued, 1 failed" in banner
    lines = banner.splitlines()
    [where] = [i for i, line in enumerate(lines) if "✗" in line]
    assert lines[where].strip() == f"✗ {gone}: HTTP 404 from {gone}"
    assert lines[where + 1].strip().startswith(f"GET http://127.0.0.1:{devstack.api_port}/api/v1/imports/")
    assert devstack.stop(signal.SIGINT) == 0


@pytest.mark.parametrize(
    "moment",
    ["starting Jobyard", "mongodb  ", "auth     ready", "console  ready", "worker and scheduler started"],
)
def test_ctrl_c_at_any_moment_of_the_start_leaves_nothing(devstack: DevStack, moment: str) -> None:
    devstack.start()
    devstack.read_until(moment)
    assert devstack.stop(signal.SIGINT, times=2) in (0, 1)
    assert devstack.processes_left() == []
    assert [port for port in devstack.ports if port_open(port)] == []


def test_a_killed_supervisor_takes_its_services_with_it(devstack: DevStack) -> None:
    devstack.start()
    devstack.read_until("api      ready")
    assert devstack.stop(signal.SIGKILL) == -signal.SIGKILL  # no goodbye, no finally
    wait_until(
        lambda: devstack.processes_left() == [], timeout=60, what="every service to stop", interval=0.2
    )
    assert [port for port in devstack.ports if port_open(port)] == []
