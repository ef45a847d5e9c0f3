"""Sign in with Google: the OpenID Connect authorization-code flow, with PKCE, state and nonce.

Shown on the sign-in page when ``JOBYARD_CONSOLE_GOOGLE_CLIENT_ID`` and its secret are set
(the auth service must know the same client id: ``JOBYARD_GOOGLE_CLIENT_ID``). The browser
goes to Google with a fresh ``state``, a PKCE challenge and a ``nonce``, kept in a short-lived
HttpOnly cookie (``SameSite=Lax``: Google's redirect back is a cross-site navigation). On the
way back the console checks the state, exchanges the code for an ID token at Google's token
endpoint (server to server, with the client secret and the PKCE verifier), checks the nonce,
and hands the token to the auth service, which verifies it (signature, issuer, audience,
verified email) and signs the person in. Nothing of it reaches page JavaScript.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from jobyard_libs.accounts import TokenPair

from jobyard_console.sessions import new_token
from jobyard_console.settings import ConsoleSettings
from jobyard_console.upstream import Upstream, UpstreamError, read
from jobyard_console.web import caller_of, pre_session_form, safe_next, shown, start_session

router = APIRouter(tags=["sign in"])
FLOW_COOKIE = "jobyard_oidc"
FLOW_PATH = "/sign-in/google"
FLOW_SECONDS = 600


def _settings(request: Request) -> ConsoleSettings:
    settings: ConsoleSettings = request.app.state.settings
    if not settings.google_sign_in:
        raise HTTPException(status_code=404)
    return settings


def _redirect_uri(request: Request, settings: ConsoleSettings) -> str:
    base = settings.console_public_url or str(request.base_url)
    return base.rstrip("/") + FLOW_PATH + "/callback"


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _nonce_of(id_token: str) -> str | None:
    """The ``nonce`` claim, read without verifying: the auth service verifies the token."""
    try:
        payload = id_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    nonce = claims.get("nonce") if isinstance(claims, dict) else None
    return nonce if isinstance(nonce, str) else None


@router.get(FLOW_PATH)
async def start(request: Request, next: str = "/") -> Response:
    settings = _settings(request)
    state, verifier, nonce = new_token(), new_token(), new_token()
    query = urlencode(
        {
            "client_id": settings.console_google_client_id,
            "response_type": "code",
            "scope": "openid email profile",
            "redirect_uri": _redirect_uri(request, settings),
            "state": state,
            "nonce": nonce,
            "code_challenge": _challenge(verifier),
            "code_challenge_method": "S256",
            "prompt": "select_account",
        }
    )
    response = RedirectResponse(f"{settings.console_google_authorize_url}?{query}", status_code=303)
    flow = ".".join((state, verifier, nonce, base64.urlsafe_b64encode(safe_next(next).encode()).decode()))
    response.set_cookie(
        FLOW_COOKIE,
        flow,
        max_age=FLOW_SECONDS,
        httponly=True,
        secure=settings.console_cookie_secure,
        samesite="lax",
        path=FLOW_PATH,
    )
    return response


@router.get(FLOW_PATH + "/callback")
async def callback(request: Request, code: str = "", state: str = "", error: str = "") -> Response:
    settings = _settings(request)
    parts = request.cookies.get(FLOW_COOKIE, "").split(".")

    def refused(reason: str, status_code: int = 400) -> Response:
        page = pre_session_form(request, "sign_in.html", status_code, next="/", email="", error=reason)
        page.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
        return page

    if error:
        return refused(f"Google sign-in did not complete ({error[:80]}).")
    if len(parts) != 4 or not code or not hmac.compare_digest(parts[0].encode(), state.encode()):
        return refused("Google sign-in expired or did not start here; try again.")
    _, verifier, nonce, encoded_next = parts
    upstream: Upstream = request.app.state.upstream
    secret = settings.console_google_client_secret
    exchanged = await upstream.client.post(
        settings.console_google_token_url,
        data={
            "grant_type": "authorization_code",
            "code": code[:2048],
            "redirect_uri": _redirect_uri(request, settings),
            "client_id": settings.console_google_client_id,
            "client_secret": secret.get_secret_value() if secret else "",
            "code_verifier": verifier,
        },
    )
    id_token = exchanged.json().get("id_token") if exchanged.status_code == 200 else None
    if not isinstance(id_token, str) or not hmac.compare_digest(
        (_nonce_of(id_token) or "").encode(), nonce.encode()
    ):
        return refused("Google did not confirm the sign-in; try again.", 502)
    caller = caller_of(request)
    try:
        pair = read(
            TokenPair,
            await upstream.anonymous(caller, "POST", "auth", "/auth/v1/google", json={"idToken": id_token}),
        )
    except UpstreamError as problem:
        return refused(shown(problem), problem.status if problem.status < 500 else 502)
    response = await start_session(request, pair, base64.urlsafe_b64decode(encoded_next.encode()).decode())
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
    return response
