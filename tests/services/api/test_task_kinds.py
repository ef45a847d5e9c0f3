"""Every task kind through the API and a real worker; callbacks and their signatures."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from jobyard_libs.mongo import utcnow
from jobyard_libs.principals import PrincipalDirectory
from jobyard_libs.redis_client import RedisKeys
from jobyard_libs.roles import Role
from jobyard_libs.signing import sign_headers, verify
from jobyard_worker.settings import WorkerSettings
from redis.asyncio import Redis
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.conftest import Isolation
from tests.support.auth_service import AuthService
from tests.support.feed_server import FeedServer
from tests.support.imports import running_worker, settings_for
from tests.support.scheduling import leader_firing
from tests.support.tasks import wait_execution

WORKER = {"task_retry_base_ms": 20, "task_retry_max_ms": 100, "task_cancel_poll_seconds": 0.05}


@pytest.fixture
def worker(isolation: Isolation) -> Iterator[None]:
    with running_worker(settings_for(isolation, WorkerSettings, **WORKER), threads=4):
        yield


async def _submit(api: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await api.post("/api/v1/tasks", json={"name": "k", **body}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_http_kind_calls_an_allowed_host(
    api: httpx.AsyncClient, auth: AuthService, feeds: FeedServer, worker: None
) -> None:
    me = auth.user_headers("http@example.com")
    url = feeds.serve("/hook", b'{"ok": true}', content_type="application/json")
    created = await _submit(api, me, kind="http", payload={"url": url, "method": "GET"})
    done = await wait_execution(api, me, created["executionId"])
    assert done["status"] == "completed"
    assert done["result"] == {"status": 200, "body": '{"ok": true}', "truncated": False, "json": {"ok": True}}
    listing = json.dumps({"jobs": [f"https://jobs.example.com/{n}" for n in range(1000)]}).encode()  # 32 KB
    too_long = json.dumps(["x" * 1000] * 70).encode()  # past what is read of JSON: not read whole
    for answer, whole in ((listing, True), (too_long, False)):
        path = f"/list-{len(answer)}"
        feeds.serve(path, answer, content_type="application/json; charset=utf-8")
        created = await _submit(api, me, kind="http", payload={"url": feeds.base_url + path})
        done = await wait_execution(api, me, created["executionId"])
        assert done["status"] == "completed" and done["result"]["truncated"] is True
        assert done["result"]["body"] == answer[:2048].decode()  # the excerpt stays short
        assert done["result"].get("json") == (json.loads(answer) if whole else None)
    failing = await _submit(api, me, kind="http", payload={"url": feeds.base_url + "/missing"}, maxRetries=1)
    dead = await wait_execution(api, me, failing["executionId"])
    assert dead["status"] == "dead"
    assert "HTTP 404" in dead["error"]
    assert dead["attempts"] == 2


async def test_http_kind_refuses_the_inside_unless_allowed(
    api: httpx.AsyncClient, auth: AuthService, isolation: Isolation
) -> None:
    me = auth.user_headers("ssrf@example.com")
    inside = FeedServer(host="127.0.0.1")  # stands for a service inside the cluster
    try:
        url = inside.serve("/internal", b"secret")
        with running_worker(settings_for(isolation, WorkerSettings, **WORKER)):
            created = await _submit(api, me, kind="http", payload={"url": url}, maxRetries=0)
            dead = await wait_execution(api, me, created["executionId"])
        assert dead["status"] == "dead"
        assert "(loopback): outbound calls reach only public addresses" in dead["error"]
        assert inside.hits["/internal"] == 0
        allowed = settings_for(
            isolation, WorkerSettings, egress_allowed_hosts=f"127.0.0.1:{inside.port}", **WORKER
        )
        with running_worker(allowed):  # the operator's explicit exception, for this port only
            created = await _submit(api, me, kind="http", payload={"url": url}, maxRetries=0)
            done = await wait_execution(api, me, created["executionId"])
        assert done["status"] == "completed", done
        assert inside.hits["/internal"] == 1
    finally:
        inside.stop()


async def _grant(isolation: Isolation, user_id: str, role: Role) -> None:
    """Publish a user's rights where this test's services read them (auth does it in production)."""
    redis = Redis.from_url(isolation.redis_url)
    try:
        await PrincipalDirectory(redis, RedisKeys(isolation.key_prefix)).publish(user_id, role, active=True)
    finally:
        await redis.aclose()


async def test_import_feeds_kind(
    api: httpx.AsyncClient, auth: AuthService, feeds: FeedServer, worker: None, db: Any, isolation: Isolation
) -> None:
    admin = auth.admin_headers()
    await _grant(isolation, auth.subject(admin), Role.ADMIN)
    url = feeds.serve("/atom.xml", fixture="atom.xml")
    await api.post("/api/v1/feed-sources", json={"url": url}, headers=admin)
    created = await _submit(api, admin, kind="import-feeds", payload={"feedUrls": [url]})
    done = await wait_execution(api, admin, created["executionId"])
    assert done["status"] == "completed", done
    [log_id] = done["result"]["importLogIds"]
    log = (await api.get(f"/api/v1/imports/{log_id}", headers=admin)).json()
    assert log["trigger"] == "task"


def _signed(body: dict[str, Any], *, secret: str, age: float = 0) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    return raw, {
        "Content-Type": "application/json",
        **sign_headers(raw, secret=secret, now=time.time() - age),
    }


async def test_webhook_callback_signature_checks(
    api: httpx.AsyncClient, auth: AuthService, feeds: FeedServer, worker: None, db: Any
) -> None:
    me = auth.user_headers("callback@example.com")
    notify = feeds.serve("/notify", b"{}")
    created = await _submit(
        api, me, kind="webhook-callback", payload={"notifyUrl": notify, "callbackTimeoutMs": 60_000}
    )
    await _wait_awaiting_attempt(db, created["executionId"], 1)
    waiting = (await api.get(f"/api/v1/executions/{created['executionId']}", headers=me)).json()
    assert waiting["awaitingCallback"] is True
    assert waiting["callbackDeadline"] is not None
    secret = waiting["callbackSecret"]  # the owner's alone
    assert feeds.hits["/notify"] == 1
    assert json.loads(feeds.bodies["/notify"]) == {
        "executionId": created["executionId"],
        "callbackPath": f"/api/v1/callbacks/{created['executionId']}",
        "callbackSecret": secret,
    }
    verify(feeds.bodies["/notify"], feeds.request_headers["/notify"], secret=created["webhookSecret"])
    notified = {k.lower(): v for k, v in feeds.request_headers["/notify"].items()}
    Webhook(created["standardWebhookSecret"]).verify(feeds.bodies["/notify"], notified)
    assert notified["webhook-id"] == f"msg_{created['executionId']}_notify_1"
    path = f"/api/v1/callbacks/{created['executionId']}"
    report = {"status": "completed", "result": {"rows": 42}}

    raw = json.dumps(report).encode()
    for headers, why in [
        ({"Content-Type": "application/json"}, "unsigned"),
        (_signed(report, secret="wrong-secret")[1], "signature does not match"),
        (_signed(report, secret=created["webhookSecret"])[1], "signature does not match"),
        (_signed(report, secret=secret, age=600)[1], "outside the 5-minute window"),
        (
            {**_signed(report, secret=secret)[1], "X-Jobyard-Signature": "sha256=" + "0" * 64},
            "signature does not match",
        ),
    ]:
        refused = await api.post(path, content=raw, headers=headers)
        assert refused.status_code == 401, why
        assert why in refused.json()["error"]["message"]
        unchanged = (await api.get(f"/api/v1/executions/{created['executionId']}", headers=me)).json()
        assert unchanged["status"] == "processing"
    tampered, headers = _signed(report, secret=secret)
    assert (await api.post(path, content=tampered.replace(b"42", b"43"), headers=headers)).status_code == 401

    body, headers = _signed(report, secret=secret)
    accepted = await api.post(path, content=body, headers=headers)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "completed"
    assert accepted.json()["result"] == {"rows": 42}
    assert waiting["attempts"] == 1
    again = await api.post(path, content=body, headers=headers)
    assert again.status_code == 409  # settled once; a replayed callback changes nothing


async def test_a_failed_callback_is_retried_then_dead(
    api: httpx.AsyncClient, auth: AuthService, worker: None, db: Any
) -> None:
    me = auth.user_headers("failing-callback@example.com")
    created = await _submit(
        api, me, kind="webhook-callback", payload={"callbackTimeoutMs": 60_000}, maxRetries=1
    )
    secret = await _callback_secret(api, me, created["executionId"])
    for attempt in (1, 2):
        await _wait_awaiting_attempt(db, created["executionId"], attempt)
        body, headers = _signed({"status": "failed", "error": f"upstream said no ({attempt})"}, secret=secret)
        assert (
            await api.post(f"/api/v1/callbacks/{created['executionId']}", content=body, headers=headers)
        ).status_code == 200
    dead = await wait_execution(api, me, created["executionId"])
    assert dead["status"] == "dead"
    assert dead["error"] == "callback reported failure: upstream said no (2)"


async def _callback_secret(api: httpx.AsyncClient, headers: dict[str, str], execution_id: str) -> str:
    secret: str = (await api.get(f"/api/v1/executions/{execution_id}", headers=headers)).json()[
        "callbackSecret"
    ]
    return secret


async def _wait_awaiting_attempt(db: Any, execution_id: str, attempt: int) -> None:
    from bson import ObjectId

    from tests.support.waiting import eventually

    async def ready() -> bool:
        doc = await db.executions.find_one({"_id": ObjectId(execution_id)})
        return bool(doc and doc.get("awaitingCallback") and doc["attempts"] == attempt)

    await eventually(ready, within=30, what=f"attempt {attempt} to wait for its callback")


async def test_no_callback_before_the_deadline_fails_the_attempt(
    api: httpx.AsyncClient, auth: AuthService, worker: None, db: Any, isolation: Isolation
) -> None:
    me = auth.user_headers("silent@example.com")
    created = await _submit(
        api, me, kind="webhook-callback", payload={"callbackTimeoutMs": 100}, maxRetries=0
    )
    await _wait_awaiting_attempt(db, created["executionId"], 1)
    async with leader_firing(isolation) as firing:
        result = await firing.tick(utcnow() + timedelta(seconds=1), fence=1)
    assert result.callbacks_overdue == 1
    dead = await wait_execution(api, me, created["executionId"])
    assert dead["status"] == "dead"
    assert dead["error"] == "no callback before the deadline"


async def test_a_waiting_execution_can_be_cancelled(
    api: httpx.AsyncClient, auth: AuthService, worker: None, db: Any
) -> None:
    me = auth.user_headers("cancel-wait@example.com")
    created = await _submit(api, me, kind="webhook-callback", payload={"callbackTimeoutMs": 60_000})
    await _wait_awaiting_attempt(db, created["executionId"], 1)
    cancelled = (await api.post(f"/api/v1/executions/{created['executionId']}/cancel", headers=me)).json()
    assert cancelled["status"] == "cancelled"
    body, headers = _signed({"status": "completed"}, secret=cancelled["callbackSecret"])
    assert (
        await api.post(f"/api/v1/callbacks/{created['executionId']}", content=body, headers=headers)
    ).status_code == 409


async def test_export_jobs_csv_kind_and_its_artifact(
    api: httpx.AsyncClient, auth: AuthService, feeds: FeedServer, worker: None, isolation: Isolation, db: Any
) -> None:
    import csv
    import io

    from tests.support.imports import wait_finished

    admin = auth.admin_headers()
    url = feeds.serve("/jobicy.xml", fixture="jobicy.xml")
    await api.post("/api/v1/feed-sources", json={"url": url}, headers=admin)
    [log_id] = (await api.post("/api/v1/imports", headers=admin)).json()["importLogIds"]
    await wait_finished(db, log_id)

    me = auth.user_headers("exporter@example.com")
    created = await _submit(api, me, kind="export-jobs-csv", payload={"company": "Northwind Data"})
    done = await wait_execution(api, me, created["executionId"])
    assert done["status"] == "completed", done
    assert done["result"]["rows"] == 2
    download = await api.get(f"/api/v1/executions/{created['executionId']}/artifact", headers=me)
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert f"jobs-{created['executionId']}.csv" in download.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [r["title"] for r in rows] == ["Senior Backend Engineer (Python)", "DevOps Engineer (Kubernetes)"]
    assert rows[0]["publishedAt"] == "2026-11-23T08:41:05+00:00"
    stranger = auth.user_headers("not-the-exporter@example.com")
    assert (
        await api.get(f"/api/v1/executions/{created['executionId']}/artifact", headers=stranger)
    ).status_code == 404
    noop = await _submit(api, me, kind="noop")
    await wait_execution(api, me, noop["executionId"])
    assert (
        await api.get(f"/api/v1/executions/{noop['executionId']}/artifact", headers=me)
    ).status_code == 404


async def test_completion_webhook_is_signed_and_delivered(
    api: httpx.AsyncClient, auth: AuthService, feeds: FeedServer, worker: None
) -> None:
    from tests.support.waiting import eventually

    me = auth.user_headers("hooked@example.com")
    hook = feeds.serve("/done", b"{}")
    created = await _submit(api, me, kind="sleep", payload={"seconds": 0}, webhookUrl=hook)
    assert created["webhookUrl"] == hook
    await wait_execution(api, me, created["executionId"])

    async def delivered() -> bool:
        return "/done" in feeds.bodies

    await eventually(delivered, within=30, what="the completion webhook")
    # signed with this task's own secret, which only its owner was shown
    verify(feeds.bodies["/done"], feeds.request_headers["/done"], secret=created["webhookSecret"])
    # and with a stock Standard Webhooks verifier, given the secret as such libraries take it
    headers = {k.lower(): v for k, v in feeds.request_headers["/done"].items()}
    Webhook(created["standardWebhookSecret"]).verify(feeds.bodies["/done"], headers)
    assert headers["webhook-id"] == f"msg_{created['executionId']}_0"
    with pytest.raises(WebhookVerificationError):
        Webhook(created["standardWebhookSecret"]).verify(feeds.bodies["/done"] + b" ", headers)
    body = json.loads(feeds.bodies["/done"])
    assert body["event"] == "execution.finished"
    assert body["executionId"] == created["executionId"]
    assert body["status"] == "completed"
    assert body["result"] == {"slept": 0.0}
    assert feeds.hits["/done"] == 1


async def test_webhook_signature_round_trip() -> None:
    from jobyard_libs.signing import BadSignature, verify

    body = b'{"status":"completed"}'
    headers = sign_headers(body, secret="s3cret-s3cret-s3cret-s3cret", now=1_800_000_000)
    verify(body, headers, secret="s3cret-s3cret-s3cret-s3cret", now=1_800_000_299)
    with pytest.raises(BadSignature):
        verify(body, headers, secret="s3cret-s3cret-s3cret-s3cret", now=1_800_000_301)
    with pytest.raises(BadSignature):
        verify(body + b" ", headers, secret="s3cret-s3cret-s3cret-s3cret", now=1_800_000_000)
