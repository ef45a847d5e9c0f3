"""Dead letters: executions that exhausted their retries, to inspect, replay or discard."""

from __future__ import annotations

from jobyard_libs.auth import Principal
from jobyard_libs.documents import Oid
from jobyard_libs.errors import Conflict, NotFoundError, found
from jobyard_libs.listing import Slice, Window
from jobyard_libs.mongo import Database
from jobyard_libs.tasks.documents import DeadLetter, Execution
from jobyard_libs.tasks.outcomes import Outcomes
from jobyard_libs.tasks.repository import DeadLetterRepository, ExecutionRepository

from jobyard_api.audit.service import AuditService


class DeadLetterNotFound(NotFoundError):
    message = "dead letter not found"


class DeadLetterService:
    def __init__(self, db: Database, outcomes: Outcomes, audit: AuditService) -> None:
        self.audit = audit
        self.dead_letters = DeadLetterRepository(db)
        self.executions = ExecutionRepository(db)
        self.outcomes = outcomes

    async def page(self, principal: Principal, window: Window) -> Slice[DeadLetter]:
        return await self.dead_letters.page(principal.scope, window)

    async def get(self, dead_id: Oid, principal: Principal) -> DeadLetter:
        return found(await self.dead_letters.get(dead_id, principal.scope), DeadLetterNotFound)

    async def replay(self, dead_id: Oid, principal: Principal) -> Execution:
        """Run the dead execution again from its first attempt; the dead letter is spent."""
        letter = await self.get(dead_id, principal)
        await self.audit.on_others_work(
            principal, letter.owner_id, "replay", ("execution", str(letter.execution_id))
        )
        dead = await self.executions.get(letter.execution_id, principal.scope)
        replayed = await self.outcomes.replay([dead] if dead is not None else [])
        if not replayed:
            raise Conflict("its execution is no longer dead (replayed already?)")
        return replayed[0]

    async def discard(self, dead_id: Oid, principal: Principal) -> None:
        letter = await self.get(dead_id, principal)
        await self.audit.on_others_work(
            principal, letter.owner_id, "discard", ("execution", str(letter.execution_id))
        )
        await self.dead_letters.delete(letter.id)
