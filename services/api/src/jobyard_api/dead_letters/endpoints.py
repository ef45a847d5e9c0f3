from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response, status
from jobyard_libs.documents import Oid
from jobyard_libs.schemas import Page, Pagination, page_of, path_id
from jobyard_libs.tasks.replies import DeadLetterOut, ExecutionOut

from jobyard_api.deps import CurrentPrincipal, DeadLetters, Executions

router = APIRouter(prefix="/api/v1/dead-letters", tags=["dead letters"])
DeadLetterId = Annotated[Oid, path_id("dead_id")]


@router.get("")
async def list_dead_letters(
    principal: CurrentPrincipal, dead_letters: DeadLetters, page: Pagination
) -> Page[DeadLetterOut]:
    """Executions that exhausted their retries (the caller's; an admin's: everyone's), newest first."""
    return page_of(await dead_letters.page(principal, page.window), page, DeadLetterOut.model_validate)


@router.get("/{dead_id}")
async def get_dead_letter(
    dead_id: DeadLetterId, principal: CurrentPrincipal, dead_letters: DeadLetters
) -> DeadLetterOut:
    return DeadLetterOut.model_validate(await dead_letters.get(dead_id, principal))


@router.post("/{dead_id}/replay", status_code=status.HTTP_202_ACCEPTED)
async def replay_dead_letter(
    dead_id: DeadLetterId, principal: CurrentPrincipal, dead_letters: DeadLetters, executions: Executions
) -> ExecutionOut:
    """Run its execution again with a fresh retry budget; the dead letter is spent."""
    return executions.view(await dead_letters.replay(dead_id, principal), principal)


@router.delete("/{dead_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_dead_letter(
    dead_id: DeadLetterId, principal: CurrentPrincipal, dead_letters: DeadLetters
) -> Response:
    await dead_letters.discard(dead_id, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
