from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response, status
from jobyard_libs.accounts import UserChanged, UserOut, WorkChangeOut
from jobyard_libs.documents import Oid
from jobyard_libs.schemas import Page, Pagination, page_of, path_id

from jobyard_auth.deps import (
    AdminPrincipal,
    ClientIp,
    CurrentPrincipal,
    PersonPrincipal,
    RegisterLimit,
    Users,
)
from jobyard_auth.sessions.service import AccountDeactivated
from jobyard_auth.users.schemas import RegisterIn, UserPatch

router = APIRouter(prefix="/auth/v1", tags=["users"])
UserId = Annotated[Oid, path_id("user_id")]


@router.post("/register", status_code=status.HTTP_201_CREATED)
async def register(body: RegisterIn, users: Users, ip: ClientIp, limit: RegisterLimit) -> UserOut:
    """Open to anyone, JOBYARD_REGISTER_MAX_PER_HOUR per client address (429 beyond)."""
    await limit.take(ip)
    return UserOut.model_validate(
        await users.register(email=body.email, password=body.password, name=body.name)
    )


@router.get("/me")
async def me(principal: CurrentPrincipal, users: Users) -> UserOut:
    user = await users.of_subject(principal.subject)
    if not user.active:
        raise AccountDeactivated()
    return UserOut.model_validate(user)


@router.get("/users")
async def list_users(_: AdminPrincipal, users: Users, page: Pagination) -> Page[UserOut]:
    return page_of(await users.page(page.window), page, UserOut.model_validate)


@router.get("/users/{user_id}")
async def get_user(user_id: UserId, _: AdminPrincipal, users: Users) -> UserOut:
    return UserOut.model_validate(await users.get(user_id))


@router.patch("/users/{user_id}")
async def change_user(user_id: UserId, body: UserPatch, admin: AdminPrincipal, users: Users) -> UserChanged:
    """Role, activation, or unlocking password sign-in. A deactivation revokes the user's sessions and API
    keys, pauses their delayed and recurring tasks and cancels their queued executions; a reactivation
    resumes what it paused; a demotion pauses recurring tasks the new role may not run. ``work`` says what
    was done."""
    user, work = await users.change(user_id, body, admin)
    return UserChanged(**UserOut.model_validate(user).model_dump(), work=WorkChangeOut.model_validate(work))


@router.post("/users/{user_id}/revoke-sessions", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_users_sessions(user_id: UserId, admin: AdminPrincipal, users: Users) -> Response:
    """Every session and API key of the user ends now."""
    await users.sign_out_everywhere(user_id, admin)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/me/revoke-sessions", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_my_sessions(principal: PersonPrincipal, users: Users) -> Response:
    """Sign out everywhere: every session and API key of yours ends now (this one too)."""
    await users.sign_out_everywhere((await users.of_subject(principal.subject)).id, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
