"""Calls a URL: 2xx is success; the status and a bounded excerpt of the body are the result.

Outbound hosts are limited. With ``JOBYARD_HTTP_TASK_ALLOWED_HOSTS`` set (comma-separated
host names or CIDRs), only those are called. In any case loopback, link-local (which
holds the cloud metadata service, 169.254.169.254) and unspecified addresses are refused
unless the allowlist names them. Every address the host resolves to is checked, and
redirects are not followed (a redirect cannot lead around the check).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

NAME = "http"
EXCERPT_BYTES = 2048
METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data"}


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpUrl
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict, max_length=50)
    body: str | None = Field(None, max_length=64 * 1024)


class HostNotAllowed(Exception):
    pass


class HttpCallFailed(Exception):
    pass


def parse_allowlist(value: str) -> list[str | ipaddress.IPv4Network | ipaddress.IPv6Network]:
    entries: list[str | ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for raw in (part.strip() for part in value.split(",")):
        if not raw:
            continue
        try:
            entries.append(ipaddress.ip_network(raw, strict=False))
        except ValueError:
            entries.append(raw.lower())
    return entries


def _allowed_explicitly(
    host: str, addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address], allow: list[Any]
) -> bool:
    names = {e for e in allow if isinstance(e, str)}
    networks = [e for e in allow if not isinstance(e, str)]
    return host in names or (bool(addresses) and all(any(a in n for n in networks) for a in addresses))


async def check_host(url: str, allowlist: str) -> None:
    host = (urlsplit(url).hostname or "").lower()
    allow = parse_allowlist(allowlist)
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if _allowed_explicitly(host, addresses, allow):
        return
    if allow:
        raise HostNotAllowed(f"{host} is not in JOBYARD_HTTP_TASK_ALLOWED_HOSTS")
    risky = [a for a in addresses if a.is_loopback or a.is_link_local or a.is_unspecified or a.is_multicast]
    if risky or host in METADATA_HOSTS:
        raise HostNotAllowed(
            f"{host} resolves to {risky[0] if risky else host}: loopback, link-local and metadata addresses need an explicit allowlist entry"
        )


async def run(context: Any, payload: Payload) -> dict[str, Any]:
    url = str(payload.url)
    await check_host(url, getattr(context.settings, "http_task_allowed_hosts", ""))
    async with httpx.AsyncClient(follow_redirects=False, timeout=30) as client:
        response = await client.request(payload.method, url, headers=payload.headers, content=payload.body)
    excerpt = response.content[:EXCERPT_BYTES].decode("utf-8", "replace")
    if not 200 <= response.status_code < 300:
        raise HttpCallFailed(f"HTTP {response.status_code} from {url}: {excerpt[:200]}")
    return {
        "status": response.status_code,
        "body": excerpt,
        "truncated": len(response.content) > EXCERPT_BYTES,
    }
