"""The monitor: queue depth as Prometheus gauges and JSON, from real Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from jobyard_libs.queue.broker import create_broker
from jobyard_libs.queue.contracts import ActorName, ExecutePayload, Queue
from jobyard_libs.queue.sender import enqueue
from jobyard_monitor.app import create_app
from jobyard_monitor.settings import MonitorSettings
from jobyard_worker.settings import WorkerSettings

from tests.conftest import Isolation
from tests.support.asgi import client_for
from tests.support.auth_service import AuthService
from tests.support.imports import running_worker, settings_for
from tests.support.waiting import eventually


def _point_of(series: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The series' point whose step holds the instant ``at``."""
    step = timedelta(seconds=series["stepSeconds"])
    [point] = [
        p
        for p in series["points"]
        if datetime.fromisoformat(p["at"]) <= at < datetime.fromisoformat(p["at"]) + step
    ]
    return dict(point)


async def _one_worker(app: Any) -> bool:
    return bool((await app.state.depth.refresh()).workers == 1)


async def test_depth_gauges_and_stats(isolation: Isolation, auth: AuthService) -> None:
    settings: MonitorSettings = settings_for(
        isolation,
        MonitorSettings,
        auth_url=auth.url,
        auth_jwks_url=auth.jwks_url,
        monitor_refresh_seconds=3600,
    )
    broker = create_broker(settings)
    try:
        for i in range(3):
            enqueue(
                broker, ActorName.TASK_EXECUTE, ExecutePayload(execution_id=f"e{i}"), queue=Queue.TASKS_HIGH
            )
        enqueue(
            broker,
            ActorName.TASK_EXECUTE,
            ExecutePayload(execution_id="later"),
            queue=Queue.TASKS_HIGH,
            delay_ms=600_000,
        )
    finally:
        broker.close()
    app = create_app(settings)
    async with client_for(app) as monitor:
        await app.state.depth.refresh()  # what the interval does
        metrics = (await monitor.get("/metrics")).text
        assert 'jobyard_queue_messages{queue="tasks.high",state="ready"} 3.0' in metrics
        assert 'jobyard_queue_messages{queue="tasks.high",state="delayed"} 1.0' in metrics
        assert 'jobyard_queue_messages{queue="tasks.high",state="due"} 0.0' in metrics
        assert "jobyard_workers_live 0.0" in metrics  # the broker that enqueued is not a worker
        assert (await monitor.get("/api/v1/stats")).status_code == 401
        watcher = auth.user_headers("watcher@example.com")
        stats: dict[str, Any] = (await monitor.get("/api/v1/stats", headers=watcher)).json()
        # the reading is kept for the charts: the minute's backlog per queue
        # (the point of the refresh's minute: the last one, unless a minute began since)
        refreshed = datetime.fromtimestamp(stats["refreshedAt"], UTC)
        series = (await monitor.get("/api/v1/stats/series", headers=watcher)).json()
        assert series["span"] == "hour" and len(series["points"]) == 60
        assert _point_of(series, refreshed)["depth"]["tasks.high"] == 3
        one = await monitor.get(
            "/api/v1/stats/series", params={"queue": "tasks.high", "span": "day"}, headers=watcher
        )
        assert _point_of(one.json(), refreshed)["depth"] == {"tasks.high": 3}
        for bad, field in (({"queue": "tasks.nope"}, "queue"), ({"span": "week"}, "span")):
            refused = await monitor.get("/api/v1/stats/series", params=bad, headers=watcher)
            assert refused.status_code == 422 and field in refused.text, refused.text
        with running_worker(settings_for(isolation, WorkerSettings, queue_heartbeat_timeout_ms=2000)):
            await eventually(lambda: _one_worker(app), within=10, what="the worker's heartbeat")
    high = next(q for q in stats["queues"] if q["queue"] == "tasks.high")
    assert (high["ready"], high["delayed"], high["backlog"]) == (3, 1, 3)
    assert stats["refreshedAt"] is not None
