"""JWT verification against a JWKS: what every service uses to trust a caller.

A token is accepted only when its ``alg`` is one the verifier was built for, its ``kid``
names a key of the key source whose algorithm matches, its signature verifies, and
``iss``, ``aud``, ``exp``, ``iat`` (and ``sub``) are present and right. That refuses
``alg: none``, HS256 "signed" with a public key, tampered or foreign signatures, expired
tokens and tokens meant for another audience.

:class:`RemoteJwks` caches the key set and fetches it again when the cache is stale or a
token names an unknown ``kid`` (at most once per ``min_refetch_seconds``), so a key
rotated in at the auth service is picked up at once.

Usage
-----

::

    verifier = JwtVerifier(RemoteJwks("http://auth:8001/.well-known/jwks.json"),
                           issuer="jobyard-auth", audience="jobyard")
    claims = await verifier.verify(token)
    claims["sub"], claims["role"]
    # → ('65f0…', 'user')
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any, Protocol

import httpx
import jwt
import structlog

from jobyard_libs.errors import ServiceUnavailable, Unauthorized

log = structlog.get_logger(__name__)
Claims = dict[str, Any]


class InvalidToken(Unauthorized):
    code = "invalid_token"
    message = "invalid token"


class KeySource(Protocol):
    async def key_for(self, kid: str) -> jwt.PyJWK | None: ...


def parse_jwks(jwks: dict[str, Any]) -> dict[str, jwt.PyJWK]:
    """Keys by ``kid``; keys without a kid or of an unsupported type are left out."""
    keys: dict[str, jwt.PyJWK] = {}
    for data in jwks.get("keys", []):
        kid = data.get("kid")
        if not isinstance(kid, str):
            continue
        try:
            keys[kid] = jwt.PyJWK(data)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError):
            log.warning("jwks_key_skipped", kid=kid, kty=data.get("kty"))
    return keys


class StaticKeySource:
    """Keys known in-process (the auth service verifying its own tokens; tests)."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self._keys = parse_jwks(jwks)

    async def key_for(self, kid: str) -> jwt.PyJWK | None:
        return self._keys.get(kid)


class RemoteJwks:
    """A JWKS fetched over HTTP, cached, refetched when stale or on an unknown ``kid``."""

    def __init__(
        self,
        url: str,
        *,
        cache_seconds: float = 300,
        min_refetch_seconds: float = 5,
        timeout_seconds: float = 5,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url
        self.cache_seconds = cache_seconds
        self.min_refetch_seconds = min_refetch_seconds
        self._client = client or httpx.AsyncClient(timeout=timeout_seconds)
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str) -> jwt.PyJWK | None:
        now = time.monotonic()
        fresh = now - self._fetched_at < self.cache_seconds
        if kid in self._keys and fresh:
            return self._keys[kid]
        if now - self._fetched_at >= self.min_refetch_seconds:
            await self._refresh()
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._fetched_at < self.min_refetch_seconds:
                return  # another request refreshed while this one waited
            try:
                response = await self._client.get(self.url)
                response.raise_for_status()
                keys = parse_jwks(response.json())
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("jwks_fetch_failed", url=self.url, error=str(exc))
                if not self._keys:
                    raise ServiceUnavailable("cannot fetch the signing keys") from exc
                return  # keep verifying with the keys already known
            self._keys = keys
            self._fetched_at = time.monotonic()

    async def aclose(self) -> None:
        await self._client.aclose()


class JwtVerifier:
    """Verifies signed JWTs from one issuer for one audience."""

    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str | Sequence[str],
        audience: str,
        algorithms: Sequence[str] = ("EdDSA",),
        required: Sequence[str] = ("iss", "aud", "exp", "iat", "sub"),
        leeway_seconds: float = 30,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.algorithms = tuple(algorithms)
        self.required = list(required)
        self.leeway = leeway_seconds

    async def verify(self, token: str) -> Claims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise InvalidToken("malformed token") from exc
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise InvalidToken(f"token algorithm {alg!r} is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidToken("token has no key id (kid)")
        key = await self.keys.key_for(kid)
        if key is None:
            raise InvalidToken("token is signed by an unknown key")
        if key.algorithm_name != alg:
            raise InvalidToken("token algorithm does not match its key")
        try:
            claims: Claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": self.required},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("token expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidToken("token is meant for another audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidToken("token comes from another issuer") from exc
        except jwt.InvalidSignatureError as exc:
            raise InvalidToken("token signature does not verify") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"token lacks the {exc.claim!r} claim") from exc
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(f"invalid token: {exc}") from exc
        return claims
