"""The api service's application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from jobyard_libs.app import Resources, create_service_app
from jobyard_libs.audit import AuditLog
from jobyard_libs.auth import remote_authenticator
from jobyard_libs.indexes import SHARED_INDEXES
from jobyard_libs.queue.broker import create_broker
from jobyard_libs.rate_limit import RateLimiter
from jobyard_libs.retention import RetentionPolicy
from jobyard_libs.tasks.engine import TaskEngine
from jobyard_libs.tasks.live_logs import LiveLogs
from jobyard_libs.tasks.repository import ExecutionRepository
from jobyard_libs.tasks.rights import CronFloors
from jobyard_libs.workflows.repository import WorkflowRepository

from jobyard_api.audit import endpoints as audit_endpoints
from jobyard_api.audit.service import AuditService
from jobyard_api.callbacks import endpoints as callback_endpoints
from jobyard_api.callbacks.service import CallbackService
from jobyard_api.dead_letters import endpoints as dead_letter_endpoints
from jobyard_api.dead_letters.service import DeadLetterService
from jobyard_api.deps import ApiContext
from jobyard_api.events import endpoints as event_endpoints
from jobyard_api.events.hub import EventHub
from jobyard_api.executions import endpoints as execution_endpoints
from jobyard_api.executions.service import ExecutionService
from jobyard_api.feed_sources import endpoints as feed_source_endpoints
from jobyard_api.feed_sources.service import FeedSourceService
from jobyard_api.imports import endpoints as import_endpoints
from jobyard_api.imports.service import ImportService
from jobyard_api.jobs import endpoints as job_endpoints
from jobyard_api.jobs.service import JobService
from jobyard_api.retention import endpoints as retention_endpoints
from jobyard_api.settings import ApiSettings
from jobyard_api.tasks import endpoints as task_endpoints
from jobyard_api.tasks.service import TaskService
from jobyard_api.workflows import endpoints as workflow_endpoints
from jobyard_api.workflows.service import WorkflowService


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or ApiSettings()

    @asynccontextmanager
    async def setup(app: FastAPI, resources: Resources) -> AsyncIterator[None]:
        stack = AsyncExitStack()
        app.state.authenticator = await stack.enter_async_context(
            remote_authenticator(settings, resources.redis, resources.keys)
        )
        hub = EventHub(
            resources.redis,
            resources.keys,
            per_user=settings.sse_max_streams_per_user,
            total=settings.sse_max_streams,
        )
        await hub.start()
        stack.push_async_callback(hub.stop)
        app.state.events_hub = hub
        broker = create_broker(settings)
        db = resources.db
        engine = TaskEngine.on(resources, broker, settings)
        lifecycle, outcomes = engine.lifecycle, engine.outcomes
        audit = AuditService(AuditLog(db, retention_days=settings.audit_retention_days))
        feed_sources = FeedSourceService(db, audit)
        await feed_sources.seed(settings.feeds)
        kept = RetentionPolicy.of(settings)
        app.state.api = ApiContext(
            feed_sources=feed_sources,
            imports=ImportService(
                db,
                broker,
                resources.events.import_changed,
                audit,
                stale_after=timedelta(seconds=settings.import_stale_after_seconds),
            ),
            jobs=JobService(db),
            tasks=TaskService(
                db,
                broker,
                lifecycle,
                payload_max_bytes=settings.task_payload_max_bytes,
                batch_max=settings.task_batch_max,
                floors=CronFloors.of(settings),
                secrets=settings,
                audit=audit,
            ),
            executions=ExecutionService(
                db, lifecycle, outcomes, settings, audit, kept, LiveLogs(resources.redis, resources.keys)
            ),
            dead_letters=DeadLetterService(db, outcomes, audit),
            callbacks=CallbackService(db, outcomes),
            submit_limit=RateLimiter(
                resources.redis,
                resources.keys,
                "tasks",
                limit=settings.task_submit_rate_per_minute,
                window=60,
            ),
            audit=audit,
            retention=kept,
            workflows=WorkflowService(
                WorkflowRepository(db),
                ExecutionRepository(db),
                lifecycle,
                audit,
                max_steps=settings.workflow_max_steps,
                payload_max_bytes=settings.task_payload_max_bytes,
                floors=CronFloors.of(settings),
            ),
        )
        try:
            yield
        finally:
            broker.close()
            await stack.aclose()

    return create_service_app(
        service="api",
        settings=settings,
        routers=[
            feed_source_endpoints.router,
            import_endpoints.router,
            job_endpoints.router,
            task_endpoints.router,
            task_endpoints.cron_router,
            execution_endpoints.router,
            dead_letter_endpoints.router,
            callback_endpoints.router,
            event_endpoints.router,
            audit_endpoints.router,
            retention_endpoints.router,
            workflow_endpoints.router,
        ],
        indexes=SHARED_INDEXES,
        setup=setup,
        public_paths=[callback_endpoints.PREFIX],
        docs_prefix="/api",
        body_limits={
            "/api/v1/tasks:batch": settings.task_batch_max_body_bytes,
            callback_endpoints.PREFIX: settings.callback_max_body_bytes,
        },
        title="Jobyard API",
        version="0.1.0",
    )
