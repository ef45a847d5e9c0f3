"""What a running attempt has logged so far, for the console to show while it runs.

The worker's journal (:mod:`jobyard_worker.tasks.journal`) is stored with the attempt when
it ends; while it runs, the worker appends the new lines to a Redis list every cancel poll
(only when there are new ones: no write for a quiet attempt), and the api shows them as
``liveLogs`` on a processing execution. The list holds what the journal holds (capped and
redacted there) and expires an hour after the attempt's time limit could end it, however
long it ran quiet; a lost append loses nothing stored.

Usage
-----

::

    live = LiveLogs(redis, keys)
    await live.append(execution_id, attempt, ["info: fetched url=https://…"], timeout_ms=30_000)
    await live.read(execution_id, attempt)
    # → ['info: fetched url=https://…']
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from jobyard_libs.redis_client import RedisKeys

GRACE_SECONDS = 3600


class LiveLogs:
    def __init__(self, redis: Redis, keys: RedisKeys) -> None:
        self.redis, self.keys = redis, keys

    def _key(self, execution_id: str, attempt: int) -> str:
        return self.keys.key("attempt-log", execution_id, str(attempt))

    async def append(self, execution_id: str, attempt: int, lines: Sequence[str], *, timeout_ms: int) -> None:
        """Add ``lines``; the list outlives the attempt's time limit (``timeout_ms``) by an hour."""
        if not lines:
            return
        key = self._key(execution_id, attempt)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.rpush(key, *lines)
            pipe.expire(key, timeout_ms // 1000 + GRACE_SECONDS)
            await pipe.execute()

    async def read(self, execution_id: str, attempt: int) -> list[str]:
        lines = await self.redis.lrange(self._key(execution_id, attempt), 0, -1)
        return [line.decode() if isinstance(line, bytes) else str(line) for line in lines]
