"""Google sign-in: verify an OIDC id_token against the issuer's JWKS.

Issuer, audience (our OAuth client id) and JWKS URL are settings, so tests run a local
issuer with its own keys. A token is accepted when its signature verifies (RS256), ``iss``
is an accepted issuer, ``aud`` is our client id, it has not expired, and
``email_verified`` is true: only a verified email may be linked to an existing account.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobyard_libs.tokens import InvalidToken, JwtVerifier, RemoteJwks


@dataclass(frozen=True)
class GoogleIdentity:
    sub: str
    email: str
    name: str


class GoogleVerifier:
    def __init__(self, *, client_id: str, issuers: list[str], jwks_url: str) -> None:
        self.jwks = RemoteJwks(jwks_url, cache_seconds=3600)
        self.verifier = JwtVerifier(
            self.jwks,
            issuer=issuers,
            audience=client_id,
            algorithms=("RS256",),
            required=("iss", "aud", "exp", "iat", "sub"),
        )

    async def verify(self, id_token: str) -> GoogleIdentity:
        claims = await self.verifier.verify(id_token)
        email = claims.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise InvalidToken("id_token has no email", field="idToken")
        if claims.get("email_verified") not in (True, "true"):
            raise InvalidToken("the Google account's email is not verified", field="idToken")
        name = claims.get("name") if isinstance(claims.get("name"), str) else email
        return GoogleIdentity(str(claims["sub"]), email.strip().lower(), str(name))

    async def aclose(self) -> None:
        await self.jwks.aclose()
