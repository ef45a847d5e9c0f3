"""The audit trail answers "who did what to what, from where, when" (OWASP ASVS V7).

Events made by real requests to the real services (auth, api, worker), then read back
through ``GET /api/v1/audit`` with its filters and keyset pages.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx

from tests.support.feed_server import FeedServer
from tests.support.stack import Stack
from tests.support.tasks import wait_execution
from tests.support.waiting import eventually


async def _events(api: httpx.AsyncClient, admin: dict[str, str], **filters: str) -> list[dict[str, Any]]:
    answer = await api.get("/api/v1/audit", params={"limit": 100, **filters}, headers=admin)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_security_events_are_recorded_with_actor_target_address_and_request(stack: Stack) -> None:
    admin = await asyncio.to_thread(stack.auth.admin_headers)
    uma = await asyncio.to_thread(stack.auth.user_headers, "uma@example.com")
    uma_id = await asyncio.to_thread(stack.auth.subject, uma)
    inside = FeedServer(host="127.0.0.1")  # a service inside the cluster
    try:
        async with (
            httpx.AsyncClient(base_url=stack.auth.url, timeout=30) as auth,
            httpx.AsyncClient(base_url=stack.api, timeout=30) as api,
        ):
            guess = {"email": "uma@example.com", "password": "not it at all"}
            wrong = await auth.post("/auth/v1/login", json=guess, headers={"X-Request-ID": "guess-1"})
            assert wrong.status_code == 401
            key = (await auth.post("/auth/v1/api-keys", json={"name": "uma's"}, headers=uma)).json()
            await auth.delete(f"/auth/v1/api-keys/{key['id']}", headers=uma)
            source = await api.post(
                "/api/v1/feed-sources", json={"url": "http://127.0.0.2:9/audit.xml"}, headers=admin
            )
            assert source.status_code == 201
            hers = {"name": "hers", "kind": "noop", "type": "recurring", "cron": "0 3 * * *"}
            task = (await api.post("/api/v1/tasks", json=hers, headers=uma)).json()
            assert (await api.post(f"/api/v1/tasks/{task['id']}/pause", headers=admin)).status_code == 200
            aimed = await api.post(
                "/api/v1/tasks",
                json={
                    "name": "ssrf",
                    "kind": "http",
                    "maxRetries": 0,
                    "payload": {"url": f"{inside.base_url}/x"},
                },
                headers=uma,
            )
            await wait_execution(api, uma, aimed.json()["executionId"])

            async def refusal_recorded() -> bool:
                return bool(await _events(api, admin, action="egress.refused", actorId=uma_id))

            await eventually(refusal_recorded, what="the egress refusal in the audit trail")
            assert (await api.get("/api/v1/audit", headers=uma)).status_code == 403  # admins only

            failed = (await _events(api, admin, action="auth.sign_in_failed", actorId=uma_id))[0]
            assert failed["outcome"] == "failure" and failed["requestId"] == "guess-1"
            assert failed["clientIp"] == "127.0.0.1" and failed["details"]["reason"] == "wrong_credentials"
            created = await _events(api, admin, targetId=key["id"])
            assert [e["action"] for e in created] == ["api_key.revoked", "api_key.created"]  # newest first
            assert created[1]["actorId"] == uma_id and created[1]["actorVia"] == "access_token"
            feed = (await _events(api, admin, action="feed_source.created"))[0]
            assert feed["targetId"] == source.json()["id"] and feed["details"]["url"].endswith("/audit.xml")
            others = (await _events(api, admin, action="task.admin_action", targetId=task["id"]))[0]
            assert others["details"] == {"did": "pause", "owner": uma_id}
            refused = (await _events(api, admin, action="egress.refused", actorId=uma_id))[0]
            assert refused["targetType"] == "execution" and "loopback" in refused["details"]["reason"]
            assert inside.hits["/x"] == 0

            first = await api.get("/api/v1/audit", params={"limit": 2}, headers=admin)
            following = {"limit": 2, "cursor": first.json()["nextCursor"]}
            second = await api.get("/api/v1/audit", params=following, headers=admin)
            assert not {e["id"] for e in first.json()["items"]} & {e["id"] for e in second.json()["items"]}
            later = (datetime.fromisoformat(failed["at"]) + timedelta(seconds=1)).isoformat()
            assert all(e["at"] >= later[:19] for e in await _events(api, admin, since=later))
    finally:
        inside.stop()


async def test_events_expire_after_the_retention(stack: Stack, db_of_stack: Any) -> None:
    stored = await db_of_stack.audit.find_one({}, sort=[("at", -1)])
    assert stored["expiresAt"] - stored["at"] == timedelta(days=365)  # JOBYARD_AUDIT_RETENTION_DAYS
    indexes = await db_of_stack.audit.index_information()
    assert indexes["expiresAt_1"]["expireAfterSeconds"] == 0
