"""Sign in with Google through the console: the whole authorization-code flow on loopback,
Google played by a local OIDC provider (authorize, token, JWKS)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Isolation
from tests.support.oidc_issuer import OidcIssuer, OidcProvider
from tests.support.stack import Stack, running_stack


@pytest.fixture(scope="module")
def google() -> Iterator[OidcProvider]:
    issuer = OidcIssuer()
    provider = OidcProvider(issuer)
    yield provider
    provider.stop()
    issuer.stop()


@pytest.fixture(scope="module")
def stack(
    mongodb_url: str, redis_url: str, google: OidcProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    issuer = google.issuer
    env = {
        **Isolation(mongodb_url, redis_url, "console_google", "console:google:").env(),
        "JOBYARD_CONSOLE_COOKIE_SECURE": "false",  # httpx keeps Secure cookies to https
        "JOBYARD_GOOGLE_CLIENT_ID": issuer.client_id,
        "JOBYARD_GOOGLE_ISSUERS": json.dumps([issuer.issuer]),
        "JOBYARD_GOOGLE_JWKS_URL": issuer.jwks_url,
        "JOBYARD_CONSOLE_GOOGLE_CLIENT_ID": issuer.client_id,
        "JOBYARD_CONSOLE_GOOGLE_CLIENT_SECRET": google.client_secret,
        "JOBYARD_CONSOLE_GOOGLE_AUTHORIZE_URL": f"{google.base_url}/authorize",
        "JOBYARD_CONSOLE_GOOGLE_TOKEN_URL": f"{google.base_url}/token",
    }
    with running_stack(env, tmp_path_factory.mktemp("google"), console=True) as running:
        yield running


def test_a_person_signs_in_with_google(stack: Stack) -> None:
    assert stack.console
    with httpx.Client(base_url=stack.console, timeout=15) as browser:
        assert 'href="/sign-in/google?next=' in browser.get("/sign-in").text
        to_google = browser.get("/sign-in/google", params={"next": "/tasks"})
        assert to_google.status_code == 303
        cookie = next(h for h in to_google.headers.get_list("set-cookie") if h.startswith("jobyard_oidc="))
        assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "Path=/sign-in/google" in cookie
        back = httpx.get(to_google.headers["location"])  # Google's page: consent given at once
        assert back.status_code == 302 and back.headers["location"].startswith(
            f"{stack.console}/sign-in/google/callback?"
        )
        signed_in = browser.get(back.headers["location"])
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/tasks"
        page = browser.get("/tasks")
        assert page.status_code == 200 and "gina@example.com" in page.text


def test_a_callback_the_browser_did_not_start_is_refused(stack: Stack, google: OidcProvider) -> None:
    """Login CSRF: an attacker's own code and state, sent to a victim's browser."""
    assert stack.console
    with httpx.Client(base_url=stack.console, timeout=15) as attacker:
        started = attacker.get("/sign-in/google")
        back = httpx.get(started.headers["location"]).headers["location"]
    with httpx.Client(base_url=stack.console, timeout=15) as victim:
        answer = victim.get(back)
        assert answer.status_code == 400 and "did not start here" in answer.text
        assert "jobyard_session" not in answer.headers.get("set-cookie", "")
        victim.get("/sign-in/google")  # the victim's own flow, then the attacker's state
        assert victim.get(back).status_code == 400


def test_an_id_token_without_our_nonce_is_refused(stack: Stack, google: OidcProvider) -> None:
    assert stack.console
    with httpx.Client(base_url=stack.console, timeout=15) as browser:
        started = browser.get("/sign-in/google")
        back = httpx.get(started.headers["location"]).headers["location"]
        code = httpx.URL(back).params["code"]
        google.codes[code]["nonce"] = "replayed-from-another-sign-in"
        answer = browser.get(back)
        assert answer.status_code == 502 and "did not confirm" in answer.text
