"""Every way a forged or stale access token must be refused."""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from jobyard_auth.keystore import KeyStore
from jobyard_auth.settings import AuthSettings

from tests.services.auth.helpers import bearer, signed_up


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(sub: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": "jobyard-auth",
        "aud": "jobyard",
        "sub": sub,
        "role": "admin",
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return claims


async def _me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/auth/v1/me", headers=bearer(token))


async def _subject(client: httpx.AsyncClient) -> tuple[str, str]:
    pair = await signed_up(client)
    sub = jwt.decode(pair["accessToken"], options={"verify_signature": False})["sub"]
    return pair["accessToken"], sub


def _store(settings: AuthSettings) -> KeyStore:
    return KeyStore.load(Path(settings.signing_keys_dir))


async def test_a_token_signed_by_our_key_is_accepted(
    client: httpx.AsyncClient, auth_settings: AuthSettings
) -> None:
    _, sub = await _subject(client)
    assert (await _me(client, _store(auth_settings).sign(_claims(sub)))).status_code == 200


async def test_expired_token(client: httpx.AsyncClient, auth_settings: AuthSettings) -> None:
    _, sub = await _subject(client)
    token = _store(auth_settings).sign(_claims(sub, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600))
    response = await _me(client, token)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "token expired"


async def test_tampered_signature(client: httpx.AsyncClient) -> None:
    token, _ = await _subject(client)
    header, payload, signature = token.split(".")
    forged_payload = _b64({**jwt.decode(token, options={"verify_signature": False}), "role": "admin"})
    assert (await _me(client, f"{header}.{forged_payload}.{signature}")).status_code == 401
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert (await _me(client, f"{header}.{payload}.{flipped}")).status_code == 401


async def test_alg_none(client: httpx.AsyncClient, auth_settings: AuthSettings) -> None:
    token, sub = await _subject(client)
    kid = jwt.get_unverified_header(token)["kid"]
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_b64(_claims(sub))}."
    response = await _me(client, unsigned)
    assert response.status_code == 401
    assert "algorithm" in response.json()["error"]["message"]


async def test_signed_by_another_key_with_our_kid(client: httpx.AsyncClient) -> None:
    token, sub = await _subject(client)
    kid = jwt.get_unverified_header(token)["kid"]
    stranger = ed25519.Ed25519PrivateKey.generate()
    forged = jwt.encode(_claims(sub), stranger, algorithm="EdDSA", headers={"kid": kid})
    assert (await _me(client, forged)).status_code == 401
    unknown_kid = jwt.encode(_claims(sub), stranger, algorithm="EdDSA", headers={"kid": "stranger"})
    assert (await _me(client, unknown_kid)).status_code == 401


async def test_hs256_signed_with_the_public_key(
    client: httpx.AsyncClient, auth_settings: AuthSettings
) -> None:
    _token, sub = await _subject(client)
    store = _store(auth_settings)
    public = store.active.private_key.public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    for secret in (pem, raw):
        header = {"alg": "HS256", "typ": "JWT", "kid": store.active.kid}
        signing_input = f"{_b64(header)}.{_b64(_claims(sub))}".encode()
        import hashlib
        import hmac

        mac = hmac.new(secret, signing_input, hashlib.sha256).digest()
        forged = signing_input.decode() + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
        response = await _me(client, forged)
        assert response.status_code == 401
        assert "algorithm" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"aud": "someone-else"}, "token is meant for another audience"),
        ({"iss": "https://evil.example"}, "token comes from another issuer"),
        ({"role": "superuser"}, "token has no valid role"),
    ],
)
async def test_wrong_claims(
    client: httpx.AsyncClient, auth_settings: AuthSettings, overrides: dict[str, Any], message: str
) -> None:
    _, sub = await _subject(client)
    response = await _me(client, _store(auth_settings).sign(_claims(sub, **overrides)))
    assert response.status_code == 401
    assert response.json()["error"]["message"] == message


async def test_missing_exp(client: httpx.AsyncClient, auth_settings: AuthSettings) -> None:
    _, sub = await _subject(client)
    claims = _claims(sub)
    del claims["exp"]
    response = await _me(client, _store(auth_settings).sign(claims))
    assert response.status_code == 401
    assert "exp" in response.json()["error"]["message"]


@pytest.mark.parametrize("garbage", ["not-a-jwt", "a.b.c", "", "Bearer"])
async def test_garbage(client: httpx.AsyncClient, garbage: str) -> None:
    response = await client.get("/auth/v1/me", headers={"Authorization": f"Bearer {garbage}"})
    assert response.status_code == 401
