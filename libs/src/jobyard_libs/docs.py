"""Interactive API docs (Swagger UI, ReDoc) that need no internet.

FastAPI's own pages load their JavaScript and CSS from a CDN and their favicon from
fastapi.tiangolo.com: on an air-gapped machine, or in a cluster without egress, they are
blank. Here the assets come from a pinned package (``fastapi-offline``, in ``uv.lock``,
installed into the image at build time) and the favicon is the project's own; nothing
is fetched from anywhere but the service itself (Swagger UI's online validator is off,
ReDoc's Google fonts too).

Every URL in the pages is relative, and the pages are served both at the root and under
the service's ingress prefix (``/api``, ``/auth``): ``/api/docs`` behind the ingress loads
``/api/docs-assets/...`` and ``/api/openapi.json``, ``/docs`` on the pod loads
``/docs-assets/...`` and ``/openapi.json``.

Usage
-----

::

    install_docs(app, title="Jobyard API", prefix="/api")
    # → GET /docs, /redoc, /openapi.json, /docs-assets/swagger-ui-bundle.js (and the same under /api)
"""

from __future__ import annotations

import functools
import html
from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

ASSET_PACKAGE = "fastapi_offline"
ASSETS = {  # what a docs page may load: name → (package that holds it in static/, media type)
    "swagger-ui-bundle.js": (ASSET_PACKAGE, "text/javascript"),
    "swagger-ui.css": (ASSET_PACKAGE, "text/css"),
    "redoc.standalone.js": (ASSET_PACKAGE, "text/javascript"),
    "swagger-init.js": ("jobyard_libs", "text/javascript"),
    "favicon.svg": ("jobyard_libs", "image/svg+xml"),
}
CACHE = "public, max-age=86400"
# ReDoc's side menu shows a logo from its CDN, whatever the options: it gets ours instead.
PATCHES = {"redoc.standalone.js": [(b"https://cdn.redoc.ly/redoc/logo-mini.svg", b"docs-assets/favicon.svg")]}
# No script but the service's own files; the viewers inject styles and ReDoc runs a worker.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'"
)
SWAGGER_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="stylesheet" href="docs-assets/swagger-ui.css">
<link rel="icon" href="docs-assets/favicon.svg" type="image/svg+xml"></head>
<body><div id="swagger-ui" data-openapi="openapi.json"></div>
<script src="docs-assets/swagger-ui-bundle.js"></script><script src="docs-assets/swagger-init.js"></script>
</body></html>"""
REDOC_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="icon" href="docs-assets/favicon.svg" type="image/svg+xml"></head>
<body><redoc spec-url="openapi.json"></redoc><script src="docs-assets/redoc.standalone.js"></script>
</body></html>"""


def _asset_path(name: str) -> Path:
    package, _ = ASSETS[name]
    return Path(str(resources.files(package) / "static" / name))


@functools.cache
def _patched(name: str) -> bytes:
    data = _asset_path(name).read_bytes()
    for old, new in PATCHES[name]:
        if old not in data:
            raise RuntimeError(f"{name} changed: {old!r} is gone; review the docs assets' patches")
        data = data.replace(old, new)
    return data


def install_docs(app: FastAPI, *, title: str, prefix: str = "") -> None:
    """Serve the OpenAPI document and its two viewers at the root and under ``prefix``."""
    for base in dict.fromkeys(["", prefix.rstrip("/")]):
        _routes(app, title, base)


def _page(template: str, title: str) -> HTMLResponse:
    return HTMLResponse(
        template.format(title=html.escape(title)), headers={"Content-Security-Policy": DOCS_CSP}
    )


def _routes(app: FastAPI, title: str, base: str) -> None:
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    async def swagger() -> HTMLResponse:
        return _page(SWAGGER_PAGE, f"{title} — docs")

    async def redoc() -> HTMLResponse:
        return _page(REDOC_PAGE, f"{title} — reference")

    async def asset(name: str) -> Response:
        if name not in ASSETS:
            return JSONResponse(
                {"error": {"code": "not_found", "message": "no such asset", "field": None}}, 404
            )
        headers = {"Cache-Control": CACHE}
        if name in PATCHES:
            return Response(_patched(name), media_type=ASSETS[name][1], headers=headers)
        return FileResponse(_asset_path(name), media_type=ASSETS[name][1], headers=headers)

    app.add_api_route(f"{base}/openapi.json", openapi, include_in_schema=False)
    app.add_api_route(f"{base}/docs", swagger, include_in_schema=False)
    app.add_api_route(f"{base}/redoc", redoc, include_in_schema=False)
    app.add_api_route(f"{base}/docs-assets/{{name}}", asset, include_in_schema=False)
