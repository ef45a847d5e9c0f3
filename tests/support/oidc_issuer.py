"""A local OIDC issuer with its own RSA keys, standing in for Google in the tests."""

from __future__ import annotations

import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.support.json_server import JsonServer


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class OidcIssuer:
    def __init__(self) -> None:
        self.key = new_rsa_key()
        self.kid = "test-google-1"
        self.issuer = "https://accounts.google.test"
        self.client_id = "jobyard-test-client.apps.googleusercontent.com"
        jwk = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        jwks = {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}
        self.http = JsonServer(lambda path: jwks if path == "/certs" else None)
        self.jwks_url = f"{self.http.base_url}/certs"

    def stop(self) -> None:
        self.http.stop()

    def id_token(
        self, *, key: rsa.RSAPrivateKey | None = None, kid: str | None = None, **overrides: Any
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": "google-sub-1",
            "email": "gina@example.com",
            "email_verified": True,
            "name": "Gina",
            "iat": now,
            "exp": now + 600,
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})
