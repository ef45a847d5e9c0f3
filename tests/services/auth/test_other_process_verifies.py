"""Other services trust auth through its JWKS URL (tokens) and introspection (API keys)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from jobyard_libs.auth import RemoteApiKeyChecker, Role

from tests.conftest import Isolation
from tests.support.processes import bin_path, running_service

VERIFIER = textwrap.dedent(
    """
    import asyncio, json, sys
    from jobyard_libs.tokens import JwtVerifier, RemoteJwks

    async def main() -> None:
        verifier = JwtVerifier(RemoteJwks(sys.argv[1]), issuer="jobyard-auth", audience="jobyard")
        try:
            claims = await verifier.verify(sys.stdin.read().strip())
        except Exception as exc:
            print(json.dumps({"error": str(exc)}))
            sys.exit(3)
        print(json.dumps({"sub": claims["sub"], "role": claims["role"]}))

    asyncio.run(main())
    """
)


@pytest.fixture
def auth_url(isolation: Isolation, tmp_path: Path) -> Iterator[str]:
    env = {**isolation.env(), "JOBYARD_SIGNING_KEYS_DIR": str(tmp_path / "keys")}
    with running_service([bin_path("jobyard-auth"), "serve"], env, tmp_path / "auth.log") as url:
        yield url


def _verify_elsewhere(jwks_url: str, token: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", VERIFIER, jwks_url],
        input=token,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_separate_process_verifies_with_only_the_jwks_url(auth_url: str) -> None:
    with httpx.Client(base_url=auth_url) as http:
        user = http.post(
            "/auth/v1/register",
            json={"email": "ann@example.com", "password": "correct horse battery", "name": "Ann"},
        ).json()
        pair = http.post(
            "/auth/v1/login", json={"email": "ann@example.com", "password": "correct horse battery"}
        ).json()

    result = _verify_elsewhere(f"{auth_url}/.well-known/jwks.json", pair["accessToken"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == {"sub": user["id"], "role": "user"}

    forged = pair["accessToken"][:-4] + ("AAAA" if not pair["accessToken"].endswith("AAAA") else "BBBB")
    refused = _verify_elsewhere(f"{auth_url}/.well-known/jwks.json", forged)
    assert refused.returncode == 3
    assert "signature" in json.loads(refused.stdout)["error"]


async def test_another_service_checks_api_keys_through_auth(auth_url: str) -> None:
    async with httpx.AsyncClient(base_url=auth_url) as http:
        await http.post(
            "/auth/v1/register",
            json={"email": "ann@example.com", "password": "correct horse battery", "name": "Ann"},
        )
        pair = (
            await http.post(
                "/auth/v1/login", json={"email": "ann@example.com", "password": "correct horse battery"}
            )
        ).json()
        created = (
            await http.post(
                "/auth/v1/api-keys",
                json={"name": "ci"},
                headers={"Authorization": f"Bearer {pair['accessToken']}"},
            )
        ).json()

        checker = RemoteApiKeyChecker(auth_url, cache_seconds=0)
        try:
            principal = await checker.check(created["key"])
            assert principal is not None and principal.role is Role.USER and principal.via == "api_key"
            assert await checker.check("jy_not_a_key") is None
            await http.delete(
                f"/auth/v1/api-keys/{created['id']}",
                headers={"Authorization": f"Bearer {pair['accessToken']}"},
            )
            assert await checker.check(created["key"]) is None
        finally:
            await checker.aclose()
