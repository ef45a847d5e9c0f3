"""Declare actors by dotted name without touching a broker until the worker starts.

``@actor(ActorName.X)`` records the function; :func:`register_actors` binds every recorded
actor to the broker the worker's entry point created. Options (``max_retries``,
``time_limit``...) pass through to Dramatiq. ``on_dead`` runs when a message of that
actor has exhausted its retries (see :class:`DeadMessageHooks`).

An outage (MongoDB or Redis away) is not the message's fault: an actor that fails with one
puts its message back on the queue after a capped backoff, without spending a retry, for
as long as the outage lasts. Only the message's own failures count against its retries.

Usage
-----

::

    @actor(ActorName.IMPORT_APPLY_BATCH, on_dead=mark_batch_failed)
    async def apply_batch(payload: dict) -> None: ...
    register_actors(broker)
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import dramatiq
import structlog
from dramatiq import Broker, Middleware
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.broker import MessageProxy
from dramatiq.middleware import CurrentMessage, Retries
from jobyard_libs.outages import OUTAGES, backoff_seconds, dependency_of
from jobyard_libs.queue.contracts import ACTOR_QUEUES, ActorName

log = structlog.get_logger(__name__)
DeadHook = Callable[[dict[str, Any], str], Awaitable[None]]


@dataclass
class ActorSpec:
    name: ActorName
    fn: Callable[..., Any]
    on_dead: DeadHook | None
    options: dict[str, Any] = field(default_factory=dict)


_REGISTRY: dict[ActorName, ActorSpec] = {}


def actor(
    name: ActorName, *, on_dead: DeadHook | None = None, **options: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def record(fn: Callable[..., Any]) -> Callable[..., Any]:
        _REGISTRY[name] = ActorSpec(name, fn, on_dead, options)
        return fn

    return record


def outage_tolerant(
    fn: Callable[..., Awaitable[Any]], broker: Broker, *, max_wait_seconds: float
) -> Callable[..., Awaitable[Any]]:
    """Wrap an async actor: on an outage, enqueue its message again later instead of failing."""

    @functools.wraps(fn)
    async def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except OUTAGES as exc:
            message = CurrentMessage.get_current_message()
            if message is None:
                raise
            outages = int(message.options.get("outages", 0)) + 1
            # never 0: the copy keeps the message id, and an ack of this delivery must not erase it
            delay_ms = max(1, int(backoff_seconds(outages, cap=max_wait_seconds) * 1000))
            log.warning(
                "message_waits_for_dependency",
                dependency=dependency_of(exc),
                actor=message.actor_name,
                message_id=message.message_id,
                outages=outages,
                delay_ms=delay_ms,
            )
            broker.enqueue(message.copy(options={**message.options, "outages": outages}), delay=delay_ms)
            return None

    return run


def register_actors(broker: Broker, *, outage_wait_max_seconds: float = 30.0) -> None:
    hooks: dict[str, DeadHook] = {}
    for spec in _REGISTRY.values():
        dramatiq.Actor(
            outage_tolerant(spec.fn, broker, max_wait_seconds=outage_wait_max_seconds),
            broker=broker,
            actor_name=spec.name.value,
            queue_name=ACTOR_QUEUES[spec.name].value,
            priority=0,
            options=spec.options,
        )
        if spec.on_dead is not None:
            hooks[spec.name.value] = spec.on_dead
    # Dramatiq runs after_* hooks in reverse order: placed before Retries, this one runs
    # after Retries has decided whether the message is dead.
    broker.add_middleware(DeadMessageHooks(hooks), before=Retries)


class DeadMessageHooks(Middleware):
    """After Retries gave up on a message (``message.failed``), run its actor's ``on_dead``."""

    def __init__(self, hooks: dict[str, DeadHook]) -> None:
        self.hooks = hooks

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: object = None,
        exception: BaseException | None = None,
    ) -> None:
        hook = self.hooks.get(message.actor_name)
        if hook is None or not message.failed:
            return
        error = f"{type(exception).__name__}: {exception}" if exception else "failed"
        payload = message.args[0] if message.args else {}
        loop_thread = get_event_loop_thread()
        try:
            if loop_thread is None:
                raise RuntimeError("the AsyncIO middleware is not running")
            loop_thread.run_coroutine(hook(payload, error))
        except Exception:  # a failing hook must not take the worker thread down
            log.exception("dead_message_hook_failed", actor=message.actor_name)
