"""A console session survives its dependencies' hiccups (issue 24): MongoDB killed under the
auth service while a person is signed in, then brought back. A refresh that meets a 503 is
a service being away, never a sign-out; the auth service's pooled connections, all broken
by the restart, cost at most one retried refresh."""

from __future__ import annotations

import hashlib
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
from jobyard_devstack.net import free_port, wait_until
from redis import Redis

from tests.faults.conftest import fault_env
from tests.support.auth_service import USER_PASSWORD
from tests.support.console import signed_in
from tests.support.databases import MongoServer
from tests.support.processes import bin_path, running_process
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


def test_parallel_requests_with_an_expired_token_refresh_it_once(
    redis_url: str, mongodb_url: str, tmp_path: Path
) -> None:
    """A page's parallel requests all meet 401 when its access token expires. Refresh tokens
    rotate and a reused one revokes the session (reuse detection): before, every request
    refreshed with the same token and the second signed the person out. Now one refreshes
    (across replicas: the lock is in Redis) and the others take its tokens."""
    env = {**fault_env(mongodb_url, redis_url), "JOBYARD_CONSOLE_COOKIE_SECURE": "false"}
    with running_stack(env, tmp_path, console=True) as stack, ExitStack() as started:
        assert stack.console
        port = free_port()
        replica = f"http://127.0.0.1:{port}"
        replica_env = {
            **stack.env,
            "JOBYARD_CONSOLE_AUTH_URL": stack.auth.url,
            "JOBYARD_CONSOLE_API_URL": stack.api,
            "JOBYARD_PORT": str(port),
        }
        command = [bin_path("jobyard-console"), "serve"]
        started.enter_context(
            running_process(command, replica_env, tmp_path / "console-2.log", f"{replica}/readyz")
        )
        browser = signed_in(stack, "parallel@example.com")
        session_id = browser.http.cookies["jobyard_session"]
        redis = Redis.from_url(redis_url)
        key = (
            env["JOBYARD_REDIS_KEY_PREFIX"]
            + "console:session:"
            + hashlib.sha256(session_id.encode()).hexdigest()
        )
        replicas = [stack.console, replica]
        gate = threading.Barrier(8)  # the eight requests leave together

        def page(n: int) -> int:
            with httpx.Client(
                base_url=replicas[n % 2], cookies={"jobyard_session": session_id}, timeout=30
            ) as http:
                gate.wait()
                return http.get("/api-keys").status_code

        for round_ in range(3):
            record = redis.get(key)
            assert isinstance(record, bytes)
            redis.set(
                key, re.sub(rb'"access_token":"[^"]+"', b'"access_token":"expired"', record), keepttl=True
            )
            with ThreadPoolExecutor(8) as pool:
                statuses = list(pool.map(page, range(8)))
            assert statuses == [200] * 8, (round_, statuses)
        assert browser.http.get("/api-keys").status_code == 200  # still signed in
        assert "refresh_token_reuse" not in stack.log("auth")
        redis.close()
