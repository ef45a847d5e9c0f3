from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.services.auth.helpers import bearer, signed_up


async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/auth/v1/refresh", json={"refreshToken": token})


async def test_refresh_rotates_the_token(client: httpx.AsyncClient) -> None:
    first = await signed_up(client)
    response = await _refresh(client, first["refreshToken"])
    assert response.status_code == 200
    second = response.json()
    assert second["refreshToken"] != first["refreshToken"]
    assert (await client.get("/auth/v1/me", headers=bearer(second["accessToken"]))).status_code == 200
    assert (await _refresh(client, second["refreshToken"])).status_code == 200


async def test_reusing_a_rotated_token_revokes_the_whole_family(client: httpx.AsyncClient) -> None:
    first = await signed_up(client)
    second = (await _refresh(client, first["refreshToken"])).json()
    reuse = await _refresh(client, first["refreshToken"])  # a thief replays the old one
    assert reuse.status_code == 401
    assert reuse.json()["error"]["code"] == "invalid_refresh_token"
    # the legitimate holder's newer token dies with the family
    assert (await _refresh(client, second["refreshToken"])).status_code == 401


async def test_reuse_does_not_touch_other_sessions(client: httpx.AsyncClient) -> None:
    laptop = await signed_up(client)
    phone = (
        await client.post(
            "/auth/v1/login", json={"email": "ann@example.com", "password": "correct horse battery"}
        )
    ).json()
    await _refresh(client, laptop["refreshToken"])
    await _refresh(client, laptop["refreshToken"])  # reuse on the laptop's family
    assert (await _refresh(client, phone["refreshToken"])).status_code == 200


async def test_logout_kills_the_refresh_token(client: httpx.AsyncClient) -> None:
    pair = await signed_up(client)
    response = await client.post("/auth/v1/logout", json={"refreshToken": pair["refreshToken"]})
    assert response.status_code == 204
    assert (await _refresh(client, pair["refreshToken"])).status_code == 401
    # logging out twice, or with an unknown token, is harmless
    assert (await client.post("/auth/v1/logout", json={"refreshToken": "unknown"})).status_code == 204


async def test_unknown_and_empty_refresh_tokens(client: httpx.AsyncClient) -> None:
    assert (await _refresh(client, "not-a-token")).status_code == 401
    response = await client.post("/auth/v1/refresh", json={"refreshToken": ""})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "refreshToken"


async def test_a_session_ends_however_often_it_is_refreshed(client: httpx.AsyncClient, db: Any) -> None:
    first = await signed_up(client)
    second = (await _refresh(client, first["refreshToken"])).json()
    # the sign-in that started this family was longer ago than a session may live
    started = datetime.now(UTC) - timedelta(days=31)
    await db.refresh_tokens.update_many({}, {"$set": {"familyStartedAt": started}})
    ended = await _refresh(client, second["refreshToken"])
    assert ended.status_code == 401
    assert ended.json()["error"]["code"] == "invalid_refresh_token"


async def test_a_refresh_token_never_outlives_its_session(client: httpx.AsyncClient, db: Any) -> None:
    first = await signed_up(client)
    started = datetime.now(UTC) - timedelta(days=30) + timedelta(hours=1)
    await db.refresh_tokens.update_many({}, {"$set": {"familyStartedAt": started}})
    second = (await _refresh(client, first["refreshToken"])).json()
    assert second["refreshExpiresIn"] <= 3600  # the session's end, not seven more days
