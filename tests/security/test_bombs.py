"""Decompression bombs: an answer of a kilobyte that inflates to a gigabyte.

We ask for ``identity``; a hostile server answers gzip anyway, nested (``gzip, gzip``) or
not. Every body read from outside is decoded a bounded step at a time and capped after
decompression, so the worker holds the cap, not the bomb. Request bodies sent to the
services with a ``Content-Encoding`` are refused (nothing decodes them).
"""

from __future__ import annotations

import functools
import tracemalloc
import zlib
from collections.abc import Iterator

import httpx
import pytest
from jobyard_libs.egress import EgressFailed, EgressGuard, EgressPolicy

from tests.support.feed_server import PUBLIC_STAND_IN, FeedServer
from tests.support.processes import peak_rss_bytes
from tests.support.stack import Stack
from tests.support.tasks import wait_execution
from tests.support.waiting import eventually

GIB = 1 << 30
MIB = 1 << 20


@functools.cache
def gzip_bomb(inflated: int = GIB) -> bytes:
    """``inflated`` zero bytes, gzipped (about 1/1000 of it)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MIB)
    return b"".join(packer.compress(zeros) for _ in range(inflated // MIB)) + packer.flush()


def _gzip(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@functools.cache
def nested_bomb() -> bytes:
    """A gigabyte in about two kilobytes: the gzip of :func:`gzip_bomb`."""
    return _gzip(gzip_bomb())


@pytest.fixture
def bombs() -> Iterator[FeedServer]:
    server = FeedServer()
    server.serve("/nested", nested_bomb(), headers={"Content-Encoding": "gzip, gzip"})
    server.serve("/gzip", gzip_bomb(), headers={"Content-Encoding": "gzip"})
    server.serve("/brotli", b"\x0b\x00\x80hello\x03", headers={"Content-Encoding": "br"})
    server.serve("/feed.xml", gzip_bomb(), headers={"Content-Encoding": "gzip"})
    yield server
    server.stop()


async def test_the_guard_decodes_within_the_cap_and_refuses_nesting(bombs: FeedServer) -> None:
    assert len(nested_bomb()) < 4096
    guard = EgressGuard(EgressPolicy.parse(PUBLIC_STAND_IN, timeout_seconds=30, max_bytes=MIB))
    tracemalloc.start()
    try:
        async with guard.stream("GET", f"{bombs.base_url}/gzip") as response:
            body, more = await guard.read(response, limit=2048)
        assert (len(body), more) == (2048, True)
        async with guard.stream("GET", f"{bombs.base_url}/gzip") as response:
            body, more = await guard.read(response)  # the policy's cap: 1 MiB of the 1 GiB
        assert (len(body), more) == (MIB, True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * MIB, f"reading a 1 GiB bomb under a 1 MiB cap peaked at {peak / MIB:.0f} MiB"
    for path, refusal in (
        ("/nested", "nested content encodings"),
        ("/brotli", "unsupported content encoding"),
    ):
        with pytest.raises(EgressFailed, match=refusal):
            async with guard.stream("GET", f"{bombs.base_url}{path}") as response:
                await guard.read(response)


async def test_bombs_do_not_grow_the_worker(stack: Stack, bombs: FeedServer) -> None:
    """An http task, a completion webhook and a feed, each answered by a gigabyte bomb."""
    worker = stack.processes["worker"]
    before = peak_rss_bytes(worker.pid)
    user, admin = stack.auth.user_headers("bomber@example.com"), stack.auth.admin_headers()
    async with httpx.AsyncClient(base_url=stack.api, timeout=30) as api:

        async def run(name: str, payload: dict[str, object], **extra: object) -> dict[str, object]:
            body = {"name": name, "kind": "http", "payload": payload, "maxRetries": 0, **extra}
            created = (await api.post("/api/v1/tasks", json=body, headers=user)).json()
            return await wait_execution(api, user, created["executionId"], within=60)

        nested = await run("nested", {"url": f"{bombs.base_url}/nested"})
        assert nested["status"] == "dead"
        assert "nested content encodings are refused" in str(nested["error"])
        single = await run("gzip", {"url": f"{bombs.base_url}/gzip"}, webhookUrl=f"{bombs.base_url}/nested")
        assert single["status"] == "completed"
        assert single["result"] == {"status": 200, "body": "\x00" * 2048, "truncated": True}

        source = await api.post(
            "/api/v1/feed-sources", json={"url": f"{bombs.base_url}/feed.xml"}, headers=admin
        )
        assert source.status_code == 201, source.text
        feed = f"{bombs.base_url}/feed.xml"
        started = await api.post("/api/v1/imports", json={"feedUrls": [feed]}, headers=admin)
        assert started.status_code == 202, started.text
        log_url = f"/api/v1/imports/{started.json()['importLogIds'][0]}"

        async def import_finished() -> bool:
            return (await api.get(log_url, headers=admin)).json()["status"] in ("completed", "failed")

        await eventually(import_finished, within=60, what="the bombed import to finish")
        log = (await api.get(log_url, headers=admin)).json()
        assert log["status"] == "failed"
        assert "limit" in log["error"], log["error"]

        async def webhook_tried() -> bool:  # its answer is the nested bomb: read, refused, recorded
            execution = (await api.get(f"/api/v1/executions/{single['id']}", headers=user)).json()
            return execution.get("webhook") is not None

        await eventually(webhook_tried, within=60, what="the webhook's delivery")
        execution = (await api.get(f"/api/v1/executions/{single['id']}", headers=user)).json()
        assert execution["webhook"]["status"] == 200
        assert "nested content encodings are refused" in execution["webhook"]["error"]
    grown = peak_rss_bytes(worker.pid) - before
    assert grown < 64 * MIB, f"the worker's peak memory grew by {grown / MIB:.0f} MiB"


@pytest.mark.parametrize("service", ["auth", "api", "monitor"])
def test_encoded_request_bodies_are_refused(stack: Stack, service: str) -> None:
    base = {"auth": stack.auth.url, "api": stack.api, "monitor": stack.monitor}[service]
    assert base is not None
    path = {"auth": "/auth/v1/login", "api": "/api/v1/tasks", "monitor": "/api/v1/stats"}[service]
    answer = httpx.post(
        f"{base}{path}",
        content=_gzip(b'{"email": "a@example.com", "password": "x"}'),
        headers={
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            **stack.auth.admin_headers(),
        },
    )
    assert answer.status_code == 415
    assert answer.json()["error"]["field"] == "Content-Encoding"
