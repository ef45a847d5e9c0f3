from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from jobyard_api.app import create_app
from jobyard_api.settings import ApiSettings

from tests.conftest import Isolation
from tests.support.asgi import client_for
from tests.support.auth_service import AuthService, auth_service
from tests.support.imports import settings_for


@pytest.fixture(scope="session")
def auth(mongodb_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthService]:
    with auth_service(mongodb_url, redis_url, tmp_path_factory.mktemp("auth")) as service:
        yield service


@pytest.fixture
def api_settings(isolation: Isolation, auth: AuthService) -> ApiSettings:
    settings: ApiSettings = settings_for(
        isolation, ApiSettings, auth_url=auth.url, auth_jwks_url=auth.jwks_url
    )
    return settings


@pytest.fixture
async def api(api_settings: ApiSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(api_settings)) as client:
        yield client
