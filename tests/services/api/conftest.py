from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from jobyard_api.app import create_app
from jobyard_api.settings import ApiSettings

from tests.conftest import Isolation
from tests.support.asgi import client_for
from tests.support.auth_service import AuthService
from tests.support.imports import settings_for


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
