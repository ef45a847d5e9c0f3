"""One Redis subscription per api process, fanned out to every open event stream.

A stream per Redis connection would let a flood of ``GET /api/v1/events`` exhaust the pool
that readiness and every other request depend on. Here the process holds one pattern
subscription to every audience's channel and hands each message to the queues of the
streams that may see it. Streams are capped per user and per process (429 beyond); a slow
reader loses its oldest events, never the process's memory.

Usage
-----

::

    hub = EventHub(redis, keys, per_user=5, total=1000)
    await hub.start()
    subscription = hub.open(principal)      # TooManyRequests over a cap
    event = await subscription.next(timeout=15)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import structlog
from jobyard_libs.auth import Principal
from jobyard_libs.errors import ServiceUnavailable, TooManyRequests
from jobyard_libs.events import ADMINS, channel
from jobyard_libs.redis_client import RedisKeys
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)
QUEUE_SIZE = 256
MAX_BACKOFF_SECONDS = 5.0


@dataclass(eq=False)
class Subscription:
    hub: EventHub
    subject: str
    audiences: list[str]
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    closed: bool = False

    async def next(self, within: float) -> dict[str, Any] | None:
        """The next event, or ``None`` after ``within`` seconds of quiet."""
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(self.queue.get(), within)
        return None

    def offer(self, event: dict[str, Any]) -> None:
        if self.queue.full():  # a slow reader loses its oldest event, not our memory
            self.queue.get_nowait()
        self.queue.put_nowait(event)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.hub.release(self)


class EventHub:
    def __init__(self, redis: Redis, keys: RedisKeys, *, per_user: int, total: int) -> None:
        self.redis = redis
        self.keys = keys
        self.per_user = per_user
        self.total = total
        self.prefix = channel(keys, "")
        self.listening = False
        self._by_audience: dict[str, set[Subscription]] = defaultdict(set)
        self._per_subject: dict[str, int] = defaultdict(int)
        self._count = 0
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def start(self, wait_seconds: float = 2.0) -> None:
        """Subscribe in the background; wait briefly for it so the first stream finds it live."""
        self._task = asyncio.create_task(self._listen())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), wait_seconds)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def open(self, principal: Principal) -> Subscription:
        if not self.listening:
            raise ServiceUnavailable("live updates are unavailable (Redis); try again", field="redis")
        if self._per_subject[principal.subject] >= self.per_user:
            raise TooManyRequests(5, f"at most {self.per_user} live-update streams per user")
        if self._count >= self.total:
            raise TooManyRequests(5, "this server holds as many live-update streams as it may")
        audiences = [principal.subject] + ([ADMINS] if principal.is_admin else [])
        subscription = Subscription(self, principal.subject, audiences)
        for audience in audiences:
            self._by_audience[audience].add(subscription)
        self._per_subject[principal.subject] += 1
        self._count += 1
        return subscription

    def release(self, subscription: Subscription) -> None:
        for audience in subscription.audiences:
            self._by_audience[audience].discard(subscription)
            if not self._by_audience[audience]:
                del self._by_audience[audience]
        self._per_subject[subscription.subject] -= 1
        if self._per_subject[subscription.subject] <= 0:
            del self._per_subject[subscription.subject]
        self._count -= 1

    @property
    def open_streams(self) -> int:
        return self._count

    async def _listen(self) -> None:
        backoff = 0.1
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.psubscribe(self.prefix + "*")
                self.listening = True
                self._subscribed.set()
                if backoff > 0.1:
                    log.info("event_hub_resumed")
                backoff = 0.1
                async for message in pubsub.listen():
                    if message.get("type") == "pmessage":
                        self._dispatch(message)
            except RedisError as exc:
                if self.listening or backoff == 0.1:
                    log.warning("event_hub_lost_redis", error=str(exc))
                self.listening = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            finally:
                with contextlib.suppress(RedisError, RuntimeError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis leaves it unannotated

    def _dispatch(self, message: dict[str, Any]) -> None:
        name = message["channel"]
        audience = (name.decode() if isinstance(name, bytes) else str(name)).removeprefix(self.prefix)
        subscribers = self._by_audience.get(audience)
        if not subscribers:
            return
        try:
            event = json.loads(message["data"])
        except (TypeError, ValueError):
            return
        for subscription in list(subscribers):
            subscription.offer(event)
