from __future__ import annotations

from fastapi import APIRouter, status
from jobyard_libs.schemas import Page

from jobyard_auth.deps import AdminPrincipal, ClientIp, CurrentPrincipal, Pagination, RegisterLimit, Users
from jobyard_auth.sessions.service import AccountDeactivated
from jobyard_auth.users.schemas import RegisterIn, UserOut, UserPatch
from jobyard_auth.users.service import to_user_out

router = APIRouter(prefix="/auth/v1", tags=["users"])


@router.post("/register", status_code=status.HTTP_201_CREATED)
async def register(body: RegisterIn, users: Users, ip: ClientIp, limit: RegisterLimit) -> UserOut:
    """Open to anyone, JOBYARD_REGISTER_MAX_PER_HOUR per client address (429 beyond)."""
    await limit.take(ip)
    return to_user_out(await users.register(email=body.email, password=body.password, name=body.name))


@router.get("/me")
async def me(principal: CurrentPrincipal, users: Users) -> UserOut:
    user = await users.get(principal.subject)
    if not user["active"]:
        raise AccountDeactivated()
    return to_user_out(user)


@router.get("/users")
async def list_users(_: AdminPrincipal, users: Users, page: Pagination) -> Page[UserOut]:
    items, total = await users.page(page.skip, page.limit)
    return Page(items=[to_user_out(u) for u in items], page=page.page, limit=page.limit, total=total)


@router.get("/users/{user_id}")
async def get_user(user_id: str, _: AdminPrincipal, users: Users) -> UserOut:
    return to_user_out(await users.get(user_id))


@router.patch("/users/{user_id}")
async def change_user(user_id: str, body: UserPatch, _: AdminPrincipal, users: Users) -> UserOut:
    return to_user_out(await users.change(user_id, body))
