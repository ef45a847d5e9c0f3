"""Run the operator: kopf with our registry, peering and probes, and the metrics endpoint."""

from __future__ import annotations

import asyncio
import time

import kopf
from prometheus_client import start_http_server

from jobyard_operator.handlers import Memo, registry
from jobyard_operator.settings import OperatorSettings


async def run_operator(
    settings: OperatorSettings,
    *,
    stop_flag: asyncio.Event | None = None,
    ready_flag: asyncio.Event | None = None,
    priority: int | None = None,
) -> None:
    """Until ``stop_flag`` is set (or a signal arrives, in the main thread).

    ``priority`` defaults to the start time: the newest replica acts, older ones stand by.
    """
    memo = Memo(settings=settings)
    health = settings.operator_health_port
    await kopf.operator(
        registry=registry,
        memo=memo,
        clusterwide=not settings.operator_namespaces,
        namespaces=settings.operator_namespaces,
        standalone=settings.operator_standalone,
        # naming a peering makes it mandatory, which a standalone operator must not wait for
        peering_name=None if settings.operator_standalone else settings.operator_peering_name,
        priority=priority if priority is not None else int(time.time()),
        liveness_endpoint=f"http://0.0.0.0:{health}/healthz" if health else None,
        stop_flag=stop_flag,
        ready_flag=ready_flag,
    )


def serve_metrics(settings: OperatorSettings) -> None:
    if settings.operator_metrics_port:
        start_http_server(settings.operator_metrics_port)
