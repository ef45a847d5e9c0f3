from __future__ import annotations

import httpx

from tests.services.auth.helpers import PASSWORD, bearer, register, signed_up


async def test_a_user_cannot_use_admin_endpoints(client: httpx.AsyncClient) -> None:
    pair = await signed_up(client)
    response = await client.get("/auth/v1/users", headers=bearer(pair["accessToken"]))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


async def test_admin_lists_users_paginated(client: httpx.AsyncClient, admin_token: str) -> None:
    for name in ("a", "b", "c"):
        await register(client, f"{name}user@example.com")
    page1 = (await client.get("/auth/v1/users?limit=2", headers=bearer(admin_token))).json()
    page2 = (await client.get("/auth/v1/users?limit=2&page=2", headers=bearer(admin_token))).json()
    assert page1["total"] == 4  # three users and the admin
    assert len(page1["items"]) == 2 and len(page2["items"]) == 2
    assert {u["id"] for u in page1["items"]}.isdisjoint({u["id"] for u in page2["items"]})
    bad = await client.get("/auth/v1/users?limit=1000", headers=bearer(admin_token))
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "limit"


async def test_admin_changes_a_role(client: httpx.AsyncClient, admin_token: str) -> None:
    user = await register(client)
    response = await client.patch(
        f"/auth/v1/users/{user['id']}", json={"role": "admin"}, headers=bearer(admin_token)
    )
    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    bad = await client.patch(
        f"/auth/v1/users/{user['id']}", json={"role": "root"}, headers=bearer(admin_token)
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "role"


async def test_deactivated_user_can_neither_log_in_nor_refresh(
    client: httpx.AsyncClient, admin_token: str
) -> None:
    user = await register(client)
    pair = (
        await client.post("/auth/v1/login", json={"email": "ann@example.com", "password": PASSWORD})
    ).json()
    response = await client.patch(
        f"/auth/v1/users/{user['id']}", json={"active": False}, headers=bearer(admin_token)
    )
    assert response.status_code == 200
    assert response.json()["active"] is False

    relogin = await client.post("/auth/v1/login", json={"email": "ann@example.com", "password": PASSWORD})
    assert relogin.status_code == 403
    assert relogin.json()["error"]["code"] == "account_deactivated"
    refresh = await client.post("/auth/v1/refresh", json={"refreshToken": pair["refreshToken"]})
    assert refresh.status_code == 401
    stale = await client.get("/auth/v1/me", headers=bearer(pair["accessToken"]))  # rights follow the database
    assert stale.status_code == 401
    assert stale.json()["error"]["code"] == "account_deactivated"

    # reactivation does not resurrect the killed refresh token
    await client.patch(f"/auth/v1/users/{user['id']}", json={"active": True}, headers=bearer(admin_token))
    again = await client.post("/auth/v1/refresh", json={"refreshToken": pair["refreshToken"]})
    assert again.status_code == 401


async def test_the_last_admin_cannot_be_demoted(client: httpx.AsyncClient, admin_token: str) -> None:
    me = (await client.get("/auth/v1/me", headers=bearer(admin_token))).json()
    response = await client.patch(
        f"/auth/v1/users/{me['id']}", json={"role": "user"}, headers=bearer(admin_token)
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "last_admin"


async def test_an_unknown_user_id_is_404_and_a_malformed_one_422(
    client: httpx.AsyncClient, admin_token: str
) -> None:
    unknown = await client.get("/auth/v1/users/000000000000000000000000", headers=bearer(admin_token))
    assert unknown.status_code == 404
    malformed = await client.get("/auth/v1/users/nope", headers=bearer(admin_token))
    assert malformed.status_code == 422
    assert malformed.json()["error"]["field"] == "user_id"
