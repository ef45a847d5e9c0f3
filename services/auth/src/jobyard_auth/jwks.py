from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from jobyard_auth.deps import Keys

router = APIRouter(tags=["keys"])


@router.get("/.well-known/jwks.json")
@router.get("/auth/.well-known/jwks.json", include_in_schema=False)
async def jwks(keys: Keys, response: Response) -> dict[str, Any]:
    """Public keys that verify access tokens; reachable through the ingress under /auth."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return keys.jwks()
