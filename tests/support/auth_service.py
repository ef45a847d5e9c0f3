"""A real auth service for the other services' tests: one process per test session."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.processes import bin_path, running_service

ADMIN_EMAIL = "ops@example.com"
ADMIN_PASSWORD = "session-admin-password"
USER_PASSWORD = "correct horse battery"
TOKEN_REUSE_SECONDS = 300
# Every test client comes from 127.0.0.1: per-address limits sized for a whole suite.
TEST_LIMITS = {"JOBYARD_LOGIN_MAX_FAILURES_PER_IP": "1000", "JOBYARD_REGISTER_MAX_PER_HOUR": "100000"}


class AuthService:
    def __init__(self, url: str) -> None:
        self.url = url
        self.jwks_url = f"{url}/.well-known/jwks.json"
        self._tokens: dict[str, tuple[float, str]] = {}

    def token(self, email: str, password: str = USER_PASSWORD) -> str:
        cached = self._tokens.get(email)
        if cached and time.monotonic() - cached[0] < TOKEN_REUSE_SECONDS:
            return cached[1]
        with httpx.Client(base_url=self.url, timeout=30) as http:
            if email != ADMIN_EMAIL:
                http.post("/auth/v1/register", json={"email": email, "password": password, "name": email})
            response = http.post("/auth/v1/login", json={"email": email, "password": password})
            response.raise_for_status()
        token = str(response.json()["accessToken"])
        self._tokens[email] = (time.monotonic(), token)
        return token

    def subject(self, headers: dict[str, str]) -> str:
        """The user id behind an Authorization header (its token's ``sub``)."""
        with httpx.Client(base_url=self.url, timeout=30) as http:
            return str(http.get("/auth/v1/me", headers=headers).json()["id"])

    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(ADMIN_EMAIL, ADMIN_PASSWORD)}"}

    def user_headers(self, email: str = "reader@example.com") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(email)}"}

    def api_key(self, email: str = "robot@example.com") -> str:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            response = http.post(
                "/auth/v1/api-keys",
                json={"name": "ci"},
                headers={"Authorization": f"Bearer {self.token(email)}"},
            )
            response.raise_for_status()
        return str(response.json()["key"])


@contextmanager
def auth_service(mongodb_url: str, redis_url: str, tmp: Path) -> Iterator[AuthService]:
    token = uuid.uuid4().hex[:8]
    env = {
        "JOBYARD_MONGODB_URL": mongodb_url,
        "JOBYARD_MONGODB_DATABASE": f"auth_{token}",
        "JOBYARD_REDIS_URL": redis_url,
        "JOBYARD_REDIS_KEY_PREFIX": f"auth:{token}:",
        "JOBYARD_ENVIRONMENT": "test",
        "JOBYARD_SIGNING_KEYS_DIR": str(tmp / "keys"),
        "JOBYARD_ADMIN_EMAIL": ADMIN_EMAIL,
        "JOBYARD_ADMIN_PASSWORD": ADMIN_PASSWORD,
        **TEST_LIMITS,
    }
    subprocess.run(
        [bin_path("jobyard-auth"), "bootstrap-admin"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        timeout=60,
    )
    with running_service([bin_path("jobyard-auth"), "serve"], env, tmp / "auth.log") as url:
        yield AuthService(url)
