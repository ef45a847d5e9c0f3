"""Users: registration, look-ups, the admin's changes, the sign-in lock, Google identities.

An admin's change takes effect everywhere at once: the rights mirror is republished, a
deactivation revokes the user's sessions and API keys and suspends their work, a
reactivation resumes exactly what the deactivation paused, and a demotion pauses the
recurring work the new role may not run (:mod:`jobyard_libs.tasks.rights`). Every change
is audited.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from dramatiq import Broker
from jobyard_libs.app import Resources
from jobyard_libs.audit import AuditAction, AuditLog
from jobyard_libs.auth import Principal, Role
from jobyard_libs.documents import Oid, parse_id
from jobyard_libs.errors import Conflict, NotFoundError, ValidationFailed, found
from jobyard_libs.listing import Slice, Window
from jobyard_libs.principals import PrincipalDirectory, PrincipalState
from jobyard_libs.tasks.lifecycle import ExecutionEffects, ExecutionLifecycle
from jobyard_libs.tasks.rights import CronFloors, OwnerWork, WorkChange

from jobyard_auth.passwords import PasswordWork, needs_rehash, policy_violation
from jobyard_auth.settings import AuthSettings
from jobyard_auth.users.documents import User
from jobyard_auth.users.repository import EmailTaken, IdentityTaken, UserRepository
from jobyard_auth.users.schemas import UserPatch

log = structlog.get_logger(__name__)


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


class GoogleIdentityMismatch(Conflict):
    code = "google_identity_mismatch"
    message = (
        "this account is linked to another Google identity: sign in with that one, or sign in with your "
        "password and link this one from your account"
    )


class GoogleIdentityTaken(Conflict):
    code, message = "google_identity_taken", "this Google identity is linked to another account"


Revoke = Callable[[Oid], Awaitable[int]]


def user_service(settings: AuthSettings, resources: Resources, broker: Broker) -> UserService:
    """The users service on these clients: its audit trail, and what it changes of users' work."""
    lifecycle = ExecutionLifecycle(resources.db, ExecutionEffects.of(resources.events, broker))
    return UserService(
        UserRepository(resources.db),
        PasswordWork(concurrency=settings.password_hash_concurrency, backlog=settings.password_hash_backlog),
        PrincipalDirectory(resources.redis, resources.keys),
        work=OwnerWork(resources.db, lifecycle, CronFloors.of(settings)),
        audit=AuditLog(resources.db, retention_days=settings.audit_retention_days),
        max_consecutive_failures=settings.login_max_consecutive_failures,
    )


class UserService:
    def __init__(
        self,
        repository: UserRepository,
        passwords: PasswordWork,
        rights: PrincipalDirectory,
        *,
        work: OwnerWork,
        audit: AuditLog,
        max_consecutive_failures: int,
    ) -> None:
        self.repository = repository
        self.passwords = passwords
        self.rights = rights
        self.work = work
        self.audit = audit
        self.max_consecutive_failures = max_consecutive_failures
        # what a deactivation (or "sign out everywhere") revokes: sessions, API keys
        self.revokers: list[Revoke] = []

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

    async def key_revoked(self, key_id: str) -> bool:
        """Here keys are looked up in MongoDB on every use: a revoked one is refused there."""
        return False

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
        await self.audit.record(AuditAction.REGISTERED, actor_id=str(user.id), target=("user", str(user.id)))
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

    # --- an admin's changes -----------------------------------------------------------

    async def change(self, user_id: Oid, patch: UserPatch, actor: Principal) -> tuple[User, WorkChange]:
        """Apply an admin's change and what follows from it; what it did to the user's work."""
        user = await self.get(user_id)
        role = patch.role or user.role
        active = user.active if patch.active is None else patch.active
        loses_admin = user.role is Role.ADMIN and user.active and (role is not Role.ADMIN or not active)
        if loses_admin and await self.repository.count_active_admins() <= 1:
            raise LastAdmin()
        target = ("user", str(user.id))
        if patch.sign_in_locked is False and user.sign_in_locked:
            user = found(await self.repository.clear_failed_sign_ins(user.id), UserNotFound)
            await self.audit.record(AuditAction.SIGN_IN_UNLOCKED, actor=actor, target=target)
        if (role, active) == (user.role, user.active):
            return user, WorkChange()
        updated = found(await self.repository.set_rights(user.id, role=role, active=active), UserNotFound)
        await self.publish_rights(updated)  # every service sees the change within a second
        owner = str(updated.id)
        work = WorkChange()
        if user.active and not active:
            await self.revoke_everything(updated.id)
            work = await self.work.suspend(owner)
        elif active and not user.active:
            work = await self.work.resume(owner)
        elif user.role is Role.ADMIN and role is not Role.ADMIN:
            work = await self.work.recheck(owner, role)
        if user.role is not role:
            await self.audit.record(
                AuditAction.ROLE_CHANGED,
                actor=actor,
                target=target,
                before=user.role.value,
                after=role.value,
                paused_tasks=work.paused_tasks or None,
            )
        if user.active is not active:
            await self.audit.record(
                AuditAction.ACTIVATION_CHANGED,
                actor=actor,
                target=target,
                active=active,
                paused_tasks=work.paused_tasks,
                cancelled_executions=work.cancelled_executions,
                resumed_tasks=work.resumed_tasks,
            )
        return updated, work

    async def revoke_everything(self, user_id: Oid) -> int:
        """Every session and API key of the user ends now; how many."""
        return sum([await revoke(user_id) for revoke in self.revokers])

    async def ensure_admin(self, user: User) -> None:
        """Bootstrap: the configured first admin is an active admin (whatever it was)."""
        if user.role is not Role.ADMIN or not user.active:
            promoted = await self.repository.set_rights(user.id, role=Role.ADMIN, active=True)
            if promoted is not None:
                await self.publish_rights(promoted)

    async def sign_out_everywhere(self, user_id: Oid, actor: Principal) -> None:
        """The user's own "sign out everywhere", or an admin's for them."""
        user = await self.get(user_id)
        revoked = await self.revoke_everything(user.id)
        await self.audit.record(
            AuditAction.SESSIONS_REVOKED, actor=actor, target=("user", str(user.id)), revoked=revoked
        )

    # --- the sign-in lock (NIST SP 800-63B 5.2.2) --------------------------------------

    async def sign_in_failed(self, user: User) -> None:
        """One more consecutive failure; at the cap, the password alone no longer signs in."""
        counted = await self.repository.count_failed_sign_in(user.id)
        if counted is None or counted.failed_sign_ins < self.max_consecutive_failures:
            return
        if await self.repository.lock_sign_in(user.id) is not None:
            log.warning("sign_in_locked", user_id=str(user.id), failures=counted.failed_sign_ins)
            await self.audit.record(
                AuditAction.SIGN_IN_LOCKED,
                actor_id=str(user.id),
                target=("user", str(user.id)),
                failures=counted.failed_sign_ins,
            )

    async def sign_in_succeeded(self, user: User, password: str | None = None) -> None:
        """``password``: the one just verified, hashed again when its hash's argon2 parameters
        are not today's (the only moment the plain password is at hand)."""
        if user.failed_sign_ins:
            await self.repository.clear_failed_sign_ins(user.id)
        if password is not None and user.password_hash and needs_rehash(user.password_hash):
            upgraded = await self.passwords.hash(password)
            if await self.repository.replace_password_hash(user.id, user.password_hash, upgraded):
                log.info("password_rehashed", user_id=str(user.id))

    # --- Google identities --------------------------------------------------------------

    async def create_or_link_google(
        self, *, sub: str, email: str, name: str, password: str | None = None
    ) -> User:
        """The user of this Google account: known by its subject, linked, or new.

        An account holds one Google identity: a sign-in whose ``sub`` differs from the one
        linked (a recycled Workspace address, a lapsed domain: the same email, someone else)
        is refused. Linking to an account by email needs that email verified, or the
        account's password: otherwise whoever registered the address first (without owning
        it) would be handed the Google user's account (pre-account hijacking).
        """
        user = await self.repository.by_google_sub(sub)
        if user is not None:
            return user
        user = await self.repository.by_email(email)
        if user is not None:
            target = ("user", str(user.id))
            if user.google_sub:
                await self.audit.record(
                    AuditAction.GOOGLE_LINK_REFUSED,
                    actor_id=str(user.id),
                    target=target,
                    outcome="failure",
                    reason="another Google identity is linked",
                    google_sub=sub,
                )
                log.warning("google_identity_mismatch", user_id=str(user.id))
                raise GoogleIdentityMismatch(field="idToken")
            if not user.email_verified and not (
                password and await self.passwords.verify(password, user.password_hash)
            ):
                raise GoogleLinkNeedsPassword(field="password")
            return await self._link(user, sub, actor=None, email_verified=True)
        try:
            created = await self.repository.insert(
                User(email=email, name=name, role=Role.USER, google_sub=sub, email_verified=True)
            )
        except EmailTaken:  # a concurrent sign-in created it; link to that one
            return await self.create_or_link_google(sub=sub, email=email, name=name, password=password)
        await self.audit.record(
            AuditAction.REGISTERED,
            actor_id=str(created.id),
            target=("user", str(created.id)),
            method="google",
        )
        return created

    async def link_google(self, actor: Principal, sub: str) -> User:
        """The signed-in user consents: this Google identity signs in to their account now."""
        user = await self.of_subject(actor.subject)
        if user.google_sub == sub:
            return user
        return await self._link(user, sub, actor=actor, email_verified=False)

    async def _link(self, user: User, sub: str, *, actor: Principal | None, email_verified: bool) -> User:
        try:
            linked = await self.repository.link_google(user.id, sub, email_verified=email_verified)
        except IdentityTaken as exc:
            raise GoogleIdentityTaken(field="idToken") from exc
        await self.audit.record(
            AuditAction.GOOGLE_LINKED,
            actor=actor,
            actor_id=str(user.id),
            target=("user", str(user.id)),
            google_sub=sub,
            replaced=bool(user.google_sub),
        )
        return linked or user
