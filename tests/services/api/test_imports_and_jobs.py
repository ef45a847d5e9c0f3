from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from bson import ObjectId
from jobyard_api.settings import ApiSettings
from jobyard_libs.imports import import_logs, jobs
from jobyard_libs.imports.models import ImportStatus
from jobyard_libs.listing import Cursor, Window, walk
from jobyard_libs.mongo import learn_hints
from jobyard_worker.settings import WorkerSettings

from tests.conftest import Isolation
from tests.support.auth_service import AuthService
from tests.support.feed_server import FeedServer
from tests.support.imports import running_worker, settings_for, wait_finished


@pytest.fixture
async def imported(
    api: httpx.AsyncClient, auth: AuthService, feeds: FeedServer, isolation: Isolation, db: Any
) -> list[str]:
    """Every fixture feed imported through POST /api/v1/imports and a real worker."""
    admin = auth.admin_headers()
    for name in ("jobicy.xml", "higheredjobs.xml", "atom.xml"):
        await api.post(
            "/api/v1/feed-sources", json={"url": feeds.serve(f"/{name}", fixture=name)}, headers=admin
        )
    with running_worker(settings_for(isolation, WorkerSettings)):
        started = await api.post("/api/v1/imports", headers={**admin, "X-Request-ID": "import-req-1"})
        assert started.status_code == 202, started.text
        ids: list[str] = started.json()["importLogIds"]
        assert len(ids) == 3
        for log_id in ids:
            await wait_finished(db, log_id)
    return ids


async def test_import_logs_through_the_api(
    api: httpx.AsyncClient, auth: AuthService, imported: list[str], feeds: FeedServer
) -> None:
    reader = auth.user_headers()
    page = (await api.get("/api/v1/imports", headers=reader)).json()
    assert page["total"] == 3
    assert all(item["status"] == "completed" for item in page["items"])
    assert "failedJobs" not in page["items"][0]

    one = (
        await api.get("/api/v1/imports", params={"feedUrl": f"{feeds.base_url}/jobicy.xml"}, headers=reader)
    ).json()
    assert one["total"] == 1
    detail = (await api.get(f"/api/v1/imports/{one['items'][0]['id']}", headers=reader)).json()
    assert (detail["totalFetched"], detail["totalImported"], detail["newJobs"], detail["failedCount"]) == (
        6,
        5,
        5,
        1,
    )
    assert detail["failedJobs"] == [
        {"id": "https://jobicy.com/?post_type=job_listing&p=128725", "reason": "missing title"}
    ]
    assert detail["trigger"] == "api"
    assert detail["requestId"] == "import-req-1"
    assert detail["batchesApplied"] == detail["batchesTotal"] == 3

    failed = (await api.get("/api/v1/imports", params={"status": "failed"}, headers=reader)).json()
    assert failed["total"] == 0


async def test_jobs_filters_search_and_detail(
    api: httpx.AsyncClient, auth: AuthService, imported: list[str], feeds: FeedServer
) -> None:
    reader = auth.user_headers()

    async def titles(**params: Any) -> list[str]:
        body = (await api.get("/api/v1/jobs", params=params, headers=reader)).json()
        return [j["title"] for j in body["items"]]

    everything = (await api.get("/api/v1/jobs", params={"limit": 100}, headers=reader)).json()
    assert everything["total"] == 12
    assert await titles(company="Northwind Data") == [
        "Senior Backend Engineer (Python)",
        "DevOps Engineer (Kubernetes)",
    ]
    assert await titles(location="Germany") == ["Customer Support Specialist \u2013 German speaking"]
    assert await titles(jobType="Contract") == ["DevOps Engineer (Kubernetes)"]
    assert await titles(q="engineer python") == ["Senior Backend Engineer (Python)"]
    assert await titles(q="ENGINEER", company="Northwind Data", jobType="Contract") == [
        "DevOps Engineer (Kubernetes)"
    ]
    assert len(await titles(feedUrl=f"{feeds.base_url}/atom.xml")) == 3

    first = (await api.get("/api/v1/jobs", params={"limit": 5}, headers=reader)).json()
    second = (await api.get("/api/v1/jobs", params={"limit": 5, "page": 2}, headers=reader)).json()
    assert {j["id"] for j in first["items"]}.isdisjoint({j["id"] for j in second["items"]})
    # newest first; a posting with no readable date sorts by when it was first seen
    published = [j["publishedAt"] for j in first["items"] if j["publishedAt"]]
    assert published == sorted(published, reverse=True)

    # following nextCursor walks every posting once, in the same order as one big page
    walked, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/api/v1/jobs", params=params, headers=reader)).json()
        walked += [j["id"] for j in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert walked == [j["id"] for j in everything["items"]]
    assert everything["nextCursor"] is None and everything["totalCapped"] is False

    job_id = first["items"][0]["id"]
    detail = (await api.get(f"/api/v1/jobs/{job_id}", headers=reader)).json()
    assert detail["description"]
    assert isinstance(detail["rawData"], dict)
    assert (await api.get("/api/v1/jobs/000000000000000000000000", headers=reader)).status_code == 404
    malformed = await api.get("/api/v1/jobs/not-an-id", headers=reader)
    assert (malformed.status_code, malformed.json()["error"]["field"]) == (422, "job_id")


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/jobs", {"limit": 101}, "limit"),
        ("/api/v1/jobs", {"page": 0}, "page"),
        ("/api/v1/jobs", {"page": 502, "limit": 20}, "page"),  # beyond the offset limit: use cursors
        ("/api/v1/jobs", {"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
        ("/api/v1/jobs", {"cursor": "x", "page": 2}, "cursor"),
        ("/api/v1/jobs", {"total": "roughly"}, "total"),
        ("/api/v1/imports", {"status": "exploded"}, "status"),
        ("/api/v1/imports", {"limit": "many"}, "limit"),
    ],
)
async def test_bad_query_params_are_422_naming_them(
    api: httpx.AsyncClient, auth: AuthService, path: str, params: dict[str, Any], field: str
) -> None:
    response = await api.get(path, params=params, headers=auth.user_headers())
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


async def test_starting_imports(api: httpx.AsyncClient, auth: AuthService, feeds: FeedServer) -> None:
    admin = auth.admin_headers()
    nothing = await api.post("/api/v1/imports", headers=admin)
    assert nothing.status_code == 409
    assert nothing.json()["error"]["code"] == "no_feed_sources"
    unknown = await api.post(
        "/api/v1/imports", json={"feedUrls": ["https://nowhere.example/feed"]}, headers=admin
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "feedUrls"
    assert (await api.post("/api/v1/imports", headers=auth.user_headers())).status_code == 403
    url = feeds.serve("/atom.xml", fixture="atom.xml")
    await api.post("/api/v1/feed-sources", json={"url": url}, headers=admin)
    picked = await api.post("/api/v1/imports", json={"feedUrls": [url]}, headers=admin)
    assert picked.status_code == 202
    assert picked.json()["feedUrls"] == [url]
    pending = (await api.get(f"/api/v1/imports/{picked.json()['importLogIds'][0]}", headers=admin)).json()
    assert pending["status"] == "pending"  # no worker in this test: it waits in the queue


async def test_api_keys_work_through_the_auth_service(api: httpx.AsyncClient, auth: AuthService) -> None:
    key = auth.api_key()
    assert (await api.get("/api/v1/jobs", headers={"X-API-Key": key})).status_code == 200
    assert (await api.get("/api/v1/jobs", headers={"X-API-Key": "jy_forged"})).status_code == 401


def _plan(stage: dict[str, Any]) -> list[str]:
    names = [stage["stage"]]
    if "inputStage" in stage:
        names += _plan(stage["inputStage"])
    return names


JOB_QUERIES = [
    jobs.JobFilters().query(),
    jobs.JobFilters(company="x").query(),
    jobs.JobFilters(location="x").query(),
    jobs.JobFilters(job_type="x").query(),
    jobs.JobFilters(feed_url="x").query(),
    jobs.JobFilters(title="a b").query(),
    jobs.JobFilters(title="a", company="x", job_type="y").query(),
]
IMPORT_QUERIES = [
    import_logs.list_query(feed, status) for feed in (None, "x") for status in (None, ImportStatus.FAILED)
]
WINDOWS = {  # the first page, a page by offset, a page after a cursor (deep or not, the same walk)
    "first": Window(limit=20),
    "offset": Window(limit=20, skip=40),
    "cursor": Window(limit=20, cursor=Cursor((datetime(2026, 1, 1, tzinfo=UTC), ObjectId()))),
}


@pytest.mark.parametrize("window", WINDOWS.values(), ids=WINDOWS.keys())
@pytest.mark.parametrize(
    ("module", "query"),
    [(jobs, q) for q in JOB_QUERIES] + [(import_logs, q) for q in IMPORT_QUERIES],
)
async def test_every_list_query_uses_an_index(
    db: Any, module: Any, query: dict[str, Any], window: Window
) -> None:
    """The plan of the very cursor the API pages through, for every filter combination."""
    collection = db[module.COLLECTION]
    await collection.create_indexes([spec.model() for spec in module.INDEXES])
    await learn_hints(db)  # hinted or not, as production asks this server
    explained = await walk(collection, query, module.NEWEST, module.list_index(query), window).explain()
    assert "IXSCAN" in _plan(explained["queryPlanner"]["winningPlan"])


async def test_one_import_per_feed_at_a_time(
    api: httpx.AsyncClient, auth: AuthService, feeds: FeedServer, api_settings: ApiSettings, db: Any
) -> None:
    """The hourly CronJob, an admin's "Import now" and a task can start the same feed at the
    same moment: one run, whose log every caller gets (``joined``), never counts split in two."""
    from jobyard_libs.imports.feed_sources import FeedSourceRepository
    from jobyard_libs.imports.import_logs import UNWATCHED
    from jobyard_libs.imports.models import ImportTrigger
    from jobyard_libs.imports.pipeline import ImportRunner
    from jobyard_libs.queue.broker import create_broker

    admin = auth.admin_headers()
    url = feeds.serve("/atom.xml", fixture="atom.xml")
    await api.post("/api/v1/feed-sources", json={"url": url}, headers=admin)
    source = await FeedSourceRepository(db).by_url(url)
    assert source is not None
    broker = create_broker(api_settings)
    runner = ImportRunner(db, broker, api_settings, on_change=UNWATCHED)
    try:
        answers, logs = await asyncio.gather(
            asyncio.gather(
                *(api.post("/api/v1/imports", json={"feedUrls": [url]}, headers=admin) for _ in range(6))
            ),
            asyncio.gather(*(runner.create_logs([source], ImportTrigger.SCHEDULE) for _ in range(3))),
        )
    finally:
        broker.close()
    ids = {a.json()["importLogIds"][0] for a in answers} | {str(log_id) for [(log_id, _)] in logs}
    assert len(ids) == 1, ids  # one run
    joined = [a.json()["joined"] for a in answers] + [j for [(_, j)] in logs]
    assert joined.count(False) == 1 and joined.count(True) == 8  # one started it, the rest joined
    assert all(a.status_code == 202 for a in answers)
    assert await db.import_logs.count_documents({"feedUrl": url}) == 1

    # a run whose runner died (no progress for longer than the bound) is abandoned, not joined
    [running] = ids
    stale = datetime.now(UTC) - timedelta(seconds=api_settings.import_stale_after_seconds + 60)
    await db.import_logs.update_one({"_id": ObjectId(running)}, {"$set": {"progressAt": stale}})
    fresh = (await api.post("/api/v1/imports", json={"feedUrls": [url]}, headers=admin)).json()
    assert fresh["joined"] is False and fresh["importLogIds"][0] != running
    abandoned = (await api.get(f"/api/v1/imports/{running}", headers=admin)).json()
    assert abandoned["status"] == "failed" and abandoned["error"].startswith("abandoned: no progress")
