from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from jobyard_libs.accounts import ApiKeyCreated, ApiKeyOut
from jobyard_libs.auth import INTROSPECT_PATH
from jobyard_libs.documents import Oid
from jobyard_libs.schemas import Page, Pagination, page_of, path_id

from jobyard_auth.api_keys.schemas import ApiKeyIn, IntrospectIn, IntrospectOut
from jobyard_auth.deps import ApiKeys, PersonPrincipal

router = APIRouter(prefix="/auth/v1/api-keys", tags=["api-keys"])
# Service to service: outside /auth, so the ingress (which routes /auth) never exposes it.
internal_router = APIRouter(tags=["internal"])
KeyId = Annotated[Oid, path_id("key_id")]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_api_key(body: ApiKeyIn, principal: PersonPrincipal, keys: ApiKeys) -> ApiKeyCreated:
    """A signed-in person only: an API key cannot create, list or revoke keys (403 key_scope)."""
    return await keys.create(principal, body)


@router.get("")
async def list_api_keys(
    principal: PersonPrincipal,
    keys: ApiKeys,
    page: Pagination,
    all_users: Annotated[bool, Query(alias="all", description="admins: every user's keys")] = False,
) -> Page[ApiKeyOut]:
    everyone = all_users and principal.is_admin
    return page_of(await keys.page(principal, page.window, everyone=everyone), page, ApiKeyOut.model_validate)


@router.delete("/{key_id}")
async def revoke_api_key(key_id: KeyId, principal: PersonPrincipal, keys: ApiKeys) -> ApiKeyOut:
    return ApiKeyOut.model_validate(await keys.revoke(principal, key_id))


@internal_router.post(INTROSPECT_PATH)
async def introspect_api_key(body: IntrospectIn, keys: ApiKeys) -> IntrospectOut:
    """Used by the other services: is this key live, and whose is it?"""
    return await keys.introspect(body.key)
