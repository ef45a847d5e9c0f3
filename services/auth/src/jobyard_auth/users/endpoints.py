from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status
from jobyard_libs.documents import Oid
from jobyard_libs.schemas import Page, Pagination, page_of, path_id

from jobyard_auth.deps import AdminPrincipal, ClientIp, CurrentPrincipal, RegisterLimit, Users
from jobyard_auth.sessions.service import AccountDeactivated
from jobyard_auth.users.schemas import RegisterIn, UserOut, UserPatch
from jobyard_auth.users.service import UserNotFound

router = APIRouter(prefix="/auth/v1", tags=["users"])
UserId = Annotated[Oid, path_id("user_id", UserNotFound)]


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
async def change_user(user_id: UserId, body: UserPatch, _: AdminPrincipal, users: Users) -> UserOut:
    return UserOut.model_validate(await users.change(user_id, body))
