"""The few Kubernetes API calls the operator makes itself (kopf does the watching).

A Deployment's replicas are read and written through its ``scale`` subresource (RBAC:
``deployments/scale`` get+patch), a Redis URL from a Secret key (``secrets`` get), and the
autoscaler's ``status`` subresource is merge-patched.

Usage
-----

::

    async with KubeApi(kopf.ConnectionInfo(server="http://127.0.0.1:8001")) as api:
        await api.scale(namespace="jobs", deployment="worker", replicas=3)
"""

from __future__ import annotations

import base64
import ssl
from types import TracebackType
from typing import Any, Self

import aiohttp
import kopf

from jobyard_operator.resource import GROUP, PLURAL, VERSION

MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


class NotFound(Exception):
    """The named object does not exist (HTTP 404)."""


class KubeApi:
    def __init__(self, connection: kopf.ConnectionInfo, *, timeout_seconds: float = 10) -> None:
        self._connection = connection
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        connection = self._connection
        context: ssl.SSLContext | bool = True
        if connection.insecure:
            context = False
        elif connection.ca_path or connection.ca_data:
            context = ssl.create_default_context(
                cafile=str(connection.ca_path) if connection.ca_path else None,
                cadata=connection.ca_data.decode()
                if isinstance(connection.ca_data, bytes)
                else connection.ca_data,
            )
        self._session = aiohttp.ClientSession(
            base_url=connection.server.rstrip("/") + "/",
            headers=connection.as_http_headers(),
            timeout=self._timeout,
            connector=aiohttp.TCPConnector(ssl=context),
        )
        return self

    async def __aexit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._session is not None:
            await self._session.close()

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        assert self._session is not None, "use KubeApi as an async context manager"
        headers = MERGE_PATCH if method == "PATCH" else None
        async with self._session.request(method, path.lstrip("/"), json=body, headers=headers) as response:
            if response.status == 404:
                raise NotFound(path)
            response.raise_for_status()
            result: dict[str, Any] = await response.json()
            return result

    async def replicas(self, *, namespace: str, deployment: str) -> int:
        scale = await self._call(
            "GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/{deployment}/scale"
        )
        return int(scale.get("spec", {}).get("replicas") or 0)

    async def scale(self, *, namespace: str, deployment: str, replicas: int) -> None:
        await self._call(
            "PATCH",
            f"/apis/apps/v1/namespaces/{namespace}/deployments/{deployment}/scale",
            {"spec": {"replicas": replicas}},
        )

    async def secret_value(self, *, namespace: str, name: str, key: str) -> str:
        secret = await self._call("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
        if key not in secret.get("data", {}):
            raise NotFound(f"key {key!r} in secret {name!r}")
        return base64.b64decode(secret["data"][key]).decode()

    async def patch_status(self, *, namespace: str, name: str, status: dict[str, Any]) -> None:
        await self._call(
            "PATCH",
            f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}/status",
            {"status": status},
        )
