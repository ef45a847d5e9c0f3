"""Users: registration, look-ups, and the admin's role and activation changes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from jobyard_libs.auth import Role
from jobyard_libs.documents import Oid, parse_id
from jobyard_libs.errors import Conflict, NotFoundError, ValidationFailed, found
from jobyard_libs.listing import Slice, Window
from jobyard_libs.principals import PrincipalDirectory, PrincipalState

from jobyard_auth.passwords import PasswordWork, policy_violation
from jobyard_auth.users.documents import User
from jobyard_auth.users.repository import EmailTaken, UserRepository
from jobyard_auth.users.schemas import UserPatch


class UserNotFound(NotFoundError):
    message = "user not found"


class EmailAlreadyRegistered(Conflict):
    code, message = "email_taken", "this email is registered already"


class LastAdmin(Conflict):
    code, message = "last_admin", "the last active admin cannot be demoted or deactivated"


class GoogleLinkNeedsPassword(Conflict):
    code = "link_needs_password"
    message = (
        "an account with this email exists and its email was never verified: sign in with Google "
        "again sending its password to link them"
    )


RevokeSessions = Callable[[Oid], Awaitable[object]]


class UserService:
    def __init__(
        self, repository: UserRepository, passwords: PasswordWork, rights: PrincipalDirectory
    ) -> None:
        self.repository = repository
        self.passwords = passwords
        self.rights = rights
        self.on_deactivated: RevokeSessions | None = None

    async def publish_rights(self, user: User) -> None:
        """Mirror the user's current role and activation for every other service."""
        await self.rights.publish(str(user.id), user.role, active=user.active)

    async def state(self, subject: str) -> PrincipalState:
        """The auth service's own view of a caller's rights: MongoDB, read on every request."""
        oid = parse_id(subject)
        user = await self.repository.by_id(oid) if oid else None
        if user is None:
            return PrincipalState(Role.USER, active=False)
        return PrincipalState(user.role, user.active)

    async def register(self, *, email: str, password: str, name: str, role: Role = Role.USER) -> User:
        violation = policy_violation(password, email)
        if violation:
            raise ValidationFailed(violation, field="password")
        try:
            user = await self.repository.insert(
                User(
                    email=email,
                    name=name.strip(),
                    password_hash=await self.passwords.hash(password),
                    role=role,
                )
            )
        except EmailTaken as exc:
            raise EmailAlreadyRegistered(field="email") from exc
        await self.publish_rights(user)
        return user

    async def get(self, user_id: Oid) -> User:
        return found(await self.repository.by_id(user_id), UserNotFound)

    async def of_subject(self, subject: str) -> User:
        """The user a token or key names (its ``sub``)."""
        oid = parse_id(subject)
        return found(await self.repository.by_id(oid) if oid else None, UserNotFound)

    async def by_email(self, email: str) -> User | None:
        return await self.repository.by_email(email.strip().lower())

    async def page(self, window: Window) -> Slice[User]:
        return await self.repository.page(window)

    async def change(self, user_id: Oid, patch: UserPatch) -> User:
        """Apply an admin's change; a deactivated user's sessions are revoked at once."""
        user = await self.get(user_id)
        fields: dict[str, Any] = patch.model_dump(exclude_none=True)
        loses_admin = (
            user.role is Role.ADMIN
            and user.active
            and (fields.get("role", Role.ADMIN) != Role.ADMIN or fields.get("active") is False)
        )
        if loses_admin and await self.repository.count_active_admins() <= 1:
            raise LastAdmin()
        if not fields:
            return user
        updated = found(await self.repository.update(user.id, **fields), UserNotFound)
        await self.publish_rights(updated)  # every service sees the change within a second
        if user.active and not updated.active and self.on_deactivated is not None:
            await self.on_deactivated(updated.id)
        return updated

    async def create_or_link_google(
        self, *, sub: str, email: str, name: str, password: str | None = None
    ) -> User:
        """The user of this Google account: known by its subject, linked, or new.

        Linking to an existing account by email needs that account's email to be verified,
        or its password: otherwise whoever registered the address first (without owning it)
        would be handed the Google user's account (pre-account hijacking).
        """
        user = await self.repository.by_google_sub(sub)
        if user is not None:
            return user
        user = await self.repository.by_email(email)
        if user is not None:
            if not user.email_verified and not (
                password and await self.passwords.verify(password, user.password_hash)
            ):
                raise GoogleLinkNeedsPassword(field="password")
            linked = await self.repository.update(user.id, google_sub=sub, email_verified=True)
            return linked or user
        try:
            return await self.repository.insert(
                User(email=email, name=name, role=Role.USER, google_sub=sub, email_verified=True)
            )
        except EmailTaken:  # a concurrent sign-in created it; link to that one
            return await self.create_or_link_google(sub=sub, email=email, name=name, password=password)
