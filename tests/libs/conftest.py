from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from dramatiq.brokers.redis import RedisBroker
from fastapi import APIRouter, FastAPI
from jobyard_libs.app import Resources, create_service_app, open_resources
from jobyard_libs.errors import Conflict
from jobyard_libs.indexes import SHARED_INDEXES
from jobyard_libs.queue.broker import create_broker
from jobyard_libs.settings import HttpServiceSettings
from jobyard_worker.settings import WorkerSettings
from pydantic import BaseModel, Field

from tests.conftest import Isolation
from tests.support.asgi import client_for
from tests.support.imports import settings_for


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


@pytest.fixture
async def resources(isolation: Isolation) -> AsyncIterator[Resources]:
    """A worker's clients (MongoDB with every index, Redis) on this test's isolation."""
    async with open_resources(settings_for(isolation, WorkerSettings), SHARED_INDEXES) as opened:
        yield opened


@pytest.fixture
def broker(isolation: Isolation) -> Iterator[RedisBroker]:
    opened = create_broker(settings_for(isolation, WorkerSettings))
    yield opened
    opened.close()
