from __future__ import annotations

from fastapi import APIRouter, Response, status

from jobyard_auth.deps import ClientIp, Sessions
from jobyard_auth.sessions.schemas import GoogleIn, LoginIn, RefreshIn, TokenPair

router = APIRouter(prefix="/auth/v1", tags=["sessions"])


@router.post("/login")
async def login(body: LoginIn, sessions: Sessions, ip: ClientIp) -> TokenPair:
    return await sessions.login(body.email, body.password, ip)


@router.post("/refresh")
async def refresh(body: RefreshIn, sessions: Sessions) -> TokenPair:
    return await sessions.refresh(body.refresh_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshIn, sessions: Sessions) -> Response:
    await sessions.logout(body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/google")
async def google(body: GoogleIn, sessions: Sessions) -> TokenPair:
    return await sessions.login_with_google(body.id_token, body.password)
