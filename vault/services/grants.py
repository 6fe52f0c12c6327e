"""Separation of duties for accounts: an administrator asks, a second person (a manager or another admin)
approves, before anyone gets a content role, the admin role or a higher clearance.

Without it the administrator alone could create an archivist with a password of its choosing and read
content. When a grant is approved for an account whose password someone else chose, that password is
replaced by a one-time password shown only to the approver, so the requester cannot use the account.
The command line (`dossier user add`, the operator's act, audited as `system`) is not bound by this.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from vault import audit, policy
from vault.core import Vault
from vault.errors import Conflict, Forbidden, Invalid, NotFound
from vault.models import GrantRequest, GrantStatus, Role, Secrecy, User
from vault.services import users
from vault.services.sessions import end_all_web_sessions

APPROVERS = frozenset({Role.MANAGER, Role.ADMIN})


@dataclass(frozen=True)
class Decision:
    """A decided request; `one_time_password` is set when the account's password was replaced."""

    request: GrantRequest
    one_time_password: str | None = None


def _pending_for(session: Session, user: User) -> GrantRequest | None:
    return session.scalar(select(GrantRequest).where(GrantRequest.user_id == user.id,
                                                     GrantRequest.status == GrantStatus.PENDING))


def _ask(v: Vault, session: Session, actor: User, user: User, role: Role | None,
         clearance: Secrecy | None) -> GrantRequest:
    if _pending_for(session, user) is not None:
        raise Conflict("a request for {username} is waiting for approval; it must be decided first",
                       params={"username": user.username}, code="grant_pending")
    now = v.clock.now()
    req = GrantRequest(user_id=user.id, role=role, clearance=clearance, status=GrantStatus.PENDING,
                       requested_by_id=actor.id, requested_at=now)
    session.add(req)
    session.flush()
    audit.record(session, actor, "user.grant_requested", user, now=now, request_id=req.id,
                 role=None if role is None else role.value, clearance=None if clearance is None else clearance.value)
    return req


def create_user(v: Vault, session: Session, actor: User, username: str, role: str, password: str, *,
                clearance: str = "internal", display_name: str = "") -> tuple[User, GrantRequest | None]:
    """Add a user as an administrator: what needs no approval now, the rest as a pending request."""
    policy.require(actor, "user.manage")
    role_v, clearance_v = users.parse_role(role), users.parse_clearance(clearance)
    start_role = Role.EMPLOYEE if users.needs_approval(role_v, Secrecy.PUBLIC) else role_v
    start_clearance = clearance_v if clearance_v.rank <= users.BASELINE_CLEARANCE.rank else users.BASELINE_CLEARANCE
    user = users.create_user(v, session, actor, username, start_role.value, password,
                             clearance=start_clearance.value, display_name=display_name)
    if (start_role, start_clearance) == (role_v, clearance_v):
        return user, None
    return user, _ask(v, session, actor, user, role_v if role_v is not start_role else None,
                      clearance_v if clearance_v is not start_clearance else None)


def change_user(v: Vault, session: Session, actor: User, username: str, *, role: str | None = None,
                clearance: str | None = None) -> tuple[User, GrantRequest | None]:
    """Change a user's role or clearance: lowering applies now, raising waits for a second person."""
    policy.require(actor, "user.manage")
    user = users.get_user(session, username)
    if user.role is Role.SYSTEM:
        raise Invalid("username", "the system account cannot be changed")
    role_v = user.role if role in (None, "") else users.parse_role(role)
    clearance_v = user.clearance if clearance in (None, "") else users.parse_clearance(clearance)
    ask_role = role_v if role_v is not user.role and role_v in users.APPROVAL_ROLES else None
    ask_clearance = clearance_v if clearance_v.rank > user.clearance.rank else None
    now = v.clock.now()
    if ask_role is None and role_v is not user.role:  # down to employee: at once
        users.require_not_last_admin(session, user)
        audit.record(session, actor, "user.role_changed", user, now=now, role=role_v.value,
                     previous=user.role.value)
        user.role = role_v
        user.session_epoch += 1
    if ask_clearance is None and clearance_v is not user.clearance:  # lower: at once
        audit.record(session, actor, "user.clearance_changed", user, now=now, clearance=clearance_v.value,
                     previous=user.clearance.value)
        user.clearance = clearance_v
        user.session_epoch += 1
    if ask_role is None and ask_clearance is None:
        return user, None
    return user, _ask(v, session, actor, user, ask_role, ask_clearance)


def list_requests(session: Session, actor: User, *, pending_only: bool = True) -> list[GrantRequest]:
    """Requests an approver (manager or admin) may see and decide, newest first."""
    if not actor.active or actor.role not in APPROVERS:
        raise Forbidden("only a manager or an administrator sees account requests", code="forbidden")
    q = select(GrantRequest).options(joinedload(GrantRequest.user), joinedload(GrantRequest.requested_by))
    if pending_only:
        q = q.where(GrantRequest.status == GrantStatus.PENDING)
    return list(session.scalars(q.order_by(GrantRequest.requested_at.desc(), GrantRequest.id.desc())).all())


def _get(session: Session, actor: User, request_id: int) -> GrantRequest:
    if not actor.active or actor.role not in APPROVERS:
        raise NotFound("request {request_id} not found", params={"request_id": request_id},
                       code="grant_not_found")
    req = session.get(GrantRequest, request_id)
    if req is None:
        raise NotFound("request {request_id} not found", params={"request_id": request_id},
                       code="grant_not_found")
    if req.status is not GrantStatus.PENDING:
        raise Conflict("request {request_id} is {status}, not pending",
                       params={"request_id": request_id, "status": req.status.value}, code="grant_decided")
    return req


def approve(v: Vault, session: Session, actor: User, request_id: int) -> Decision:
    """A second person gives the requested role or clearance; a password someone else chose is replaced."""
    req = _get(session, actor, request_id)
    if actor.id in (req.requested_by_id, req.user_id):
        raise Forbidden("a second person approves: not the one who asked, nor the one who gets it",
                        code="own_request")
    if req.clearance is not None and req.clearance.rank > actor.clearance.rank:
        raise Forbidden("you may not give a clearance above your own ({clearance})",
                        params={"clearance": actor.clearance.value},
                        code="clearance_above_own")
    user = req.user
    if req.role is not None and user.role is not req.role:
        users.require_not_last_admin(session, user)
    now = v.clock.now()
    if req.role is not None:
        user.role = req.role
    if req.clearance is not None:
        user.clearance = req.clearance
    password = None
    if user.password_set_by_other:
        password = "otp-" + secrets.token_urlsafe(12)
        user.password_hash = users.hash_password(password)
        user.password_changed_at = now
    user.session_epoch += 1
    end_all_web_sessions(v, session, user)
    req.status, req.decided_by_id, req.decided_at = GrantStatus.APPROVED, actor.id, now
    audit.record(session, actor, "user.grant_approved", user, now=now, request_id=req.id,
                 role=user.role.value, clearance=user.clearance.value, password_replaced=password is not None)
    return Decision(req, password)


def reject(v: Vault, session: Session, actor: User, request_id: int) -> Decision:
    """Turn a request down (the requester may withdraw their own); nothing about the user changes."""
    req = _get(session, actor, request_id)
    if actor.id == req.user_id:
        raise Forbidden("nobody decides a request about themselves", code="own_request")
    now = v.clock.now()
    req.status, req.decided_by_id, req.decided_at = GrantStatus.REJECTED, actor.id, now
    audit.record(session, actor, "user.grant_rejected", req.user, now=now, request_id=req.id)
    return Decision(req)
