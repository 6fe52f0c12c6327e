"""API tokens as their owners and administrators see them: listed, and revoked before they expire."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from vault import audit, policy
from vault.core import Vault
from vault.errors import NotFound
from vault.models import ApiToken, User
from vault.services.users import get_user


@dataclass(frozen=True)
class TokenView:
    """A token without its secret (only a hash of it is stored anyway)."""

    id: int
    username: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    active: bool


def _view(row: ApiToken, now: datetime) -> TokenView:
    active = (row.revoked_at is None and row.expires_at > now and row.user.active
              and row.user.session_epoch == row.session_epoch)
    return TokenView(row.id, row.user.username, row.created_at, row.expires_at, row.revoked_at, active)


def list_tokens(v: Vault, session: Session, actor: User, *, username: str | None = None,
                everyone: bool = False, only_active: bool = True) -> list[TokenView]:
    """The actor's own tokens; an administrator may name another user, or ask for everyone's."""
    q = select(ApiToken).options(joinedload(ApiToken.user)).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    if everyone or (username is not None and username != actor.username):
        policy.require(actor, "user.manage")
        if not everyone:
            q = q.where(ApiToken.user_id == get_user(session, username or "").id)
    else:
        q = q.where(ApiToken.user_id == actor.id)
    now = v.clock.now()
    if only_active:
        q = q.where(ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
    return [t for t in (_view(row, now) for row in session.scalars(q).unique().all())
            if t.active or not only_active]


def revoke_token(v: Vault, session: Session, actor: User, token_id: int) -> TokenView:
    """Revoke a token at once: its owner or an administrator may; to anyone else it does not exist."""
    row = session.get(ApiToken, token_id)
    if row is None or (row.user_id != actor.id and not policy.allowed(actor, "user.manage")):
        raise NotFound("token {token_id} not found", params={"token_id": token_id}, code="token_not_found")
    now = v.clock.now()
    if row.revoked_at is None:
        row.revoked_at = now
        audit.record(session, actor, "token.revoked", row.user, now=now, token_id=row.id)
    return _view(row, now)
