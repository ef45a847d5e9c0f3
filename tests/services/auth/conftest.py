from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from jobyard_auth.app import create_app
from jobyard_auth.bootstrap import bootstrap_admin
from jobyard_auth.settings import AuthSettings

from tests.conftest import Isolation
from tests.support.asgi import client_for
from tests.support.imports import settings_for
from tests.support.oidc_issuer import OidcIssuer

ADMIN_EMAIL = "root@example.com"
ADMIN_PASSWORD = "admin-password-for-tests"


@pytest.fixture(scope="session")
def oidc_issuer() -> Iterator[OidcIssuer]:
    issuer = OidcIssuer()
    yield issuer
    issuer.stop()


@pytest.fixture
def auth_settings(isolation: Isolation, keys_dir: Path, oidc_issuer: OidcIssuer) -> AuthSettings:
    settings: AuthSettings = settings_for(
        isolation,
        AuthSettings,
        signing_keys_dir=keys_dir,
        google_client_id=oidc_issuer.client_id,
        google_issuers=[oidc_issuer.issuer],
        google_jwks_url=oidc_issuer.jwks_url,
        admin_email=ADMIN_EMAIL,
        admin_password=ADMIN_PASSWORD,
    )
    return settings


@pytest.fixture
async def auth_app(auth_settings: AuthSettings) -> AsyncIterator[FastAPI]:
    app = create_app(auth_settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(auth_settings: AuthSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(auth_settings)) as c:
        yield c


@pytest.fixture
async def admin_token(auth_settings: AuthSettings, client: httpx.AsyncClient) -> str:
    await bootstrap_admin(auth_settings)
    response = await client.post("/auth/v1/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["accessToken"])
