"""What a caller can make a service hold: bodies, streams, hash work; whose address counts."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from jobyard_auth.passwords import PasswordWork
from jobyard_libs.settings import Environment, HttpServiceSettings
from pydantic import ValidationError
from redis import Redis

from tests.conftest import Isolation
from tests.support.processes import bin_path, running_service
from tests.support.stack import Stack

LIMIT = 65536  # the stack's JOBYARD_HTTP_MAX_BODY_BYTES


def _raw_request(url: str, head: str, body: bytes = b"", *, wait: float = 10) -> tuple[int, bytes]:
    """Send a request head (and maybe a start of its body), then wait for an answer
    without sending the rest: the service must answer on what it has."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as sock:
        sock.sendall(head.encode() + b"\r\n\r\n" + body)
        answer = b""
        while chunk := sock.recv(65536):  # the service closes after answering (Connection: close)
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer


def test_bodies_over_the_limit_are_refused_on_every_service(stack: Stack) -> None:
    admin = stack.auth.admin_headers()
    big = {"name": "x" * (LIMIT + 1)}
    for base, path, headers in [
        (stack.api, "/api/v1/tasks", admin),
        (stack.auth.url, "/auth/v1/register", {}),
        (stack.auth.url, "/auth/v1/api-keys", admin),
    ]:
        declared = httpx.post(base + path, json=big, headers=headers, timeout=30)
        assert declared.status_code == 413, (path, declared.text)
        assert declared.json()["error"]["code"] == "body_too_large"

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
            encoded = json.dumps(big).encode()
            for start in range(0, len(encoded), 4096):
                yield encoded[start : start + 4096]

        streamed = httpx.post(
            base + path, content=chunks(), headers={**headers, "Content-Type": "application/json"}
        )
        assert streamed.status_code == 413, (path, streamed.text)


def test_an_anonymous_body_is_refused_before_it_is_read(stack: Stack) -> None:
    """A 50 MB body announced without credentials: 401 at once, nothing read (nothing sent)."""
    head = (
        "POST /api/v1/tasks HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
        "Content-Length: 52428800\r\nConnection: close"
    )
    status, answer = _raw_request(stack.api, head.replace("52428800", str(LIMIT - 1)))
    assert status == 401, answer[:300]
    status, _ = _raw_request(stack.api, head)  # over the limit: refused on its length
    assert status == 413


def test_an_unsigned_callback_is_refused_before_its_body_is_read(stack: Stack) -> None:
    head = (
        "POST /api/v1/callbacks/6b0d0a0e0cc28251e9d14c78 HTTP/1.1\r\nHost: api\r\n"
        f"Content-Type: application/json\r\nContent-Length: {LIMIT - 1}\r\nConnection: close"
    )
    status, answer = _raw_request(stack.api, head)
    assert status == 401, answer[:300]
    assert b"unsigned" in answer


async def test_live_update_streams_are_capped_and_share_one_redis_subscription(
    stack: Stack, module_isolation: Isolation
) -> None:
    redis = Redis.from_url(module_isolation.redis_url)
    users = [stack.auth.user_headers(f"watcher{i}@example.com") for i in range(4)]

    def clients() -> int:
        return len(redis.client_list())

    before = clients()
    opened: list[httpx.Response] = []
    async with httpx.AsyncClient(base_url=stack.api, timeout=httpx.Timeout(10, read=60)) as http:
        try:
            for headers in users:
                for _ in range(3):  # JOBYARD_SSE_MAX_STREAMS_PER_USER
                    response = await http.send(
                        http.build_request("GET", "/api/v1/events", headers=headers), stream=True
                    )
                    assert response.status_code == 200
                    opened.append(response)
            over = await http.get("/api/v1/events", headers=users[0])
            assert over.status_code == 429
            assert int(over.headers["retry-after"]) > 0
            assert (await http.get("/readyz")).status_code == 200  # the pool others depend on is fine
            assert clients() - before <= 2  # twelve streams, one subscription
        finally:
            for response in opened:
                await response.aclose()
    redis.close()


async def test_password_hashing_runs_off_the_event_loop_and_is_bounded() -> None:
    work = PasswordWork(concurrency=1, backlog=1)
    ticks = 0
    done = asyncio.Event()

    async def tick() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0)
    started = ticks
    hashed = await work.hash("correct horse battery")
    during = ticks - started
    done.set()
    await ticker
    assert during > 10  # the loop kept running while argon2 worked
    assert await work.verify("correct horse battery", hashed)

    results = await asyncio.gather(*(work.verify("x", hashed) for _ in range(5)), return_exceptions=True)
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 3  # one running, one waiting, the rest told to come back
    assert all(getattr(r, "status_code", None) == 503 for r in refused)
    assert all(r.headers["Retry-After"] for r in refused if hasattr(r, "headers"))


@pytest.fixture
def auth_behind_a_proxy(isolation: Isolation, tmp_path: Path) -> Iterator[str]:
    """The auth service trusting one proxy address that is not ours: X-Forwarded-For from us
    is a client's claim, not a proxy's word."""
    env = {
        **isolation.env(),
        "JOBYARD_SIGNING_KEYS_DIR": str(tmp_path / "keys"),
        "JOBYARD_FORWARDED_ALLOW_IPS": "10.255.255.1",
        "JOBYARD_LOGIN_MAX_FAILURES_PER_CLIENT": "2",
    }
    with running_service([bin_path("jobyard-auth"), "serve"], env, tmp_path / "auth.log") as url:
        yield url


def test_a_client_cannot_choose_its_address_to_dodge_the_throttle(auth_behind_a_proxy: str) -> None:
    with httpx.Client(base_url=auth_behind_a_proxy, timeout=30) as http:
        http.post(
            "/auth/v1/register",
            json={"email": "spoof@example.com", "password": "correct horse battery", "name": "S"},
        )
        statuses = [
            http.post(
                "/auth/v1/login",
                json={"email": "spoof@example.com", "password": "wrong wrong wrong"},
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
            ).status_code
            for i in range(6)
        ]
    assert statuses[:3] == [401, 401, 401]
    assert 429 in statuses[3:]  # the forged addresses were ignored: one client, throttled


def test_production_refuses_to_trust_every_proxy() -> None:
    with pytest.raises(ValidationError, match="JOBYARD_FORWARDED_ALLOW_IPS"):
        HttpServiceSettings(_env_file=None, environment=Environment.PRODUCTION, forwarded_allow_ips="*")


def test_an_authenticated_body_passes_the_same_gate(stack: Stack) -> None:
    """The other side of the two tests above: with credentials, the body is read and used."""
    token = stack.auth.user_headers("raw@example.com")["Authorization"]
    body = json.dumps({"name": "raw", "kind": "noop"}).encode()
    head = (
        f"POST /api/v1/tasks HTTP/1.1\r\nHost: api\r\nAuthorization: {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close"
    )
    status, answer = _raw_request(stack.api, head, body)
    assert status == 201, answer[:300]
