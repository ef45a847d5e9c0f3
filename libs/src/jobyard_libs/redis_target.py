"""Where Redis is: a URL (``redis://``, ``rediss://``) or Sentinel nodes and a master name.

Examples
--------
>>> RedisTarget.parse("redis+sentinel://:s3cret@s1:26379,s2:26379/mymaster/0").sentinels
(('s1', 26379), ('s2', 26379))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

SENTINEL_SCHEME = "redis+sentinel"


def _host_port(text: str, default_port: int) -> tuple[str, int]:
    text = text.strip()
    if text.startswith("["):  # [v6]:port
        host, _, rest = text[1:].partition("]")
        return host, int(rest.lstrip(":") or default_port)
    host, _, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
    return (host, int(port)) if port else (text, default_port)


def parse_nodes(text: str, default_port: int) -> tuple[tuple[str, int], ...]:
    """``host:port`` nodes from a comma list; a ``ValueError`` naming a bad one."""
    nodes = []
    for node in (n for n in text.split(",") if n.strip()):
        try:
            nodes.append(_host_port(node, default_port))
        except ValueError as exc:
            raise ValueError(f"not a host:port: {node.strip()!r}") from exc
    return tuple(nodes)


@dataclass(frozen=True)
class RedisTarget:
    """Where Redis is and how to talk to it: a URL, or Sentinel."""

    url: str | None = None
    sentinels: tuple[tuple[str, int], ...] = ()
    master: str = "mymaster"
    db: int = 0
    password: str | None = None
    username: str | None = None
    sentinel_password: str | None = None
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    check_hostname: bool = True

    @property
    def description(self) -> str:
        """For logs and errors: never the password."""
        if self.sentinels:
            nodes = ",".join(f"{h}:{p}" for h, p in self.sentinels)
            return f"sentinel {nodes} master {self.master!r} db {self.db}"
        parts = urlsplit(self.url or "")
        return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"

    @classmethod
    def parse(cls, url: str, **extra: Any) -> RedisTarget:
        """A ``redis://``, ``rediss://`` or ``redis+sentinel://`` URL (``extra``: TLS files...)."""
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss", "unix", SENTINEL_SCHEME):
            raise ValueError(
                f"not a Redis URL: {parts.scheme}:// (use redis://, rediss:// or {SENTINEL_SCHEME}://)"
            )
        if parts.scheme != SENTINEL_SCHEME:
            if extra.get("password") is None:
                extra.pop("password", None)
            return cls(url=url, tls=parts.scheme == "rediss", **extra)
        sentinels = parse_nodes(parts.netloc.rpartition("@")[2], 26379)
        if not sentinels:
            raise ValueError(f"{SENTINEL_SCHEME}:// needs at least one host:port")
        path = [p for p in parts.path.split("/") if p]
        password = extra.pop("password", None) or (unquote(parts.password) if parts.password else None)
        return cls(
            sentinels=sentinels,
            master=path[0] if path else "mymaster",
            db=int(path[1]) if len(path) > 1 else 0,
            password=password,
            **extra,
        )
