"""What actors use (database, broker, settings), opened when a worker process boots.

Dramatiq forks worker processes and runs async actors on one event loop thread per
process (its ``AsyncIO`` middleware). :class:`WorkerContextMiddleware` opens MongoDB on
that loop as the worker boots and closes it at shutdown; :class:`MessageContext` puts the
message's request id, id and actor on every log line written while it is processed.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass

import structlog
from dramatiq import Broker, Middleware, Worker
from dramatiq.asyncio import EventLoopThread, get_event_loop_thread
from dramatiq.broker import MessageProxy
from jobyard_libs.app import Resources, open_resources
from jobyard_libs.audit import AuditLog
from jobyard_libs.egress import EgressGuard
from jobyard_libs.indexes import SHARED_INDEXES
from jobyard_libs.principals import PrincipalDirectory, StoredRights
from jobyard_libs.queue.liveness import WorkerLiveness, holder_id
from jobyard_libs.request_id import bind_request_id
from jobyard_libs.tasks.engine import TaskEngine
from jobyard_libs.tasks.lifecycle import ExecutionLifecycle
from jobyard_libs.tasks.outcomes import Outcomes

from jobyard_worker import stacks
from jobyard_worker.settings import WorkerSettings


@dataclass
class WorkerContext:
    settings: WorkerSettings
    broker: Broker
    resources: Resources
    guard: EgressGuard  # every outbound call users aim (http tasks, webhooks, notify)
    rights: PrincipalDirectory  # task owners' current roles
    lifecycle: ExecutionLifecycle  # every execution status change, and what it sets off
    outcomes: Outcomes  # what follows a failed attempt
    audit: AuditLog  # security events (outbound calls the guard refused)
    liveness: WorkerLiveness  # which workers are alive: a dead one's attempts are taken over


_context: WorkerContext | None = None


def worker_context() -> WorkerContext:
    if _context is None:
        raise RuntimeError("the worker context is not open: is WorkerContextMiddleware installed?")
    return _context


class WorkerContextMiddleware(Middleware):
    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self._stack: AsyncExitStack | None = None

    async def _open(self, broker: Broker) -> None:
        global _context
        self._stack = AsyncExitStack()
        resources = await self._stack.enter_async_context(open_resources(self.settings, SHARED_INDEXES))
        db = resources.db
        engine = TaskEngine.on(
            resources,
            broker,
            self.settings,
            group_commit=self.settings.worker_group_commit_ms / 1000,
            group_size=self.settings.worker_threads,
            holder=holder_id(broker),
            claims_in_redis=self.settings.task_processing_write_after_ms > 0,
        )
        _context = WorkerContext(
            self.settings,
            broker,
            resources,
            EgressGuard(self.settings.egress_policy()),
            PrincipalDirectory(resources.redis, resources.keys, fallback=StoredRights(db)),
            engine.lifecycle,
            engine.outcomes,
            AuditLog(db, retention_days=self.settings.audit_retention_days),
            WorkerLiveness.of(resources.redis, self.settings),
        )

    async def _close(self) -> None:
        global _context
        if self._stack is not None:
            await self._stack.aclose()
        _context = None

    def before_worker_boot(self, broker: Broker, worker: Worker) -> None:
        # Not after_worker_boot: Dramatiq starts consuming before it emits that.
        # The AsyncIO middleware, earlier in the list, has started the loop by now.
        _loop().run_coroutine(self._open(broker))
        stacks.install(_loop().loop)  # the worker process's main thread: SIGUSR1 dumps

    def after_worker_shutdown(self, broker: Broker, worker: Worker) -> None:
        # Not before_worker_shutdown: in-flight messages still finish after that, and need
        # MongoDB. after_* hooks run in reverse order, so the event loop still runs here.
        _loop().run_coroutine(self._close())


def _loop() -> EventLoopThread:
    thread = get_event_loop_thread()
    if thread is None:
        raise RuntimeError("the AsyncIO middleware must come before WorkerContextMiddleware")
    return thread


class MessageContext(Middleware):
    """Bind the message's ids to the worker thread's context; asyncio copies it into the actor."""

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        request_id = message.options.get("request_id")
        bind_request_id(request_id)
        structlog.contextvars.bind_contextvars(
            request_id=request_id, message_id=message.message_id, actor=message.actor_name
        )

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: object = None,
        exception: BaseException | None = None,
    ) -> None:
        structlog.contextvars.clear_contextvars()
        bind_request_id(None)

    after_skip_message = after_process_message
