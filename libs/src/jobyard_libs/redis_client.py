"""One way to Redis for every process: a URL or Sentinel, with TLS and a retry policy.

Where Redis is: ``JOBYARD_REDIS_URL`` (``redis://``, ``rediss://`` for TLS), or Sentinel —
``JOBYARD_REDIS_SENTINELS`` (``host:port`` list) with ``JOBYARD_REDIS_SENTINEL_MASTER``,
or the same in one URL, ``redis+sentinel://[:password@]host:port,host:port/master/db``
(what the operator reads from a Secret). Through Sentinel every connection asks which
node is the primary, so after a failover a process follows the new one on its own: a
command on a connection to the demoted primary fails, is retried on a fresh connection,
and lands on the new primary.

Every client retries a command that failed on a broken or timed-out connection
(exponential backoff with jitter, ``JOBYARD_REDIS_RETRIES`` times), so a Redis restart
costs callers a short wait, not an error.

Every key Jobyard writes itself starts with ``settings.redis_key_prefix`` so that tests
(and several installs sharing one Redis) never collide.

Usage
-----

::

    connector = RedisConnector.from_settings(settings)
    redis = connector.asyncio()          # services
    client = connector.sync()            # Dramatiq's broker
    RedisKeys("jobyard:").key("ratelimit", "login", "ip", "10.0.0.1")
    # → 'jobyard:ratelimit:login:ip:10.0.0.1'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.retry
import redis.asyncio.sentinel
import redis.retry
import redis.sentinel
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from jobyard_libs.redis_target import RedisTarget
from jobyard_libs.settings import BaseServiceSettings

RETRIED = (RedisConnectionError, RedisTimeoutError)


@dataclass
class RedisConnector:
    """Builds every Redis client a process uses, from one :class:`RedisTarget`."""

    target: RedisTarget
    socket_timeout: float = 10.0
    connect_timeout: float = 5.0
    retries: int = 3
    health_check_interval: int = 30

    @classmethod
    def from_settings(cls, settings: BaseServiceSettings) -> RedisConnector:
        return cls(
            settings.redis_target(),
            socket_timeout=settings.redis_socket_timeout_seconds,
            connect_timeout=settings.redis_connect_timeout_seconds,
            retries=settings.redis_retries,
        )

    def _common(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": self.connect_timeout,
            "health_check_interval": self.health_check_interval,
            "retry_on_error": list(RETRIED),
        }
        target = self.target
        if target.password is not None:
            options["password"] = target.password
        if target.username is not None:
            options["username"] = target.username
        if target.tls:
            options.update(
                ssl=True,
                ssl_ca_certs=target.ca_file,
                ssl_certfile=target.cert_file,
                ssl_keyfile=target.key_file,
                ssl_check_hostname=target.check_hostname,
            )
        return options

    def _backoff(self) -> ExponentialWithJitterBackoff:
        return ExponentialWithJitterBackoff(cap=2.0, base=0.05)

    def _sentinel_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "socket_timeout": self.connect_timeout,
            "socket_connect_timeout": self.connect_timeout,
        }
        if self.target.sentinel_password is not None:
            options["password"] = self.target.sentinel_password
        if self.target.tls:
            options.update(
                ssl=True, ssl_ca_certs=self.target.ca_file, ssl_check_hostname=self.target.check_hostname
            )
        return options

    def asyncio(self, *, decode_responses: bool = True, **overrides: Any) -> redis.asyncio.Redis:
        options = {
            **self._common(),
            "decode_responses": decode_responses,
            "retry": redis.asyncio.retry.Retry(self._backoff(), self.retries),
            **overrides,
        }
        if self.target.sentinels:
            sentinel = redis.asyncio.sentinel.Sentinel(  # type: ignore[no-untyped-call]
                list(self.target.sentinels), sentinel_kwargs=self._sentinel_options()
            )
            client: redis.asyncio.Redis = sentinel.master_for(
                self.target.master, db=self.target.db, **options
            )
            return client
        assert self.target.url is not None
        return redis.asyncio.Redis.from_url(self.target.url, **options)

    def sync(self, *, decode_responses: bool = False, **overrides: Any) -> redis.Redis:
        options = {
            **self._common(),
            "decode_responses": decode_responses,
            "retry": redis.retry.Retry(self._backoff(), self.retries),
            **overrides,
        }
        if self.target.sentinels:
            sentinel = redis.sentinel.Sentinel(  # type: ignore[no-untyped-call]
                list(self.target.sentinels), sentinel_kwargs=self._sentinel_options()
            )
            sync_client: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
                self.target.master, db=self.target.db, **options
            )
            return sync_client
        assert self.target.url is not None
        return redis.Redis.from_url(self.target.url, **options)


def create_redis_client(settings: BaseServiceSettings) -> redis.asyncio.Redis:
    return RedisConnector.from_settings(settings).asyncio()


@dataclass(frozen=True)
class RedisKeys:
    prefix: str

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)
