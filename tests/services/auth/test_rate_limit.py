"""The login throttle against the attacks it exists for: guessing one account, racing the
check, locking a victim out from many addresses, spraying many accounts from one."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from fastapi import FastAPI
from jobyard_auth.app import create_app
from jobyard_auth.settings import AuthSettings

from tests.conftest import Isolation
from tests.services.auth.helpers import PASSWORD, register
from tests.support.asgi import client_for


async def _fail(client: httpx.AsyncClient, email: str = "ann@example.com") -> httpx.Response:
    return await client.post("/auth/v1/login", json={"email": email, "password": "wrong wrong wrong"})


async def _right(client: httpx.AsyncClient, email: str = "ann@example.com") -> httpx.Response:
    return await client.post("/auth/v1/login", json={"email": email, "password": PASSWORD})


def _from(app: FastAPI, address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(address, 1)), base_url="http://auth"
    )


async def test_guessing_one_account_from_one_address_must_wait_more_and_more(
    client: httpx.AsyncClient, auth_settings: AuthSettings
) -> None:
    await register(client)
    for _ in range(auth_settings.login_max_failures_per_client + 1):
        assert (await _fail(client)).status_code == 401
    waiting = await _right(client)  # even the right password waits its turn
    assert waiting.status_code == 429
    assert waiting.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(waiting.headers["retry-after"]) <= 2


async def test_parallel_guesses_cannot_slip_between_check_and_count(
    client: httpx.AsyncClient, auth_settings: AuthSettings
) -> None:
    await register(client)
    answers = await asyncio.gather(*(_fail(client) for _ in range(40)))
    checked = sum(1 for a in answers if a.status_code == 401)
    assert checked == auth_settings.login_max_failures_per_client + 1, [a.status_code for a in answers]
    assert all(a.status_code in (401, 429) for a in answers)


async def test_a_success_gives_its_reservation_back(
    client: httpx.AsyncClient, auth_settings: AuthSettings
) -> None:
    await register(client)
    for _ in range(auth_settings.login_max_failures_per_client - 1):
        await _fail(client)
    assert (await _right(client)).status_code == 200
    for _ in range(auth_settings.login_max_failures_per_client):  # the count started again
        assert (await _fail(client)).status_code == 401


@pytest.fixture
def short_waits(auth_settings: AuthSettings) -> AuthSettings:
    return auth_settings.model_copy(
        update={"login_max_failures_per_account": 6, "login_account_max_delay_seconds": 1}
    )


async def test_an_attack_from_many_addresses_slows_the_victim_but_never_locks_them_out(
    short_waits: AuthSettings,
) -> None:
    app = create_app(short_waits)
    async with app.router.lifespan_context(app), _from(app, "203.0.113.1") as owner:
        await register(owner)
        answers = []
        for i in range(20):  # 20 addresses, 2 guesses each: no address is itself throttled
            async with _from(app, f"198.51.100.{i}") as attacker:
                answers += [(await _fail(attacker)).status_code for _ in range(2)]
        assert set(answers) == {401, 429}, answers
        # the guesses were slowed by the account's own count, which no single address reached
        assert short_waits.login_max_failures_per_client > 2
        assert answers.count(401) >= short_waits.login_max_failures_per_account
        deadline = time.monotonic() + 15
        answer = await _right(owner)
        while answer.status_code == 429 and time.monotonic() < deadline:
            assert int(answer.headers["retry-after"]) <= short_waits.login_account_max_delay_seconds
            await asyncio.sleep(0.2)
            answer = await _right(owner)
        assert answer.status_code == 200, answer.text


async def test_spraying_many_accounts_from_one_address_is_throttled(auth_settings: AuthSettings) -> None:
    settings = auth_settings.model_copy(update={"login_max_failures_per_ip": 8})
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        _from(app, "198.51.100.7") as evil,
        _from(app, "198.51.100.8") as good,
    ):
        await register(good)
        for i in range(settings.login_max_failures_per_ip + 1):
            assert (await _fail(evil, f"victim{i}@example.com")).status_code == 401
        assert (await _fail(evil, "someone-new@example.com")).status_code == 429
        assert (await _right(good)).status_code == 200  # other addresses are not affected


async def test_registration_is_limited_per_address(isolation: Isolation, auth_settings: AuthSettings) -> None:
    settings = auth_settings.model_copy(update={"register_max_per_hour": 3})
    async with client_for(create_app(settings), client_ip="198.51.100.9") as client:
        for i in range(3):
            await register(client, f"bulk{i}@example.com")
        refused = await client.post(
            "/auth/v1/register", json={"email": "bulk9@example.com", "password": PASSWORD, "name": "B"}
        )
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0


async def test_an_account_is_capped_at_consecutive_failures_without_losing_its_sessions(
    auth_settings: AuthSettings, admin_token: str
) -> None:
    """NIST SP 800-63B 5.2.2: at most 100 consecutive failures (here 4, from many addresses so
    the throttle never stops them). Then the right password no longer signs in; a session the
    owner already holds goes on; an admin's unlock restores the password."""
    settings = auth_settings.model_copy(update={"login_max_consecutive_failures": 4})
    app = create_app(settings)
    async with app.router.lifespan_context(app), _from(app, "203.0.113.1") as owner:
        user = await register(owner)
        session = (await _right(owner)).json()
        for i in range(4):
            async with _from(app, f"198.51.100.{i}") as attacker:
                assert (await _fail(attacker)).status_code == 401
        locked = await _right(owner)
        assert (locked.status_code, locked.json()["error"]["code"]) == (403, "sign_in_locked")
        refreshed = await owner.post("/auth/v1/refresh", json={"refreshToken": session["refreshToken"]})
        assert refreshed.status_code == 200  # the session held before goes on
        shown = await owner.get(
            f"/auth/v1/users/{user['id']}", headers={"Authorization": f"Bearer {admin_token}"}
        )
        assert shown.json()["signInLocked"] is True
        unlocked = await owner.patch(
            f"/auth/v1/users/{user['id']}",
            json={"signInLocked": False},
            headers={"Authorization": f"Bearer {admin_token}"},
        )
        assert unlocked.status_code == 200 and unlocked.json()["signInLocked"] is False
        assert (await _right(owner)).status_code == 200
