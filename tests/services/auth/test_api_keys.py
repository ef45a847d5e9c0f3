from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from bson import ObjectId
from jobyard_libs.auth import INTROSPECT_PATH

from tests.services.auth.helpers import bearer, register, signed_up


async def _create(client: httpx.AsyncClient, token: str, **body: object) -> dict[str, str]:
    response = await client.post("/auth/v1/api-keys", json={"name": "cron", **body}, headers=bearer(token))
    assert response.status_code == 201, response.text
    created: dict[str, str] = response.json()
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
    assert introspect.json() == {"active": False, "subject": None, "role": None, "keyId": None}


async def test_another_users_key_is_404(client: httpx.AsyncClient) -> None:
    ann = await signed_up(client)
    key = await _create(client, ann["accessToken"])
    bob = await signed_up(client, "bob@example.com")
    response = await client.delete(f"/auth/v1/api-keys/{key['id']}", headers=bearer(bob["accessToken"]))
    assert response.status_code == 404
    assert (await client.get("/auth/v1/me", headers={"X-API-Key": key["key"]})).status_code == 200


async def test_a_key_carries_its_owners_current_role(client: httpx.AsyncClient, admin_token: str) -> None:
    user = await register(client)
    pair = (
        await client.post(
            "/auth/v1/login", json={"email": "ann@example.com", "password": "correct horse battery"}
        )
    ).json()
    key = await _create(client, pair["accessToken"])
    assert (await client.get("/auth/v1/users", headers={"X-API-Key": key["key"]})).status_code == 403
    await client.patch(f"/auth/v1/users/{user['id']}", json={"role": "admin"}, headers=bearer(admin_token))
    assert (await client.get("/auth/v1/users", headers={"X-API-Key": key["key"]})).status_code == 200
    introspect = (await client.post("/internal/v1/api-keys/introspect", json={"key": key["key"]})).json()
    assert introspect["active"] is True and introspect["role"] == "admin"
    await client.patch(f"/auth/v1/users/{user['id']}", json={"active": False}, headers=bearer(admin_token))
    assert (await client.get("/auth/v1/me", headers={"X-API-Key": key["key"]})).status_code == 401


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
