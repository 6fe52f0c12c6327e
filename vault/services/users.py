"""Users, passwords (argon2), sign-in throttling and API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from vault import audit, policy
from vault.core import Vault
from vault.errors import Conflict, Forbidden, Invalid, NotFound
from vault.models import ApiToken, LoginAttempt, Role, Secrecy, User
from vault.services.sessions import require_sign_in_allowed

_hasher = PasswordHasher()
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{2,64}$")
MIN_PASSWORD = 10
WRONG_CREDENTIALS = "wrong username or password"
SYSTEM_USERNAME = "system"
APPROVAL_ROLES = frozenset({Role.ARCHIVIST, Role.LEGAL, Role.MANAGER, Role.ADMIN})
BASELINE_CLEARANCE = Secrecy.INTERNAL


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash to verify against when there is none, so a wrong name costs what a wrong password does.

    Made on first use, not at import: one argon2 hash takes 64 MiB for a moment, which would add to
    the peak memory of every process that imports this module.
    """
    return _hasher.hash("not-a-real-password-0")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid("password", "a password needs at least {min_length} characters",
                      params={"min_length": MIN_PASSWORD})


def parse_role(role: str) -> Role:
    """A role a person may have, or Invalid naming the choices."""
    try:
        role_v = Role(role)
    except ValueError:
        role_v = Role.SYSTEM
    if role_v is Role.SYSTEM:
        raise Invalid("role", "role must be one of admin, archivist, employee, legal, manager")
    return role_v


def parse_clearance(clearance: str) -> Secrecy:
    """A clearance level, or Invalid naming the choices."""
    try:
        return Secrecy(clearance)
    except ValueError:
        raise Invalid("clearance", "clearance must be public, internal, confidential or secret") from None


def needs_approval(role: Role, clearance: Secrecy, *, from_role: Role | None = None,
                   from_clearance: Secrecy | None = None) -> bool:
    """Whether giving this role or clearance (to a new user, or up from what they have) needs a second person.

    Content roles and the admin role (an admin approves) need approval; so does any clearance above
    the baseline, or above what the user has now.
    """
    if role in APPROVAL_ROLES and role is not from_role:
        return True
    floor = BASELINE_CLEARANCE if from_clearance is None else max(from_clearance, BASELINE_CLEARANCE,
                                                                   key=lambda c: c.rank)
    return clearance.rank > floor.rank


def list_users(session: Session, actor: User) -> list[User]:
    """Every account but the system's, by user name (administrators)."""
    policy.require(actor, "user.manage")
    return list(session.scalars(select(User).where(User.role != Role.SYSTEM).order_by(User.username)).all())


def active_admins(session: Session) -> int:
    """How many active administrator accounts there are."""
    return session.scalar(select(func.count()).select_from(User).where(User.role == Role.ADMIN,
                                                                       User.active.is_(True))) or 0


def require_not_last_admin(session: Session, user: User) -> None:
    """Conflict when this user is the last active administrator (nobody could manage users after)."""
    if user.role is Role.ADMIN and user.active and active_admins(session) <= 1:
        raise Conflict("this is the last active administrator; add and approve another one first",
                       code="last_admin")


def system_user(session: Session, now: datetime) -> User:
    """The command line's own account: audited as `system`, never signs in, reads no content."""
    user = session.scalar(select(User).where(User.username == SYSTEM_USERNAME))
    if user is None:
        user = User(username=SYSTEM_USERNAME, display_name="System (CLI)", role=Role.SYSTEM,
                    clearance=Secrecy.SECRET, password_hash=None, active=True, created_at=now)
        session.add(user)
        session.flush()
    return user


def ensure_first_admin(v: Vault, session: Session) -> str | None:
    """Create the system account and, when no administrator exists, the user ``admin``; returns the new
    admin's one-time password (shown once by `dossier init`), or None when an administrator existed."""
    now = v.clock.now()
    system_user(session, now)
    if session.scalar(select(User.id).where(User.role == Role.ADMIN)) is not None:
        return None
    password = secrets.token_urlsafe(12)
    admin = User(username="admin", display_name="Administrator", role=Role.ADMIN, clearance=Secrecy.SECRET,
                 password_hash=hash_password(password), active=True, created_at=now, password_changed_at=now)
    session.add(admin)
    audit.record(session, None, "user.created", admin, now=now, username="admin", role="admin")
    return password


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound("no user named {username!r}", params={"username": username}, code="user_not_found")
    return user


def create_user(
    v: Vault,
    session: Session,
    actor: User,
    username: str,
    role: str,
    password: str,
    *,
    clearance: str = "internal",
    display_name: str = "",
    email: str | None = None,
) -> User:
    """Add a user; only admins (or the CLI) may.

    An administrator may give only what needs nobody's approval (see vault.services.grants, which
    creates the account that way and asks a second person for the rest); the CLI, acting on the
    operator's authority, may give any role.
    """
    policy.require(actor, "user.manage")
    if not USERNAME_RE.match(username) or username == SYSTEM_USERNAME:
        raise Invalid("username", "use 2-64 letters, digits, '.', '_' or '-' (and not 'system')")
    role_v, clearance_v = parse_role(role), parse_clearance(clearance)
    if actor.role is not Role.SYSTEM and needs_approval(role_v, clearance_v):
        raise Forbidden("giving this role or clearance needs a second person's approval; request it instead",
                        code="approval_required")
    _check_password_strength(password)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict("user {username!r} exists already", params={"username": username}, code="user_exists")
    now = v.clock.now()
    user = User(username=username, display_name=display_name or username, role=role_v, clearance=clearance_v,
                password_hash=hash_password(password), active=True, email=email, created_at=now,
                password_changed_at=now, password_set_by_other=actor.role is not Role.SYSTEM)
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.created", user, now=now, username=username, role=role_v.value,
                 clearance=clearance_v.value)
    return user


def check_credentials(
    v: Vault, session: Session, username: str, password: str, client_addr: str | None
) -> User | None:
    """Check a password and record the attempt; None when wrong. The caller commits, then refuses.

    Repeated failures make the address wait (429), whether the name exists or not: see
    sessions.require_sign_in_allowed.
    """
    now = v.clock.now()
    require_sign_in_allowed(v, session, username[:64], client_addr)
    user = session.scalar(select(User).where(User.username == username))
    ok = False
    try:
        if user is not None and user.password_hash and user.active:
            ok = _hasher.verify(user.password_hash, password)
        else:
            _hasher.verify(_dummy_hash(), password)  # same cost whether the name exists or not
    except (VerificationError, InvalidHashError):
        ok = False
    session.add(LoginAttempt(username=username[:64], client_addr=(client_addr or "")[:64] or None, at=now,
                             success=ok))
    if not ok or user is None:
        audit.record(session, None, "user.login_failed", None, now=now, username=username[:64])
        return None
    if _hasher.check_needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
    audit.record(session, user, "user.logged_in", user, now=now)
    return user


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(v: Vault, session: Session, user: User) -> tuple[str, datetime]:
    """A new bearer token; only its SHA-256 is stored."""
    token = "dvt_" + secrets.token_urlsafe(32)
    now = v.clock.now()
    expires = now + timedelta(hours=v.settings.token_ttl_hours)
    session.add(ApiToken(user_id=user.id, token_hash=_token_digest(token), session_epoch=user.session_epoch,
                         created_at=now, expires_at=expires))
    audit.record(session, user, "token.issued", user, now=now, expires_at=expires.isoformat())
    return token, expires


def user_for_token(v: Vault, session: Session, token: str) -> User | None:
    """The active user a token belongs to, or None when unknown, expired, revoked or outdated."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_digest(token))
                         .options(joinedload(ApiToken.user)))  # every API request: one round trip, not two
    if row is None or row.revoked_at is not None or row.expires_at <= v.clock.now():
        return None
    user = row.user
    if not user.active or user.session_epoch != row.session_epoch:
        return None
    return user


def change_password(v: Vault, session: Session, user: User, old: str, new: str) -> None:
    """Change one's own password; every other session and token ends."""
    try:
        _hasher.verify(user.password_hash or _dummy_hash(), old)
    except (VerificationError, InvalidHashError):
        raise Invalid("old_password", "the current password is wrong") from None
    _check_password_strength(new)
    user.password_hash = hash_password(new)
    user.password_changed_at = v.clock.now()
    user.password_set_by_other = False
    user.session_epoch += 1
    audit.record(session, user, "user.password_changed", user, now=v.clock.now())


def set_active(v: Vault, session: Session, actor: User, username: str, active: bool) -> User:
    policy.require(actor, "user.manage")
    user = get_user(session, username)
    if user.role is Role.SYSTEM:
        raise Invalid("username", "the system account cannot be changed")
    if not active:
        require_not_last_admin(session, user)
    user.active = active
    user.session_epoch += 1
    audit.record(session, actor, "user.activated" if active else "user.deactivated", user, now=v.clock.now())
    return user
