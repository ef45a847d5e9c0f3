from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
from jobyard_auth.bootstrap import bootstrap_admin
from jobyard_auth.settings import AuthSettings

from tests.conftest import Isolation
from tests.services.auth.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.services.auth.helpers import bearer, login
from tests.support.processes import bin_path


async def test_bootstrap_is_idempotent(auth_settings: AuthSettings, client: httpx.AsyncClient) -> None:
    first = await bootstrap_admin(auth_settings)
    second = await bootstrap_admin(auth_settings)
    assert first.created and not second.created
    assert first.password is None  # configured, so not echoed
    pair = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    me = (await client.get("/auth/v1/me", headers=bearer(pair["accessToken"]))).json()
    assert me["role"] == "admin"


def test_cli_generates_keeps_and_shows_the_password(isolation: Isolation, tmp_path: Path) -> None:
    password_file = tmp_path / "admin-password"
    env = {**os.environ, **isolation.env(), "JOBYARD_ADMIN_EMAIL": "boss@example.com"}
    env.pop("JOBYARD_ADMIN_PASSWORD", None)
    command = [bin_path("jobyard-auth"), "bootstrap-admin", "--password-file", str(password_file)]

    first = subprocess.run(command, env=env, capture_output=True, text=True, check=True, timeout=60)
    created = json.loads(first.stdout)
    assert created["created"] is True and len(created["password"]) >= 20
    assert password_file.read_text().strip() == created["password"]
    assert password_file.stat().st_mode & 0o777 == 0o600

    second = subprocess.run(command, env=env, capture_output=True, text=True, check=True, timeout=60)
    again = json.loads(second.stdout)
    assert again == {"email": "boss@example.com", "created": False, "password": created["password"]}


def test_generate_key_cli(tmp_path: Path) -> None:
    result = subprocess.run(
        [bin_path("jobyard-auth"), "generate-key", "--dir", str(tmp_path), "--kid", "k2"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(result.stdout)["kid"] == "k2"
    assert (tmp_path / "k2.pem").stat().st_mode & 0o777 == 0o600
    clash = subprocess.run(
        [bin_path("jobyard-auth"), "generate-key", "--dir", str(tmp_path), "--kid", "k2"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert clash.returncode != 0 and "exists already" in clash.stderr
