"""Feeds on the internet, stood in for by a loopback HTTP server the test scripts."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
# The feeds (and webhook receivers) stand for the public internet: they listen on
# 127.0.0.2, which the tests' egress allowlist names. 127.0.0.1 stands for the cluster's
# inside (the services, Redis, MongoDB), which outbound calls must never reach.
PUBLIC_STAND_IN = "127.0.0.2"


@dataclass
class Route:
    body: bytes
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    content_type: str = "application/rss+xml; charset=utf-8"
    fail_first: int = 0  # answer 503 this many times first
    delay_seconds: float = 0
    redirect_to: str | None = None
    repeat: int = 1  # the body sent this many times over: a huge answer without holding it
    hold: threading.Event | None = None  # answer only once it is set (a call that lasts until the test says)
    headers: dict[str, str] | None = None  # more headers to answer with (Content-Encoding...)


class FeedServer:
    def __init__(self, host: str = PUBLIC_STAND_IN) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.conditional_hits: Counter[str] = Counter()
        self.bodies: dict[str, bytes] = {}
        self.request_headers: dict[str, dict[str, str]] = {}
        self.sent: Counter[str] = Counter()  # bytes of body written before the client hung up
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # webhooks and notifications: read the body, answer as GET does
                length = int(self.headers.get("Content-Length") or 0)
                outer.bodies[self.path] = self.rfile.read(length)
                outer.request_headers[self.path] = dict(self.headers)
                self.do_GET()

            def do_GET(self) -> None:
                outer.hits[self.path] += 1
                outer.request_headers.setdefault(self.path, dict(self.headers))
                route = outer.routes.get(self.path)
                if route is None:
                    self._answer(404, b"not found", "text/plain")
                    return
                if route.delay_seconds:
                    time.sleep(route.delay_seconds)
                if route.hold is not None:
                    route.hold.wait(120)
                if route.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", route.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if route.fail_first > 0:
                    route.fail_first -= 1
                    self._answer(503, b"try later", "text/plain")
                    return
                tag = self.headers.get("If-None-Match")
                if tag is not None:
                    outer.conditional_hits[self.path] += 1
                if route.etag and tag == route.etag:
                    self.send_response(304)
                    self.send_header("ETag", route.etag)
                    self.end_headers()
                    return
                headers = {"ETag": route.etag, "Last-Modified": route.last_modified, **(route.headers or {})}
                self._answer(route.status, route.body, route.content_type, headers, repeat=route.repeat)

            def _answer(
                self,
                status: int,
                body: bytes,
                content_type: str,
                headers: dict[str, str | None] | None = None,
                repeat: int = 1,
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body) * repeat))
                for name, value in (headers or {}).items():
                    if value:
                        self.send_header(name, value)
                self.end_headers()
                try:
                    for _ in range(repeat):
                        self.wfile.write(body)
                        outer.sent[self.path] += len(body)
                except (BrokenPipeError, ConnectionResetError):
                    return

            def log_message(self, *_: Any) -> None:
                return

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.port = self.server.server_address[1]
        self.base_url = f"http://{host}:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def serve(
        self, path: str, body: bytes | None = None, *, fixture: str | None = None, **options: Any
    ) -> str:
        """Serve ``body`` (or a fixture file) at ``path``; returns its URL."""
        content = body if body is not None else (FIXTURES / str(fixture)).read_bytes()
        self.routes[path] = Route(content, **options)
        return self.base_url + path

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
