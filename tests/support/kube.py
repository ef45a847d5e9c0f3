"""A Kubernetes API on loopback for operator tests: kmock's KubernetesEmulator, with the
resources the operator uses declared for discovery, and helpers that speak to it over HTTP
the way kubectl would (so watch streams see every change)."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import kmock
from jobyard_operator.resource import GROUP, KIND, PLURAL, VERSION
from jobyard_operator.runner import run_operator
from jobyard_operator.settings import OperatorSettings
from prometheus_client import REGISTRY

from tests.support.waiting import eventually

AUTOSCALERS = f"{GROUP}/{VERSION}/{PLURAL}"
DEPLOYMENTS = "apps/v1/deployments"
NAMESPACE = "jobs"


@dataclass
class Cluster:
    emulator: kmock.KubernetesEmulator
    url: str
    http: aiohttp.ClientSession

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(path, json=body) as response:
            assert response.status < 300, await response.text()
            result: dict[str, Any] = await response.json()
            return result

    async def patch(self, path: str, body: dict[str, Any]) -> None:
        headers = {"Content-Type": "application/merge-patch+json"}
        async with self.http.patch(path, json=body, headers=headers) as response:
            assert response.status < 300, await response.text()

    async def get(self, path: str) -> dict[str, Any]:
        async with self.http.get(path) as response:
            assert response.status == 200, await response.text()
            result: dict[str, Any] = await response.json()
            return result

    async def deployment(self, name: str, replicas: int) -> None:
        await self.create(
            f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments",
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "namespace": NAMESPACE},
                "spec": {"replicas": replicas},
            },
        )

    async def secret(self, name: str, values: dict[str, str]) -> None:
        data = {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}
        await self.create(
            f"/api/v1/namespaces/{NAMESPACE}/secrets",
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name, "namespace": NAMESPACE},
                "data": data,
            },
        )

    async def autoscaler(self, name: str, spec: dict[str, Any]) -> None:
        await self.create(
            f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{PLURAL}",
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": KIND,
                "metadata": {"name": name, "namespace": NAMESPACE},
                "spec": spec,
            },
        )

    def autoscaler_path(self, name: str) -> str:
        return f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{PLURAL}/{name}"

    async def replicas(self, deployment: str) -> int:
        body = await self.get(f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{deployment}")
        return int(body["spec"]["replicas"])

    async def status(self, autoscaler: str) -> dict[str, Any]:
        body = await self.get(self.autoscaler_path(autoscaler))
        status: dict[str, Any] = body.get("status", {})
        return status

    def events(self, reason: str | None = None) -> list[dict[str, Any]]:
        found = [
            obj.raw
            for (resource, _, _), obj in self.emulator.objects.items()
            if resource.plural == "events" and not obj.deleted
        ]
        return [e for e in found if reason is None or e.get("reason") == reason]

    async def event_posted(self, reason: str, containing: str = "", within: float = 10) -> dict[str, Any]:
        """Wait for an event (kopf posts them from a queue, after the status is written)."""
        found: list[dict[str, Any]] = []

        async def posted() -> bool:
            found[:] = [e for e in self.events(reason) if containing in e.get("message", "")]
            return bool(found)

        await eventually(posted, within=within, what=f"a {reason} event")
        return found[0]

    def polls(self, autoscaler: str) -> float:
        """Polls the (in-process) operator made of ``autoscaler``: its Prometheus counter."""
        sample = REGISTRY.get_sample_value(
            "jobyard_autoscaler_polls_total", {"namespace": NAMESPACE, "autoscaler": autoscaler}
        )
        return sample or 0.0

    async def polls_pass(self, autoscaler: str, count: int, within: float = 30) -> None:
        """Wait until the operator has polled ``autoscaler`` ``count`` more times: what it would
        have done in that time, it has done (a signal, not a sleep)."""
        target = self.polls(autoscaler) + count

        async def counted() -> bool:
            return self.polls(autoscaler) >= target

        await eventually(counted, within=within, what=f"{count} more polls of {autoscaler}")

    async def replicas_become(self, deployment: str, expected: int, within: float = 10) -> float:
        """Wait until the Deployment has ``expected`` replicas; the monotonic time it was seen."""

        async def reached() -> bool:
            return await self.replicas(deployment) == expected

        await eventually(reached, within=within, what=f"{deployment} at {expected} replicas")
        return time.monotonic()


class Emulator(kmock.KubernetesEmulator):
    """What kmock 0.8 leaves to the API server, done on create as the API server does:
    ``generateName`` (else every kopf event is named None and all but the first conflict),
    ``uid`` (kopf tells objects apart by it) and ``resourceVersion`` (kopf's patches test it)."""

    async def _handle(self, request: kmock.Request) -> Any:
        meta = request.data.get("metadata") if isinstance(request.data, dict) else None
        if request.method == "POST" and meta is not None:
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = f"{meta['generateName']}{uuid.uuid4().hex[:5]}"
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("resourceVersion", "1")
        return await super()._handle(request)


@asynccontextmanager
async def emulated_cluster() -> AsyncIterator[Cluster]:
    async with Emulator() as emulator, kmock.Server(emulator) as server:
        resources = emulator.resources
        resources[AUTOSCALERS] = kmock.ResourceInfo(
            kind=KIND,
            singular="workerautoscaler",
            namespaced=True,
            subresources={"status"},
            verbs={"get", "list", "watch", "patch", "update"},
        )
        resources[DEPLOYMENTS] = kmock.ResourceInfo(
            kind="Deployment", namespaced=True, subresources={"scale", "status"}, verbs={"get", "patch"}
        )
        # kopf's observers need these discoverable (it watches CRDs to notice new resources)
        resources["v1/namespaces"] = kmock.ResourceInfo(
            kind="Namespace", namespaced=False, verbs={"list", "watch"}
        )
        resources["apiextensions.k8s.io/v1/customresourcedefinitions"] = kmock.ResourceInfo(
            kind="CustomResourceDefinition", namespaced=False, verbs={"list", "watch"}
        )
        resources["v1/secrets"] = kmock.ResourceInfo(kind="Secret", namespaced=True, verbs={"get"})
        resources["v1/events"] = kmock.ResourceInfo(kind="Event", namespaced=True, verbs={"create"})
        url = str(server.url).rstrip("/")
        async with aiohttp.ClientSession(base_url=url) as http:
            yield Cluster(emulator, url, http)


@asynccontextmanager
async def running_operator(cluster: Cluster) -> AsyncIterator[None]:
    settings = OperatorSettings(
        operator_kube_api_url=cluster.url,
        # cluster-wide: kmock 0.8 cannot parse GET /api/v1/namespaces, which a namespaced kopf lists
        operator_namespaces=[],
        operator_standalone=True,
        operator_metrics_port=0,
        operator_health_port=0,
    )
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_operator(settings, stop_flag=stop, ready_flag=ready))
    try:
        await asyncio.wait_for(ready.wait(), 20)
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
