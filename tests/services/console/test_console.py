"""The console as an attacker and a careful reviewer meet it, over HTTP on loopback:
headers, cookies, CSRF, open redirects, other people's data, token refresh."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from jobyard_console.upstream import UpstreamError
from jobyard_console.web import shown
from jobyard_devstack.net import free_port
from redis import Redis

from tests.conftest import Isolation
from tests.support.auth_service import ADMIN_EMAIL, ADMIN_PASSWORD, USER_PASSWORD
from tests.support.console import Browser, signed_in
from tests.support.processes import bin_path, running_process
from tests.support.stack import Stack, running_stack

PAGES = ["/", "/imports", "/jobs", "/tasks", "/tasks/new", "/dead-letters", "/api-keys"]
ADMIN_PAGES = ["/admin/feed-sources", "/admin/users", "/admin/audit"]


@pytest.fixture(scope="module")
def stack(mongodb_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    iso = Isolation(mongodb_url, redis_url, "console_http", "console:http:")
    env = {**iso.env(), "JOBYARD_CONSOLE_COOKIE_SECURE": "false"}  # httpx keeps Secure cookies to https
    with running_stack(env, tmp_path_factory.mktemp("console"), monitor=True, console=True) as running:
        yield running


def test_every_page_is_strict_about_what_it_loads(stack: Stack) -> None:
    admin = signed_in(stack, ADMIN_EMAIL, ADMIN_PASSWORD)
    for path in ["/sign-in", "/register", *PAGES, *ADMIN_PAGES]:
        answer = admin.http.get(path)
        assert answer.status_code == 200, (path, answer.text[:300])
        csp = answer.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-store"
        html = answer.text
        assert all(' src="/static/' in tag for tag in re.findall(r"<script[^>]*>", html)), (
            path
        )  # no inline script
        assert not re.search(r"\son[a-z]+=", html), path  # no inline handlers
        assert " style=" not in html and "<style" not in html, path  # no inline style
        assert "eyJ" not in html, path  # no token in the page


def test_the_session_cookie_is_opaque_and_locked_down(stack: Stack) -> None:
    assert stack.console
    env_secure = Browser(stack.console)
    stack.auth.token("cookie@example.com")
    answer = env_secure.sign_in("cookie@example.com", USER_PASSWORD)
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith("jobyard_session="))
    assert (
        "HttpOnly" in cookie
        and "SameSite=strict" in cookie.replace("Strict", "strict")
        and "Path=/" in cookie
    )
    value = cookie.split(";")[0].split("=", 1)[1]
    assert "." not in value and len(value) >= 40  # a random id, not a JWT


def test_a_change_without_the_sessions_token_is_refused_and_changes_nothing(stack: Stack) -> None:
    browser = signed_in(stack, "csrf@example.com")
    me = stack.auth.user_headers("csrf@example.com")
    task = {"name": "forged", "kind": "noop", "type": "one_time", "payload": "{}"}
    assert browser.http.post("/tasks", data=task).status_code == 403
    assert browser.http.post("/tasks", data={**task, "csrf": "guess"}).status_code == 403
    assert browser.http.post("/tasks", data=task, headers={"X-CSRF-Token": "guess"}).status_code == 403
    listed = httpx.get(f"{stack.api}/api/v1/tasks", headers=me).json()
    assert listed["items"] == []
    good = browser.http.post(
        "/tasks", data={**task, "name": "real", "csrf": browser.form_token("/tasks/new")}
    )
    assert good.status_code == 303
    assert [t["name"] for t in httpx.get(f"{stack.api}/api/v1/tasks", headers=me).json()["items"]] == ["real"]


def test_sign_in_needs_its_forms_token(stack: Stack) -> None:
    assert stack.console
    stranger = httpx.Client(base_url=stack.console, timeout=15)  # a cross-site form: no pre-session cookie
    answer = stranger.post("/sign-in", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf": "x"})
    assert answer.status_code == 403
    assert "jobyard_session" not in answer.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    "target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"]
)
def test_sign_in_never_sends_you_elsewhere(stack: Stack, target: str) -> None:
    assert stack.console
    answer = Browser(stack.console).sign_in(ADMIN_EMAIL, ADMIN_PASSWORD, next_path=target)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"


def test_wrong_password_and_throttle_are_explained(stack: Stack) -> None:
    assert stack.console
    answer = Browser(stack.console).sign_in(ADMIN_EMAIL, "wrong")
    assert answer.status_code == 401
    assert "Wrong email or password." in answer.text


def test_a_user_sees_neither_admin_pages_nor_anyone_elses_tasks(stack: Stack) -> None:
    owner = stack.auth.user_headers("owner@example.com")
    theirs = httpx.post(
        f"{stack.api}/api/v1/tasks", json={"name": "mine", "kind": "noop"}, headers=owner
    ).json()
    other = signed_in(stack, "other@example.com")
    for path in ADMIN_PAGES:
        answer = other.http.get(path)
        assert answer.status_code == 403 and "Not allowed" in answer.text
    token = other.form_token("/tasks/new")
    assert (
        other.http.post(
            "/admin/feed-sources", data={"url": "https://example.com/x.xml", "csrf": token}
        ).status_code
        == 403
    )
    assert other.http.get(f"/tasks/{theirs['id']}").status_code == 404
    assert other.http.get(f"/executions/{theirs['executionId']}").status_code == 404
    assert other.http.post(f"/tasks/{theirs['id']}/cancel", data={"csrf": token}).status_code == 404
    assert (
        httpx.get(f"{stack.api}/api/v1/tasks/{theirs['id']}", headers=owner).json()["status"] != "cancelled"
    )


def test_pages_need_a_session_and_an_expired_access_token_is_refreshed(stack: Stack, redis_url: str) -> None:
    assert stack.console
    anonymous = httpx.Client(base_url=stack.console, timeout=15)
    answer = anonymous.get("/tasks?status=active")
    assert (
        answer.status_code == 303 and answer.headers["location"] == "/sign-in?next=%2Ftasks%3Fstatus%3Dactive"
    )

    browser = signed_in(stack, "refresh@example.com")
    redis = Redis.from_url(redis_url)
    session_id = browser.http.cookies["jobyard_session"]
    key = (
        stack.env["JOBYARD_REDIS_KEY_PREFIX"]
        + "console:session:"
        + hashlib.sha256(session_id.encode()).hexdigest()
    )
    record = redis.get(key)
    assert isinstance(record, bytes)
    redis.set(key, re.sub(rb'"access_token":"[^"]+"', b'"access_token":"expired"', record), keepttl=True)
    assert browser.http.get("/tasks").status_code == 200  # refreshed with the refresh token
    assert b'"access_token":"expired"' not in (redis.get(key) or b"")

    token = browser.form_token("/tasks")
    assert browser.http.post("/sign-out", data={"csrf": token}).status_code == 303
    assert browser.http.get("/tasks").status_code == 303  # the old cookie opens nothing


def test_readiness_names_redis_and_the_api_and_the_pinned_javascript_is_served(stack: Stack) -> None:
    assert stack.console
    ready = httpx.get(f"{stack.console}/readyz").json()
    assert ready == {"status": "ready", "checks": {"redis": "ok", "api": "ok"}}
    assert httpx.get(f"{stack.console}/static/vendor/htmx.min.js").status_code == 200


def test_a_registration_error_is_shown_once_beside_its_field(stack: Stack) -> None:
    assert stack.console
    browser = Browser(stack.console)
    token = browser.form_token("/register")
    answer = browser.http.post(
        "/register",
        data={"email": "once@example.com", "name": "Once", "password": "qwertyuiop1", "csrf": token},
    )
    assert answer.status_code == 422
    assert answer.text.count("password is too common") == 1


@pytest.mark.parametrize(
    ("retry_after", "words"), [("1", "1 second."), ("30", "30 seconds."), (None, "a minute.")]
)
def test_a_wait_is_said_in_good_english(retry_after: str | None, words: str) -> None:
    error = UpstreamError(status=429, code="rate_limited", message="slow down", retry_after=retry_after)
    assert shown(error) == f"Too many attempts; try again in {words}"


def test_a_console_on_plain_http_says_which_setting_its_sign_in_needs(stack: Stack, tmp_path: Path) -> None:
    """A Secure cookie is dropped over plain http on any name but localhost: every sign-in then
    failed with "The form expired". It now says why, and what to set."""
    port = free_port()
    env = {
        **stack.env,
        "JOBYARD_CONSOLE_COOKIE_SECURE": "true",
        "JOBYARD_PORT": str(port),
        "JOBYARD_CONSOLE_AUTH_URL": stack.auth.url,
        "JOBYARD_CONSOLE_API_URL": stack.api,
    }
    url = f"http://127.0.0.1:{port}"
    with running_process(
        [bin_path("jobyard-console"), "serve"], env, tmp_path / "console.log", f"{url}/readyz"
    ):
        for host, named in [("console.example.test", True), ("127.0.0.1", False)]:
            browser = Browser(url)  # httpx, like a browser, sends no Secure cookie over http
            browser.http.headers["Host"] = f"{host}:{port}"
            token = browser.form_token("/sign-in")
            answer = browser.http.post(
                "/sign-in", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf": token}
            )
            assert answer.status_code == 403
            assert ("JOBYARD_CONSOLE_COOKIE_SECURE=false" in answer.text) is named
            assert ("The form expired" in answer.text) is not named


def test_an_export_leads_to_the_page_that_offers_its_file(stack: Stack) -> None:
    browser = signed_in(stack, "exporter@example.com")
    token = browser.form_token("/jobs")
    answer = browser.http.post("/jobs/export", data={"csrf": token, "q": "python"})
    assert answer.status_code == 303
    assert re.match(r"^/executions/[0-9a-f]{24}\?notice=", answer.headers["location"])
    page = browser.http.get(answer.headers["location"])
    assert page.status_code == 200 and "the file is offered here when ready" in page.text
