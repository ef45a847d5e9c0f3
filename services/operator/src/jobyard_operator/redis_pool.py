"""One Redis client per URL, shared by every autoscaler that reads the same Redis."""

from __future__ import annotations

from redis.asyncio import Redis


class RedisPool:
    def __init__(self, *, timeout_seconds: float = 3) -> None:
        self._timeout = timeout_seconds
        self._clients: dict[str, Redis] = {}

    def client(self, url: str) -> Redis:
        if url not in self._clients:
            self._clients[url] = Redis.from_url(
                url, socket_timeout=self._timeout, socket_connect_timeout=self._timeout
            )
        return self._clients[url]

    async def close(self) -> None:
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.aclose()
