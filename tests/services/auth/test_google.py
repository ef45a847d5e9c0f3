from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.services.auth.helpers import bearer, register
from tests.support.oidc_issuer import OidcIssuer, new_rsa_key


async def _google(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/auth/v1/google", json={"idToken": token})


async def test_google_sign_in_creates_a_user(client: httpx.AsyncClient, oidc_issuer: OidcIssuer) -> None:
    response = await _google(client, oidc_issuer.id_token())
    assert response.status_code == 200, response.text
    me = (await client.get("/auth/v1/me", headers=bearer(response.json()["accessToken"]))).json()
    assert me["email"] == "gina@example.com"
    assert me["googleLinked"] is True and me["hasPassword"] is False
    again = await _google(client, oidc_issuer.id_token())  # same Google subject → same user
    me_again = (await client.get("/auth/v1/me", headers=bearer(again.json()["accessToken"]))).json()
    assert me_again["id"] == me["id"]


async def test_a_pre_registered_unverified_email_is_not_handed_to_google(
    client: httpx.AsyncClient, oidc_issuer: OidcIssuer
) -> None:
    """Account pre-hijacking: someone registers the victim's address (never verified) with a
    password they know, waiting for the victim to sign in with Google."""
    await register(client, "gina@example.com", password="attacker knows this")
    response = await _google(client, oidc_issuer.id_token())
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "link_needs_password"
    wrong = await client.post(
        "/auth/v1/google", json={"idToken": oidc_issuer.id_token(), "password": "guess guess"}
    )
    assert wrong.status_code == 409
    login = await client.post(
        "/auth/v1/login", json={"email": "gina@example.com", "password": "attacker knows this"}
    )
    me = (await client.get("/auth/v1/me", headers=bearer(login.json()["accessToken"]))).json()
    assert me["googleLinked"] is False  # nothing was linked


async def test_google_links_an_existing_account_given_its_password(
    client: httpx.AsyncClient, oidc_issuer: OidcIssuer
) -> None:
    user = await register(client, "gina@example.com")
    response = await client.post(
        "/auth/v1/google", json={"idToken": oidc_issuer.id_token(), "password": "correct horse battery"}
    )
    assert response.status_code == 200, response.text
    me = (await client.get("/auth/v1/me", headers=bearer(response.json()["accessToken"]))).json()
    assert me["id"] == user["id"]
    assert me["googleLinked"] is True and me["hasPassword"] is True
    again = await _google(client, oidc_issuer.id_token())  # linked now: no password needed
    assert again.status_code == 200


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"aud": "someone-elses-client"}, "another audience"),
        ({"email_verified": False}, "not verified"),
        ({"email_verified": None}, "not verified"),
        ({"iss": "https://evil.example"}, "another issuer"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
    ],
)
async def test_google_refuses_bad_id_tokens(
    client: httpx.AsyncClient, oidc_issuer: OidcIssuer, overrides: dict[str, Any], message: str
) -> None:
    await register(client, "gina@example.com")
    response = await _google(client, oidc_issuer.id_token(**overrides))
    assert response.status_code == 401
    assert message in response.json()["error"]["message"]
    # an unverified email must not have been linked to the existing account
    login = await client.post(
        "/auth/v1/login", json={"email": "gina@example.com", "password": "correct horse battery"}
    )
    me = (await client.get("/auth/v1/me", headers=bearer(login.json()["accessToken"]))).json()
    assert me["googleLinked"] is False


async def test_google_refuses_a_token_signed_by_another_key(
    client: httpx.AsyncClient, oidc_issuer: OidcIssuer
) -> None:
    response = await _google(client, oidc_issuer.id_token(key=new_rsa_key()))
    assert response.status_code == 401
    assert "signature" in response.json()["error"]["message"]


async def test_another_google_identity_with_the_same_email_is_refused(
    client: httpx.AsyncClient, oidc_issuer: OidcIssuer, db: Any
) -> None:
    """A recycled Workspace address or a lapsed domain: the same verified email, another person
    (another ``sub``). Linking by email must not hand them the account."""
    first = await _google(client, oidc_issuer.id_token())
    assert first.status_code == 200
    owner = (await client.get("/auth/v1/me", headers=bearer(first.json()["accessToken"]))).json()
    takeover = await _google(client, oidc_issuer.id_token(sub="google-sub-recycled"))
    assert takeover.status_code == 409
    assert takeover.json()["error"]["code"] == "google_identity_mismatch"
    again = await _google(client, oidc_issuer.id_token())  # the real owner still signs in
    assert again.status_code == 200
    refused = await db.audit.find_one({"action": "user.google_link_refused"})
    assert refused["actorId"] == owner["id"] and refused["details"]["google_sub"] == "google-sub-recycled"


async def test_linking_another_identity_needs_the_signed_in_users_consent(
    client: httpx.AsyncClient, oidc_issuer: OidcIssuer
) -> None:
    await _google(client, oidc_issuer.id_token())
    await register(client, "ann@example.com")
    ann = (
        await client.post(
            "/auth/v1/login", json={"email": "ann@example.com", "password": "correct horse battery"}
        )
    ).json()
    taken = await client.post(
        "/auth/v1/me/google", json={"idToken": oidc_issuer.id_token()}, headers=bearer(ann["accessToken"])
    )
    assert (taken.status_code, taken.json()["error"]["code"]) == (409, "google_identity_taken")
    new_identity = oidc_issuer.id_token(sub="google-sub-ann", email="ann.other@example.com")
    linked = await client.post(
        "/auth/v1/me/google", json={"idToken": new_identity}, headers=bearer(ann["accessToken"])
    )
    assert linked.status_code == 200 and linked.json()["googleLinked"] is True
    signed_in = await _google(
        client, oidc_issuer.id_token(sub="google-sub-ann", email="ann.other@example.com")
    )
    me = (await client.get("/auth/v1/me", headers=bearer(signed_in.json()["accessToken"]))).json()
    assert me["email"] == "ann@example.com"
