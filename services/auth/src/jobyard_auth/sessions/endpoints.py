from __future__ import annotations

from fastapi import APIRouter, Response, status
from jobyard_libs.accounts import TokenPair, UserOut

from jobyard_auth.deps import ClientIp, PersonPrincipal, Sessions
from jobyard_auth.sessions.schemas import GoogleIn, GoogleLinkIn, LoginIn, RefreshIn

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
    """Sign in with a Google ID token. An account holds one Google identity: a token of another
    Google account with the same email is refused (409 google_identity_mismatch)."""
    return await sessions.login_with_google(body.id_token, body.password)


@router.post("/me/google")
async def link_google(body: GoogleLinkIn, principal: PersonPrincipal, sessions: Sessions) -> UserOut:
    """Consent, signed in: the Google identity of this ID token signs in to your account from now on
    (replacing one linked before)."""
    return UserOut.model_validate(await sessions.link_google(principal, body.id_token))
