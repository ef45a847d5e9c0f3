"""The FastAPI application every service starts from.

It opens MongoDB and Redis, creates the service's indexes, installs the request-id and
metrics middleware, the body limit, authentication before any body is read, the one error
shape, ``/healthz``, ``/readyz`` and ``/metrics``, then hands over to the service's own
``setup`` for the rest of the lifespan.

Usage
-----

::

    @asynccontextmanager
    async def setup(app: FastAPI, resources: Resources) -> AsyncIterator[None]:
        app.state.authenticator = ...
        yield
    app = create_service_app(service="api", settings=settings, routers=[tasks_router],
                             indexes=INDEXES, setup=setup)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI
from redis.asyncio import Redis

from jobyard_libs.auth import AuthenticateFirst
from jobyard_libs.body_limit import BodyLimit
from jobyard_libs.docs import install_docs
from jobyard_libs.errors import COMMON_ERRORS, install_error_handlers
from jobyard_libs.events import EventPublisher
from jobyard_libs.health import health_router
from jobyard_libs.metrics import HttpMetricsMiddleware, metrics_endpoint
from jobyard_libs.mongo import (
    Database,
    IndexSpec,
    MongoClient,
    create_mongo_client,
    ensure_indexes,
    ensure_indexes_when_reachable,
)
from jobyard_libs.outages import MONGODB_OUTAGES, OutageLog
from jobyard_libs.redis_client import RedisKeys, create_redis_client
from jobyard_libs.request_id import RequestIdMiddleware
from jobyard_libs.settings import BaseServiceSettings, HttpServiceSettings

log = structlog.get_logger(__name__)


@dataclass
class Resources:
    mongo: MongoClient
    db: Database
    redis: Redis
    keys: RedisKeys

    @property
    def events(self) -> EventPublisher:
        return EventPublisher(self.redis, self.keys)


Setup = Callable[[FastAPI, Resources], AbstractAsyncContextManager[None]]


@asynccontextmanager
async def open_resources(
    settings: BaseServiceSettings, indexes: Sequence[IndexSpec] = (), *, requests: bool = False
) -> AsyncIterator[Resources]:
    """MongoDB and Redis clients, and the indexes (created in the background while MongoDB is
    away: the process starts anyway). ``requests``: an HTTP service's short timeouts."""
    mongo = create_mongo_client(settings, requests=requests)
    redis = create_redis_client(settings)
    db = mongo[settings.mongodb_database]
    indexing: asyncio.Task[None] | None = None
    try:
        await ensure_indexes(db, indexes)
    except MONGODB_OUTAGES as exc:  # start anyway (unready); the indexes follow MongoDB's return
        outages = OutageLog("indexes")
        outages.failed("mongodb", exc)
        indexing = asyncio.create_task(
            ensure_indexes_when_reachable(
                db, indexes, outages, failures=1, max_wait=settings.outage_retry_max_seconds
            )
        )
    try:
        yield Resources(mongo, db, redis, RedisKeys(settings.redis_key_prefix))
    finally:
        if indexing is not None:
            indexing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await indexing
        await redis.aclose()
        await mongo.close()


def create_service_app(
    *,
    service: str,
    settings: HttpServiceSettings,
    routers: Sequence[APIRouter],
    indexes: Sequence[IndexSpec] = (),
    setup: Setup | None = None,
    public_paths: Sequence[str] = (),
    body_limits: Mapping[str, int] | None = None,
    docs_prefix: str = "",
    **fastapi_options: Any,
) -> FastAPI:
    """``public_paths``: prefixes whose bodies are read without credentials (their handlers
    check what they need); ``body_limits``: larger body limits by path prefix;
    ``docs_prefix``: the ingress path the service is reached under (its docs work there too)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(settings, indexes, requests=True) as resources:
            app.state.resources = resources
            app.state.settings = settings
            if setup is None:
                yield
            else:
                async with setup(app, resources):
                    log.info("service_started", environment=settings.environment.value)
                    yield
        log.info("service_stopped")

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None, **fastapi_options)
    install_docs(app, title=str(fastapi_options.get("title", service)), prefix=docs_prefix)
    install_error_handlers(app)
    app.add_middleware(AuthenticateFirst, public=public_paths)
    app.add_middleware(BodyLimit, max_bytes=settings.http_max_body_bytes, routes=body_limits)
    app.add_middleware(HttpMetricsMiddleware, service=service)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health_router())
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    for router in routers:
        app.include_router(router, responses=COMMON_ERRORS)
    return app
