"""Settings shared by every service.

Every setting comes from the environment with the ``JOBYARD_`` prefix (or a ``.env``
file). Each service defines one class on top of :class:`BaseServiceSettings`; nothing
here is service-specific.

Examples
--------
>>> class ApiSettings(BaseServiceSettings):
...     port: int = 8000
>>> ApiSettings(redis_url="redis://r:6379/0").redis_url
'redis://r:6379/0'
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobyard_libs.egress import EgressPolicy
from jobyard_libs.redis_target import RedisTarget, parse_nodes

ENV_PREFIX = "JOBYARD_"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    JSON = "json"
    CONSOLE = "console"


class LoggingSettings(BaseSettings):
    """How a process logs; the base of every settings class."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True)

    log_level: str = Field("INFO", description="Log level: DEBUG, INFO, WARNING, ERROR.")
    log_format: LogFormat = Field(
        LogFormat.JSON, description="json (one JSON object a line) or console (coloured)."
    )


class BaseServiceSettings(LoggingSettings):
    """MongoDB, Redis, logging: what every service needs."""

    environment: Environment = Field(
        Environment.DEVELOPMENT,
        description="development, test or production; production refuses unsafe defaults.",
    )
    mongodb_url: str = Field("mongodb://127.0.0.1:27017", description="MongoDB connection string.")
    mongodb_database: str = Field("jobyard", description="MongoDB database name.")
    mongodb_timeout_ms: int = Field(
        5000,
        ge=100,
        description="Server selection and connect timeout for MongoDB (ms) in background loops (scheduler, worker, monitor).",
    )
    mongodb_max_idle_seconds: float = Field(
        60,
        gt=0,
        le=3600,
        description="A pooled MongoDB connection idle this long is closed: keep it below every idle timeout "
        "between the services and MongoDB (the embedded server drops idle connections after 300 s).",
    )
    mongodb_request_timeout_ms: int = Field(
        1000,
        ge=100,
        description="The same for HTTP requests: how long a request waits for an unreachable MongoDB before 503.",
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="Redis URL: redis://, rediss:// (TLS), or redis+sentinel://[:password@]host:port,.../master/db.",
    )
    redis_sentinels: str = Field(
        "",
        description="Sentinel nodes (host:port, comma list); set: Redis is found through them, not redis_url.",
    )
    redis_sentinel_master: str = Field("mymaster", description="The Sentinel master name of Jobyard's Redis.")
    redis_db: int = Field(0, ge=0, description="Redis database number with Sentinel (a URL says its own).")
    redis_password: SecretStr | None = Field(None, description="Redis password (overrides one in the URL).")
    redis_sentinel_password: SecretStr | None = Field(
        None, description="Password of the Sentinel nodes, if they have one."
    )
    redis_tls: bool = Field(False, description="TLS to Redis and Sentinel (implied by a rediss:// URL).")
    redis_tls_ca_file: str | None = Field(
        None, description="CA bundle verifying Redis's TLS certificate (rediss://)."
    )
    redis_tls_cert_file: str | None = Field(
        None, description="Client certificate for Redis TLS (mutual TLS)."
    )
    redis_tls_key_file: str | None = Field(None, description="Client key for Redis TLS (mutual TLS).")
    redis_tls_check_hostname: bool = Field(
        True, description="Check that Redis's TLS certificate names its host."
    )
    redis_socket_timeout_seconds: float = Field(
        10, gt=0, description="Longest wait for one Redis answer before the command is retried or fails."
    )
    redis_connect_timeout_seconds: float = Field(5, gt=0, description="Longest wait to connect to Redis.")
    redis_retries: int = Field(
        3,
        ge=0,
        le=20,
        description="Retries of a Redis command whose connection broke or timed out (backoff with jitter).",
    )
    redis_key_prefix: str = Field(
        "jobyard:", description="Prefix of every Redis key Jobyard writes (not Dramatiq's)."
    )
    metrics_host: str = Field(
        "127.0.0.1",
        description="Address the worker's and scheduler's /metrics listen on (HTTP services use JOBYARD_HOST).",
    )
    queue_heartbeat_timeout_ms: int = Field(
        30000,
        ge=1000,
        description="Silence after which a worker is dead and its unacked messages are requeued "
        "(workers beat every quarter of it from their own thread).",
    )
    outage_retry_max_seconds: float = Field(
        30,
        gt=0,
        le=600,
        description="Longest wait between two tries while MongoDB or Redis is away (loops, queued work, "
        "index creation): after an outage, work resumes within it.",
    )
    queue_sweep_seconds: float = Field(
        5.0,
        gt=0,
        le=300,
        description="How often each worker puts dead workers' messages back on its queues: they are back "
        "within the heartbeat timeout plus this.",
    )
    queue_maintenance_chance: int = Field(
        1000,
        ge=1,
        le=1_000_000,
        description="Queue commands in a million that also requeue dead workers' messages (workers sweep "
        "deterministically too: JOBYARD_QUEUE_SWEEP_SECONDS).",
    )

    @property
    def is_development(self) -> bool:
        return self.environment is not Environment.PRODUCTION

    @field_validator("redis_url")
    @classmethod
    def _redis_url_parses(cls, value: str) -> str:
        RedisTarget.parse(value)
        return value

    @field_validator("redis_sentinels")
    @classmethod
    def _sentinels_parse(cls, value: str) -> str:
        parse_nodes(value, 26379)
        return value

    def redis_target(self) -> RedisTarget:
        tls: dict[str, Any] = {
            "ca_file": self.redis_tls_ca_file,
            "cert_file": self.redis_tls_cert_file,
            "key_file": self.redis_tls_key_file,
            "check_hostname": self.redis_tls_check_hostname,
            "sentinel_password": self.redis_sentinel_password.get_secret_value()
            if self.redis_sentinel_password
            else None,
        }
        password = self.redis_password.get_secret_value() if self.redis_password else None
        if self.redis_sentinels:
            return RedisTarget(
                sentinels=parse_nodes(self.redis_sentinels, 26379),
                master=self.redis_sentinel_master,
                db=self.redis_db,
                password=password,
                tls=self.redis_tls,
                **tls,
            )
        target = RedisTarget.parse(self.redis_url, password=password, **tls)
        return replace(target, tls=True) if self.redis_tls and not target.tls else target


class HttpServiceSettings(BaseServiceSettings):
    """Where an HTTP service listens. Each service sets its own default port."""

    host: str = Field("127.0.0.1", description="Address an HTTP service listens on.")
    port: int = Field(
        8000, description="Port an HTTP service listens on (auth 8001, api 8000, monitor 8002, console 8080)."
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="Proxies (addresses or CIDRs, comma list) whose X-Forwarded-For gives the client "
        "address; set it to the ingress controller's pod network. `*` is refused in production.",
    )
    http_max_body_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="Largest request body accepted (413 beyond), unless a route says more.",
    )

    @model_validator(mode="after")
    def _no_wildcard_proxies_in_production(self) -> HttpServiceSettings:
        if self.environment is Environment.PRODUCTION and "*" in self.forwarded_allow_ips:
            raise ValueError(
                "JOBYARD_FORWARDED_ALLOW_IPS='*' lets any client choose its own address (and dodge the "
                "login throttle); list the ingress controller's addresses or CIDRs"
            )
        return self


class TokenVerificationSettings(HttpServiceSettings):
    """What a service needs to verify callers: the auth service's JWKS and API-key check."""

    auth_url: str = Field(
        "http://127.0.0.1:8001", description="Base URL of the auth service (API-key checks)."
    )
    auth_jwks_url: str = Field(
        "http://127.0.0.1:8001/.well-known/jwks.json",
        description="JWKS URL access tokens are verified against.",
    )
    jwt_issuer: str = Field("jobyard-auth", description="Expected `iss` of access tokens.")
    jwt_audience: str = Field("jobyard", description="Expected `aud` of access tokens.")
    jwks_cache_seconds: int = Field(
        300, ge=0, description="How long a fetched JWKS is trusted before it is fetched again."
    )
    api_key_cache_seconds: int = Field(
        30, ge=0, description="How long a verified API key is cached (revocation delay)."
    )
    rights_cache_seconds: float = Field(
        1.0,
        ge=0,
        le=60,
        description="How long a caller's current role and activation are cached: a demotion or "
        "deactivation reaches this service within it.",
    )


class AuditSettings(BaseServiceSettings):
    """The audit trail every service that records security events shares."""

    audit_retention_days: int = Field(
        365, ge=1, le=3650, description="How long audit events are kept (sign-ins, role changes, keys...)."
    )


class TaskRightsSettings(BaseServiceSettings):
    """What an owner's role allows of recurring work: checked when a task is made or changed
    (api), when it fires (scheduler), and when its owner is demoted (auth)."""

    task_min_cron_interval_seconds: int = Field(
        60, ge=1, description="Shortest interval between two runs of a user's recurring task."
    )
    task_min_cron_interval_seconds_admin: int = Field(
        1, ge=1, description="Shortest interval between two runs of an admin's recurring task."
    )


class EgressSettings(AuditSettings):
    """Where outbound requests that users aim (tasks, webhooks, feeds) may go (refusals are audited)."""

    egress_allowed_hosts: str = Field(
        "",
        description="Exceptions to the public-addresses-only rule for outbound calls (http tasks, webhooks, "
        "notifyUrl, feeds): comma list of host names, addresses or CIDRs, each optionally :port.",
    )
    egress_max_response_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="Most bytes read from the answer to an http task, webhook or notify call.",
    )
    egress_timeout_seconds: float = Field(
        30,
        gt=0,
        le=3600,
        description="Longest an http task, webhook or notify call may take, redirects included.",
    )

    @field_validator("egress_allowed_hosts")
    @classmethod
    def _parses(cls, value: str) -> str:
        EgressPolicy.parse(value)  # a bad entry is a one-line error naming the setting
        return value

    def egress_policy(self, **limits: float) -> EgressPolicy:
        return EgressPolicy.parse(
            self.egress_allowed_hosts,
            **{
                "max_bytes": self.egress_max_response_bytes,
                "timeout_seconds": self.egress_timeout_seconds,
                **limits,
            },
        )
