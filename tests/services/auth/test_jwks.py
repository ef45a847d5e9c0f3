from __future__ import annotations

import httpx
import jwt
from jobyard_auth.app import create_app
from jobyard_auth.keystore import write_new_key
from jobyard_auth.settings import AuthSettings

from tests.services.auth.helpers import bearer, signed_up


async def test_jwks_publishes_public_keys_only(client: httpx.AsyncClient) -> None:
    for path in ("/.well-known/jwks.json", "/auth/.well-known/jwks.json"):
        keys = (await client.get(path)).json()["keys"]
        assert len(keys) == 1
        assert keys[0]["kty"] == "OKP" and keys[0]["alg"] == "EdDSA" and keys[0]["use"] == "sig"
        assert "d" not in keys[0]


async def test_rotation_new_kid_signs_old_still_verifies(
    client: httpx.AsyncClient, auth_settings: AuthSettings
) -> None:
    old = await signed_up(client)
    old_kid = jwt.get_unverified_header(old["accessToken"])["kid"]
    write_new_key(auth_settings.signing_keys_dir, "99991231T000000Z", algorithm="RS256")

    rotated = create_app(auth_settings)  # a restart with the new key in the folder
    async with rotated.router.lifespan_context(rotated):
        transport = httpx.ASGITransport(app=rotated)
        async with httpx.AsyncClient(transport=transport, base_url="http://auth") as new_client:
            kids = {k["kid"] for k in (await new_client.get("/.well-known/jwks.json")).json()["keys"]}
            assert kids == {old_kid, "99991231T000000Z"}
            fresh = (
                await new_client.post("/auth/v1/refresh", json={"refreshToken": old["refreshToken"]})
            ).json()
            header = jwt.get_unverified_header(fresh["accessToken"])
            assert header["kid"] == "99991231T000000Z" and header["alg"] == "RS256"
            assert (
                await new_client.get("/auth/v1/me", headers=bearer(fresh["accessToken"]))
            ).status_code == 200
            assert (
                await new_client.get("/auth/v1/me", headers=bearer(old["accessToken"]))
            ).status_code == 200

    (auth_settings.signing_keys_dir / f"{old_kid}.pem").unlink()  # the old key is retired
    retired = create_app(auth_settings)
    async with retired.router.lifespan_context(retired):
        transport = httpx.ASGITransport(app=retired)
        async with httpx.AsyncClient(transport=transport, base_url="http://auth") as last:
            assert (await last.get("/auth/v1/me", headers=bearer(old["accessToken"]))).status_code == 401
