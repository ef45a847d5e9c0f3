"""The Redis client, and Jobyard's key naming.

Every key Jobyard writes itself starts with ``settings.redis_key_prefix`` so that tests
(and several installs sharing one Redis) never collide.

Examples
--------
>>> RedisKeys("jobyard:").key("ratelimit", "login", "ip", "10.0.0.1")
'jobyard:ratelimit:login:ip:10.0.0.1'
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from jobyard_libs.settings import BaseServiceSettings


def create_redis_client(settings: BaseServiceSettings) -> Redis:
    return Redis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_connect_timeout=settings.mongodb_timeout_ms / 1000,
        socket_timeout=10,
        health_check_interval=30,
    )


@dataclass(frozen=True)
class RedisKeys:
    prefix: str

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)
