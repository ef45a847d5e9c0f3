"""A console session survives its dependencies' hiccups (issue 24): MongoDB killed under the
auth service while a person is signed in, then brought back. A refresh that meets a 503 is
a service being away, never a sign-out; the auth service's pooled connections, all broken
by the restart, cost at most one retried refresh."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import httpx
from jobyard_devstack.net import wait_until
from redis import Redis

from tests.faults.conftest import fault_env
from tests.support.auth_service import USER_PASSWORD
from tests.support.databases import MongoServer
from tests.support.stack import running_stack


def test_a_refresh_that_meets_an_outage_keeps_the_session(
    mongo: MongoServer, redis_url: str, tmp_path: Path
) -> None:
    env = {**fault_env(mongo.url, redis_url), "JOBYARD_CONSOLE_COOKIE_SECURE": "false"}
    with running_stack(env, tmp_path, console=True) as stack:
        assert stack.console
        stack.auth.token("kept@example.com")  # registered
        browser = httpx.Client(base_url=stack.console, timeout=30, follow_redirects=False)
        csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/sign-in").text)
        assert csrf
        signed = browser.post(
            "/sign-in", data={"email": "kept@example.com", "password": USER_PASSWORD, "csrf": csrf.group(1)}
        )
        assert signed.status_code == 303
        assert browser.get("/api-keys").status_code == 200

        redis = Redis.from_url(redis_url)
        session_id = browser.cookies["jobyard_session"]
        key = (
            env["JOBYARD_REDIS_KEY_PREFIX"]
            + "console:session:"
            + hashlib.sha256(session_id.encode()).hexdigest()
        )

        def expire_access_token() -> None:  # the next page must refresh
            record = redis.get(key)
            assert isinstance(record, bytes)
            redis.set(
                key, re.sub(rb'"access_token":"[^"]+"', b'"access_token":"expired"', record), keepttl=True
            )

        expire_access_token()
        mongo.kill()
        away = browser.get("/api-keys")
        assert away.status_code == 503, away.text  # not a redirect to the sign-in page
        assert "still signed in" in away.text
        assert redis.get(key) is not None  # the session is kept

        mongo.start()  # every connection auth's pool held is broken now
        assert browser.get("/api-keys").status_code == 200  # refreshed; the session goes on
        record = redis.get(key)
        assert record is not None and b'"access_token":"expired"' not in record

        expire_access_token()  # and once more, on connections made after the restart
        wait_until(lambda: browser.get("/api-keys").status_code == 200, timeout=30, what="a page")
        redis.close()
