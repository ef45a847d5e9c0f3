"""A local OIDC issuer with its own RSA keys, standing in for Google in the tests."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.support.json_server import JsonServer, send_json


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


class OidcProvider:
    """Google's browser side too: ``/authorize`` sends the browser back with a code, and
    ``/token`` trades it (with the client secret and the PKCE verifier) for an ID token
    carrying the nonce it was asked for. Keys and tokens come from ``issuer``."""

    client_secret = "console-test-secret"

    def __init__(self, issuer: OidcIssuer) -> None:
        self.issuer = issuer
        self.codes: dict[str, dict[str, str]] = {}  # code → the authorization request's parameters
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                asked = dict(parse_qsl(url.query))
                if url.path != "/authorize" or asked.get("code_challenge_method") != "S256":
                    self.send_error(404)
                    return
                code = secrets.token_urlsafe(16)
                outer.codes[code] = asked
                back = f"{asked['redirect_uri']}?{urlencode({'code': code, 'state': asked['state']})}"
                self.send_response(302)
                self.send_header("Location", back)
                self.end_headers()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                asked = outer.codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "").encode()
                challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
                if (
                    urlsplit(self.path).path != "/token"
                    or asked is None
                    or form.get("client_secret") != outer.client_secret
                    or form.get("redirect_uri") != asked["redirect_uri"]
                    or challenge != asked["code_challenge"]
                ):
                    self.send_error(400)
                    return
                send_json(self, {"id_token": outer.issuer.id_token(nonce=asked["nonce"])})

            def log_message(self, *_: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
