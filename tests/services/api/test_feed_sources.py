from __future__ import annotations

import httpx
from jobyard_api.app import create_app
from jobyard_api.settings import ApiSettings

from tests.support.asgi import client_for
from tests.support.auth_service import AuthService


async def test_admin_manages_feed_sources(api: httpx.AsyncClient, auth: AuthService) -> None:
    admin = auth.admin_headers()
    created = await api.post(
        "/api/v1/feed-sources",
        json={"url": "https://jobicy.com/?feed=job_feed", "name": "Jobicy"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    source = created.json()
    assert source["enabled"] is True
    assert source["lastRunAt"] is None

    listed = (await api.get("/api/v1/feed-sources", headers=admin)).json()
    assert [s["url"] for s in listed["items"]] == ["https://jobicy.com/?feed=job_feed"]

    patched = await api.patch(f"/api/v1/feed-sources/{source['id']}", json={"enabled": False}, headers=admin)
    assert patched.json()["enabled"] is False
    assert (await api.get(f"/api/v1/feed-sources/{source['id']}", headers=admin)).json()["enabled"] is False

    assert (await api.delete(f"/api/v1/feed-sources/{source['id']}", headers=admin)).status_code == 204
    assert (await api.get(f"/api/v1/feed-sources/{source['id']}", headers=admin)).status_code == 404


async def test_bad_input_names_the_field_and_keeps_what_is_stored(
    api: httpx.AsyncClient, auth: AuthService
) -> None:
    admin = auth.admin_headers()
    await api.post("/api/v1/feed-sources", json={"url": "https://a.example/feed"}, headers=admin)
    duplicate = await api.post("/api/v1/feed-sources", json={"url": "https://a.example/feed"}, headers=admin)
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["field"] == "url"
    for body, field in (
        ({"url": "ftp://a.example/x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://b.example", "enabled": "maybe"}, "enabled"),
    ):
        response = await api.post("/api/v1/feed-sources", json=body, headers=admin)
        assert response.status_code == 422, body
        assert response.json()["error"]["field"] == field
    listed = (await api.get("/api/v1/feed-sources", headers=admin)).json()
    assert listed["total"] == 1


async def test_only_admins_manage_sources(api: httpx.AsyncClient, auth: AuthService) -> None:
    assert (await api.get("/api/v1/feed-sources")).status_code == 401
    forbidden = await api.post(
        "/api/v1/feed-sources", json={"url": "https://a.example/f"}, headers=auth.user_headers()
    )
    assert forbidden.status_code == 403


async def test_sources_are_seeded_once_from_settings(api_settings: ApiSettings, auth: AuthService) -> None:
    urls = ["https://one.example/feed", "https://two.example/feed"]
    seeded = api_settings.model_copy(update={"feeds": urls})
    async with client_for(create_app(seeded)) as client:
        items = (await client.get("/api/v1/feed-sources", headers=auth.admin_headers())).json()["items"]
        assert sorted(s["url"] for s in items) == urls
        one = next(s for s in items if s["url"] == urls[0])
        await client.delete(f"/api/v1/feed-sources/{one['id']}", headers=auth.admin_headers())
    async with client_for(create_app(seeded)) as client:  # a restart must not bring back a deleted source
        items = (await client.get("/api/v1/feed-sources", headers=auth.admin_headers())).json()["items"]
        assert [s["url"] for s in items] == [urls[1]]
