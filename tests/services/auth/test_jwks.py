from __future__ import annotations

import httpx
import jwt
from jobyard_auth.app import create_app
from jobyard_auth.keystore import write_new_key
from jobyard_auth.settings import AuthSettings

from tests.services.auth.helpers import bearer, signed_up
from tests.support.asgi import client_for


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

    async with client_for(create_app(auth_settings)) as restarted:  # the new key is in the folder
        kids = {k["kid"] for k in (await restarted.get("/.well-known/jwks.json")).json()["keys"]}
        assert kids == {old_kid, "99991231T000000Z"}
        fresh = (await restarted.post("/auth/v1/refresh", json={"refreshToken": old["refreshToken"]})).json()
        header = jwt.get_unverified_header(fresh["accessToken"])
        assert header["kid"] == "99991231T000000Z"
        assert header["alg"] == "RS256"
        assert (await restarted.get("/auth/v1/me", headers=bearer(fresh["accessToken"]))).status_code == 200
        assert (await restarted.get("/auth/v1/me", headers=bearer(old["accessToken"]))).status_code == 200

    (auth_settings.signing_keys_dir / f"{old_kid}.pem").unlink()  # the old key is retired
    async with client_for(create_app(auth_settings)) as last:
        assert (await last.get("/auth/v1/me", headers=bearer(old["accessToken"]))).status_code == 401
