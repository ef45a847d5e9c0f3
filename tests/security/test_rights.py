"""Rights follow the database: a demotion or a deactivation reaches every service within
seconds, whatever token or key the caller still holds."""

from __future__ import annotations

import httpx

from tests.support.stack import Stack, status_becomes


def _user_id(stack: Stack, headers: dict[str, str]) -> str:
    return stack.auth.subject(headers)


def test_a_demoted_admin_loses_admin_rights_everywhere_at_once(stack: Stack) -> None:
    admin = stack.auth.admin_headers()
    eve = stack.auth.user_headers("eve@example.com")
    eve_id = _user_id(stack, eve)
    with (
        httpx.Client(base_url=stack.auth.url, timeout=30) as auth,
        httpx.Client(base_url=stack.api, timeout=30) as api,
    ):
        key = auth.post("/auth/v1/api-keys", json={"name": "eve's"}, headers=eve).json()["key"]
        assert (
            auth.patch(f"/auth/v1/users/{eve_id}", json={"role": "admin"}, headers=admin).status_code == 200
        )
        assert status_becomes(api, "/api/v1/feed-sources", eve, 200) == 200  # her old token, now admin
        assert status_becomes(api, "/api/v1/feed-sources", {"X-API-Key": key}, 200) == 200

        assert auth.patch(f"/auth/v1/users/{eve_id}", json={"role": "user"}, headers=admin).status_code == 200
        # the same token, still unexpired: refused at auth at once, and at api within seconds
        restore = auth.patch(f"/auth/v1/users/{eve_id}", json={"role": "admin"}, headers=eve)
        assert restore.status_code == 403
        assert auth.get(f"/auth/v1/users/{eve_id}", headers=admin).json()["role"] == "user"
        assert status_becomes(api, "/api/v1/feed-sources", eve, 403) == 403
        assert status_becomes(api, "/api/v1/feed-sources", {"X-API-Key": key}, 403) == 403
        assert api.get("/api/v1/tasks", headers=eve).status_code == 200  # still a user


def test_a_deactivated_user_is_refused_everywhere_at_once(stack: Stack) -> None:
    admin = stack.auth.admin_headers()
    dan = stack.auth.user_headers("dan@example.com")
    dan_id = _user_id(stack, dan)
    with (
        httpx.Client(base_url=stack.auth.url, timeout=30) as auth,
        httpx.Client(base_url=stack.api, timeout=30) as api,
    ):
        key = auth.post("/auth/v1/api-keys", json={"name": "dan's"}, headers=dan).json()["key"]
        assert api.get("/api/v1/tasks", headers=dan).status_code == 200
        assert (
            auth.patch(f"/auth/v1/users/{dan_id}", json={"active": False}, headers=admin).status_code == 200
        )
        assert status_becomes(api, "/api/v1/tasks", dan, 401) == 401
        assert status_becomes(api, "/api/v1/tasks", {"X-API-Key": key}, 401) == 401
        refused = api.post("/api/v1/tasks", json={"name": "x", "kind": "noop"}, headers=dan)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "account_deactivated"
        assert auth.get("/auth/v1/me", headers=dan).status_code == 401
