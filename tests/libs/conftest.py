from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from jobyard_libs.app import create_service_app
from jobyard_libs.errors import Conflict
from jobyard_libs.settings import HttpServiceSettings
from pydantic import BaseModel, Field

from tests.conftest import Isolation
from tests.support.asgi import client_for


class Widget(BaseModel):
    name: str = Field(min_length=2)
    size: int = Field(ge=1)


def demo_router() -> APIRouter:
    router = APIRouter()

    @router.get("/widgets/{widget_id}")
    async def get_widget(widget_id: str) -> dict[str, str]:
        return {"id": widget_id}

    @router.post("/widgets")
    async def create_widget(widget: Widget) -> Widget:
        if widget.name == "taken":
            raise Conflict("widget exists", field="name")
        return widget

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    return router


def demo_app(settings: HttpServiceSettings) -> FastAPI:
    return create_service_app(service="demo", settings=settings, routers=[demo_router()])


@pytest.fixture
def demo_settings(isolation: Isolation) -> HttpServiceSettings:
    return HttpServiceSettings(
        _env_file=None,
        mongodb_url=isolation.mongodb_url,
        mongodb_database=isolation.database,
        redis_url=isolation.redis_url,
        redis_key_prefix=isolation.key_prefix,
    )


@pytest.fixture
async def demo_client(demo_settings: HttpServiceSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(demo_app(demo_settings), raise_app_exceptions=False) as client:
        yield client
