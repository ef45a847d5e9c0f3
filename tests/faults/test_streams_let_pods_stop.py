"""A rollout's SIGTERM with a live page open: the api and the console end their streams
(`event: closed`, reason server_stopping) and exit within 2 s. Before, uvicorn waited for
the stream for ever: the pod ran until Kubernetes' SIGKILL."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

import httpx
from jobyard_devstack.net import free_port

from tests.faults.conftest import fault_env
from tests.support.console import signed_in
from tests.support.processes import bin_path, running_process
from tests.support.stack import Stack, running_stack


def _stopped_with_a_stream_open(
    process: subprocess.Popen[bytes],
    open_stream: Callable[[], AbstractContextManager[httpx.Response]],
    begun_at: str,
) -> tuple[float, list[str]]:
    """SIGTERM once the stream has sent ``begun_at``; how long the process took to exit, and
    what the stream's client read to its end."""
    lines: list[str] = []
    begun = threading.Event()

    def read() -> None:
        with open_stream() as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                lines.append(line)
                if line == begun_at:
                    begun.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert begun.wait(30)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(30)
    took = time.monotonic() - started
    reader.join(10)
    assert not reader.is_alive()  # the client saw the stream end
    return took, lines


def _second(
    started: ExitStack, command: str, stack: Stack, env: dict[str, str], log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """Another replica of a service of ``stack``'s: the one the test stops."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    service_env = {**stack.env, **env, "JOBYARD_PORT": str(port)}
    return started.enter_context(
        running_process([bin_path(command), "serve"], service_env, log, f"{url}/readyz")
    ), url


def test_the_api_and_the_console_stop_at_once_with_a_live_stream_open(
    mongodb_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = {**fault_env(mongodb_url, redis_url), "JOBYARD_CONSOLE_COOKIE_SECURE": "false"}
    with running_stack(env, tmp_path, console=True) as stack, ExitStack() as started:
        api_env = {"JOBYARD_AUTH_URL": stack.auth.url, "JOBYARD_AUTH_JWKS_URL": stack.auth.jwks_url}
        api, api_url = _second(started, "jobyard-api", stack, api_env, tmp_path / "api-2.log")
        me = stack.auth.user_headers("live@example.com")
        with httpx.Client(base_url=api_url, headers=me, timeout=30) as client:
            took, lines = _stopped_with_a_stream_open(
                api, lambda: client.stream("GET", "/api/v1/events"), ": connected"
            )
        assert took < 2, took
        assert [line for line in lines if line][-2:] == [
            "event: closed",
            'data: {"reason": "server_stopping"}',
        ]
        assert api.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled

        console_env = {"JOBYARD_CONSOLE_AUTH_URL": stack.auth.url, "JOBYARD_CONSOLE_API_URL": stack.api}
        console, console_url = _second(
            started, "jobyard-console", stack, console_env, tmp_path / "console-2.log"
        )
        assert stack.console
        browser = signed_in(stack, "live@example.com")
        browser.http.base_url = httpx.URL(console_url)  # the session lives in Redis: any replica serves it
        took, lines = _stopped_with_a_stream_open(
            console, lambda: browser.http.stream("GET", "/live"), "event: resync"
        )
        assert took < 2, took
        assert [line for line in lines if line][-2:] == [
            "event: closed",
            'data: {"reason": "server_stopping"}',
        ]
        assert console.returncode in (0, -signal.SIGTERM)
