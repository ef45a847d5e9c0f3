"""One Redis client per connection string, shared by every autoscaler that reads the same Redis.

The string comes from the Secret a WorkerAutoscaler names: ``redis://``, ``rediss://`` or
``redis+sentinel://host:port,.../master/db``, through the platform's one client factory, so
the operator follows a Sentinel failover like every other process.
"""

from __future__ import annotations

from jobyard_libs.redis_client import RedisConnector
from jobyard_libs.redis_target import RedisTarget
from redis.asyncio import Redis


class RedisPool:
    def __init__(self, *, timeout_seconds: float = 3) -> None:
        self._timeout = timeout_seconds
        self._clients: dict[str, Redis] = {}

    def client(self, url: str) -> Redis:
        if url not in self._clients:
            connector = RedisConnector(
                RedisTarget.parse(url), socket_timeout=self._timeout, connect_timeout=self._timeout, retries=1
            )
            self._clients[url] = connector.asyncio(decode_responses=False)
        return self._clients[url]

    async def close(self) -> None:
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.aclose()
