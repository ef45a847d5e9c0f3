from __future__ import annotations

from typing import Any

import httpx

PASSWORD = "correct horse battery"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register(
    client: httpx.AsyncClient, email: str = "ann@example.com", password: str = PASSWORD, name: str = "Ann"
) -> dict[str, Any]:
    response = await client.post(
        "/auth/v1/register", json={"email": email, "password": password, "name": name}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def login(
    client: httpx.AsyncClient, email: str = "ann@example.com", password: str = PASSWORD
) -> dict[str, Any]:
    response = await client.post("/auth/v1/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def signed_up(client: httpx.AsyncClient, email: str = "ann@example.com") -> dict[str, Any]:
    """Register and log in; the login's token pair."""
    await register(client, email)
    return await login(client, email)
