from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from jobyard_libs.errors import ServiceUnavailable
from jobyard_libs.tokens import InvalidToken, JwtVerifier, RemoteJwks
from jwt.algorithms import OKPAlgorithm

from tests.support.json_server import JsonServer


class JwksServer:
    """Serves whatever key set the test puts in ``keys``; counts the fetches."""

    def __init__(self) -> None:
        self.keys: dict[str, ed25519.Ed25519PrivateKey] = {}
        self.http = JsonServer(lambda _: self.jwks())
        self.url = f"{self.http.base_url}/jwks"

    @property
    def fetches(self) -> int:
        return self.http.requests

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                {**OKPAlgorithm.to_jwk(k.public_key(), as_dict=True), "kid": kid, "alg": "EdDSA"}
                for kid, k in self.keys.items()
            ]
        }

    def token(self, kid: str, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": "i", "aud": "a", "sub": "s", "iat": now, "exp": now + 60, **claims}
        return jwt.encode(body, self.keys[kid], algorithm="EdDSA", headers={"kid": kid})


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.http.stop()


async def test_unknown_kid_triggers_one_refetch(jwks_server: JwksServer) -> None:
    jwks_server.keys["k1"] = ed25519.Ed25519PrivateKey.generate()
    verifier = JwtVerifier(RemoteJwks(jwks_server.url, min_refetch_seconds=0), issuer="i", audience="a")
    assert (await verifier.verify(jwks_server.token("k1")))["sub"] == "s"
    assert (await verifier.verify(jwks_server.token("k1")))["sub"] == "s"
    assert jwks_server.fetches == 1  # cached

    jwks_server.keys["k2"] = ed25519.Ed25519PrivateKey.generate()  # rotated in at the issuer
    assert (await verifier.verify(jwks_server.token("k2")))["sub"] == "s"
    assert jwks_server.fetches == 2


async def test_refetches_for_unknown_kids_are_throttled(jwks_server: JwksServer) -> None:
    jwks_server.keys["k1"] = ed25519.Ed25519PrivateKey.generate()
    stranger = ed25519.Ed25519PrivateKey.generate()
    verifier = JwtVerifier(RemoteJwks(jwks_server.url, min_refetch_seconds=60), issuer="i", audience="a")
    await verifier.verify(jwks_server.token("k1"))
    for i in range(5):
        forged = jwt.encode({"sub": "s"}, stranger, algorithm="EdDSA", headers={"kid": f"nope{i}"})
        with pytest.raises(InvalidToken, match="unknown key"):
            await verifier.verify(forged)
    assert jwks_server.fetches == 1


async def test_unreachable_jwks_is_503_not_401() -> None:
    verifier = JwtVerifier(RemoteJwks("http://127.0.0.1:9/jwks"), issuer="i", audience="a")
    token = jwt.encode(
        {"sub": "s"}, ed25519.Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": "k"}
    )
    with pytest.raises(ServiceUnavailable):
        await verifier.verify(token)
