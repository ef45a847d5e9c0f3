from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from bson import ObjectId
from jobyard_libs.auth import INTROSPECT_PATH

from tests.services.auth.helpers import bearer, register, signed_up


async def _create(client: httpx.AsyncClient, token: str, **body: object) -> dict[str, Any]:
    response = await client.post("/auth/v1/api-keys", json={"name": "cron", **body}, headers=bearer(token))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_an_api_key_authenticates_as_its_owner(client: httpx.AsyncClient) -> None:
    pair = await signed_up(client)
    created = await _create(client, pair["accessToken"])
    assert created["key"].startswith("jy_") and created["prefix"] == created["key"][:11]
    for headers in (
        {"X-API-Key": created["key"]},
        {"Authorization": f"ApiKey {created['key']}"},
        bearer(created["key"]),
    ):
        me = await client.get("/auth/v1/me", headers=headers)
        assert me.status_code == 200, headers
        assert me.json()["email"] == "ann@example.com"


async def test_the_secret_is_shown_once(client: httpx.AsyncClient) -> None:
    pair = await signed_up(client)
    created = await _create(client, pair["accessToken"])
    listed = (await client.get("/auth/v1/api-keys", headers=bearer(pair["accessToken"]))).json()
    assert listed["total"] == 1
    assert "key" not in listed["items"][0]
    assert created["key"] not in str(listed)


async def test_revoked_key_stops_working(client: httpx.AsyncClient) -> None:
    pair = await signed_up(client)
    created = await _create(client, pair["accessToken"])
    revoke = await client.delete(f"/auth/v1/api-keys/{created['id']}", headers=bearer(pair["accessToken"]))
    assert revoke.status_code == 200
    assert revoke.json()["revokedAt"] is not None
    me = await client.get("/auth/v1/me", headers={"X-API-Key": created["key"]})
    assert me.status_code == 401
    introspect = await client.post("/internal/v1/api-keys/introspect", json={"key": created["key"]})
    assert introspect.json() == {
        "active": False,
        "subject": None,
        "role": None,
        "keyId": None,
        "scopes": None,
    }


async def test_another_users_key_is_404(client: httpx.AsyncClient) -> None:
    ann = await signed_up(client)
    key = await _create(client, ann["accessToken"])
    bob = await signed_up(client, "bob@example.com")
    response = await client.delete(f"/auth/v1/api-keys/{key['id']}", headers=bearer(bob["accessToken"]))
    assert response.status_code == 404
    assert (await client.get("/auth/v1/me", headers={"X-API-Key": key["key"]})).status_code == 200


async def test_a_key_holds_its_scopes_within_its_owners_current_role(
    client: httpx.AsyncClient, admin_token: str
) -> None:
    user = await register(client)
    pair = (
        await client.post(
            "/auth/v1/login", json={"email": "ann@example.com", "password": "correct horse battery"}
        )
    ).json()
    tasks_key = await _create(client, pair["accessToken"])
    assert tasks_key["scopes"] == ["tasks"]  # the default
    refused = await client.post(
        "/auth/v1/api-keys", json={"name": "root", "scopes": ["admin"]}, headers=bearer(pair["accessToken"])
    )
    assert (refused.status_code, refused.json()["error"]["field"]) == (422, "scopes")
    assert (await client.get("/auth/v1/users", headers={"X-API-Key": tasks_key["key"]})).status_code == 403
    await client.patch(f"/auth/v1/users/{user['id']}", json={"role": "admin"}, headers=bearer(admin_token))
    promoted = await client.get("/auth/v1/users", headers={"X-API-Key": tasks_key["key"]})
    assert (promoted.status_code, promoted.json()["error"]["code"]) == (
        403,
        "key_scope",
    )  # a key keeps its scopes
    introspect = (
        await client.post("/internal/v1/api-keys/introspect", json={"key": tasks_key["key"]})
    ).json()
    assert introspect["active"] is True and introspect["role"] == "admin"
    admin_key = await _create(client, pair["accessToken"], scopes=["admin"])  # now she may
    assert (await client.get("/auth/v1/users", headers={"X-API-Key": admin_key["key"]})).status_code == 200
    await client.patch(f"/auth/v1/users/{user['id']}", json={"role": "user"}, headers=bearer(admin_token))
    assert (await client.get("/auth/v1/users", headers={"X-API-Key": admin_key["key"]})).status_code == 403
    await client.patch(f"/auth/v1/users/{user['id']}", json={"active": False}, headers=bearer(admin_token))
    assert (await client.get("/auth/v1/me", headers={"X-API-Key": admin_key["key"]})).status_code == 401


async def test_a_key_cannot_make_or_manage_keys(client: httpx.AsyncClient) -> None:
    pair = await signed_up(client)
    key = await _create(client, pair["accessToken"], expiresInDays=1)
    as_key = {"X-API-Key": key["key"]}
    for method, path in (
        ("POST", "/auth/v1/api-keys"),
        ("GET", "/auth/v1/api-keys"),
        ("DELETE", f"/auth/v1/api-keys/{key['id']}"),
        ("POST", "/auth/v1/me/revoke-sessions"),
    ):
        answer = await client.request(
            method, path, json={"name": "child", "expiresInDays": 365}, headers=as_key
        )
        assert (answer.status_code, answer.json()["error"]["code"]) == (403, "key_scope"), (method, path)
    listed = (await client.get("/auth/v1/api-keys", headers=bearer(pair["accessToken"]))).json()
    assert listed["total"] == 1 and listed["items"][0]["revokedAt"] is None


async def test_a_read_key_changes_nothing(client: httpx.AsyncClient) -> None:
    pair = await signed_up(client)
    key = await _create(client, pair["accessToken"], scopes=["read"])
    assert (await client.get("/auth/v1/me", headers={"X-API-Key": key["key"]})).status_code == 200
    link = await client.post("/auth/v1/me/google", json={"idToken": "x"}, headers={"X-API-Key": key["key"]})
    assert (link.status_code, link.json()["error"]["code"]) == (403, "key_scope")


async def test_signing_out_everywhere_ends_sessions_and_keys(client: httpx.AsyncClient) -> None:
    pair = await signed_up(client)
    key = await _create(client, pair["accessToken"])
    out = await client.post("/auth/v1/me/revoke-sessions", headers=bearer(pair["accessToken"]))
    assert out.status_code == 204
    assert (await client.get("/auth/v1/me", headers={"X-API-Key": key["key"]})).status_code == 401
    refresh = await client.post("/auth/v1/refresh", json={"refreshToken": pair["refreshToken"]})
    assert refresh.status_code == 401


async def test_bad_key_requests(client: httpx.AsyncClient) -> None:
    pair = await signed_up(client)
    response = await client.post("/auth/v1/api-keys", json={"name": ""}, headers=bearer(pair["accessToken"]))
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "name"
    assert (await client.get("/auth/v1/me", headers={"X-API-Key": "jy_made_up"})).status_code == 401


async def test_every_key_expires(client: httpx.AsyncClient, db: Any) -> None:
    pair = await signed_up(client)
    key = await _create(client, pair["accessToken"])
    lifetime = datetime.fromisoformat(key["expiresAt"]) - datetime.fromisoformat(key["createdAt"])
    assert timedelta(days=89) < lifetime <= timedelta(days=90, seconds=1)  # the default
    too_long = await client.post(
        "/auth/v1/api-keys",
        json={"name": "forever", "expiresInDays": 3650},
        headers=bearer(pair["accessToken"]),
    )
    assert too_long.status_code == 422
    assert too_long.json()["error"]["field"] == "expiresInDays"
    # a key made before every key had an expiry lives at most the longest lifetime from its creation
    old = await _create(client, pair["accessToken"], name="legacy")
    created = datetime.now(UTC) - timedelta(days=400)
    await db.api_keys.update_one(
        {"_id": ObjectId(old["id"])}, {"$set": {"expiresAt": None, "createdAt": created}}
    )
    seen = await client.post(INTROSPECT_PATH, json={"key": old["key"]})
    assert seen.json()["active"] is False
