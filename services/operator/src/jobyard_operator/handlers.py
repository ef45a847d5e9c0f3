"""The kopf handlers: one daemon per WorkerAutoscaler polls and scales on its interval.

Replicas coordinate through kopf peering: each starts with its start time as priority, so
the newest replica acts and the others stand by (a rolling update hands over; when the
active one dies, its peering record expires and the next one resumes). Two replicas never
both act.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from jobyard_operator import metrics
from jobyard_operator.autoscaler import Autoscaler, EventType
from jobyard_operator.kube import KubeApi
from jobyard_operator.redis_pool import RedisPool
from jobyard_operator.resource import GROUP, PLURAL, VERSION
from jobyard_operator.settings import OperatorSettings

registry = kopf.OperatorRegistry()


class Memo(kopf.Memo):
    """What every handler shares: settings, the API client, the Redis clients."""

    settings: OperatorSettings
    connection: kopf.ConnectionInfo
    api: KubeApi
    redis: RedisPool


def connection_info(settings: OperatorSettings, kopf_settings: kopf.OperatorSettings) -> kopf.ConnectionInfo:
    if settings.operator_kube_api_url:
        return kopf.ConnectionInfo(server=settings.operator_kube_api_url)
    found = kopf.login_with_service_account(settings=kopf_settings) or kopf.login_with_kubeconfig(
        settings=kopf_settings
    )
    if found is None:
        raise kopf.LoginError("no service account, no kubeconfig, and JOBYARD_OPERATOR_KUBE_API_URL unset")
    return found


@kopf.on.startup(registry=registry)
async def start(settings: kopf.OperatorSettings, memo: Memo, **_: Any) -> None:
    settings.posting.level = logging.INFO
    settings.persistence.finalizer = f"{GROUP}/operator"
    settings.peering.stealth = True
    settings.watching.server_timeout = 300
    memo.api = await KubeApi(_connection(memo, settings)).__aenter__()
    memo.redis = RedisPool()


@kopf.on.login(registry=registry)
def login(memo: Memo, settings: kopf.OperatorSettings, **_: Any) -> kopf.ConnectionInfo:
    return _connection(memo, settings)


def _connection(memo: Memo, kopf_settings: kopf.OperatorSettings) -> kopf.ConnectionInfo:
    if "connection" not in memo:
        memo.connection = connection_info(memo.settings, kopf_settings)
    return memo.connection


@kopf.on.cleanup(registry=registry)
async def stop(memo: Memo, **_: Any) -> None:
    await memo.redis.close()
    await memo.api.__aexit__(None, None, None)


@kopf.daemon(GROUP, VERSION, PLURAL, registry=registry, cancellation_timeout=5.0)
async def autoscale(
    stopped: kopf.DaemonStopped,
    spec: kopf.Spec,
    status: kopf.Status,
    name: str,
    namespace: str | None,
    body: kopf.Body,
    memo: Any,
    **_: Any,
) -> None:
    assert namespace is not None, "WorkerAutoscaler is namespaced"

    def post_event(kind: EventType, reason: str, message: str) -> None:
        kopf.event(body, type=kind, reason=reason, message=message)

    scaler = Autoscaler(
        api=memo.api, redis=memo.redis, namespace=namespace, name=name, status=status, post_event=post_event
    )
    try:
        while not stopped:
            interval = await scaler.poll(spec)
            await stopped.wait(interval)
    finally:
        metrics.forget(namespace, name)
