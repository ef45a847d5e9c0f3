from __future__ import annotations

import httpx
from fastapi import FastAPI
from jobyard_auth.settings import AuthSettings

from tests.services.auth.helpers import PASSWORD, register


async def _fail(client: httpx.AsyncClient, email: str = "ann@example.com") -> httpx.Response:
    return await client.post("/auth/v1/login", json={"email": email, "password": "wrong wrong wrong"})


async def test_account_limit_blocks_even_the_right_password(
    client: httpx.AsyncClient, auth_settings: AuthSettings
) -> None:
    await register(client)
    for _ in range(auth_settings.login_max_failures_per_account):
        assert (await _fail(client)).status_code == 401
    blocked = await client.post("/auth/v1/login", json={"email": "ann@example.com", "password": PASSWORD})
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "rate_limited"
    retry_after = int(blocked.headers["retry-after"])
    assert 0 < retry_after <= auth_settings.login_failure_window_seconds


async def test_success_clears_the_account_counter(
    client: httpx.AsyncClient, auth_settings: AuthSettings
) -> None:
    await register(client)
    for _ in range(auth_settings.login_max_failures_per_account - 1):
        await _fail(client)
    ok = await client.post("/auth/v1/login", json={"email": "ann@example.com", "password": PASSWORD})
    assert ok.status_code == 200
    for _ in range(auth_settings.login_max_failures_per_account - 1):
        assert (await _fail(client)).status_code == 401


async def test_ip_limit_spans_accounts(auth_app: FastAPI, auth_settings: AuthSettings) -> None:
    attacker = httpx.ASGITransport(app=auth_app, client=("198.51.100.7", 1))
    bystander = httpx.ASGITransport(app=auth_app, client=("198.51.100.8", 1))
    async with (
        httpx.AsyncClient(transport=attacker, base_url="http://auth") as evil,
        httpx.AsyncClient(transport=bystander, base_url="http://auth") as good,
    ):
        await register(good)
        for i in range(auth_settings.login_max_failures_per_ip):
            assert (await _fail(evil, f"victim{i}@example.com")).status_code == 401
        assert (await _fail(evil, "someone-new@example.com")).status_code == 429
        ok = await good.post("/auth/v1/login", json={"email": "ann@example.com", "password": PASSWORD})
        assert ok.status_code == 200
