"""A change of a dossier's owner (客户信息归属): asked with a reason, applied when a manager approves.

Two people: the one who asks (the owner, the backup owner, an archivist or a manager) and a manager who
is neither the asker nor the new owner. The approval writes the change into the card's history (seen by
all who see the dossier) and the audit trail, and re-scopes the search index to the new owner.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vault import audit, policy
from vault.core import Vault
from vault.customer_models import CustomerCard, OwnerChange
from vault.errors import Conflict, Forbidden, Invalid, NotFound
from vault.models import Dossier, DossierStatus, Role, User
from vault.services.card_fields import add_history
from vault.services.cards import card_of, clean_reason
from vault.services.common import get_dossier, queue_reindex

PENDING = "pending"


def _new_owner(session: Session, raw: Any, dossier: Dossier) -> User:
    user = session.scalar(select(User).where(User.username == raw)) if isinstance(raw, str) and raw else None
    if user is None or not user.active or user.role in (Role.ADMIN, Role.SYSTEM):
        raise Invalid("owner", "{field} must be the user name of an active employee")
    if not policy.can_see(user, dossier):
        raise Invalid("owner", "the new owner's clearance is below this dossier's secrecy")
    if user.id == dossier.owner_id:
        raise Invalid("owner", "this person owns the dossier already")
    return user


def request_change(v: Vault, session: Session, actor: User, dossier_id: int,
                   body: Mapping[str, Any]) -> OwnerChange:
    """Ask for a new owner with a reason; nothing changes until a manager approves."""
    dossier = get_dossier(session, actor, dossier_id)
    card = card_of(session, dossier, create=False)
    if actor.role not in (Role.ARCHIVIST, Role.MANAGER) and actor.id not in (dossier.owner_id, card.backup_owner_id):
        raise Forbidden("only the owner, the backup owner, an archivist or a manager asks for a new owner",
                        code="forbidden")
    if dossier.status is DossierStatus.DESTROYED:
        raise Conflict("this dossier was destroyed and cannot change", code="dossier_destroyed")
    reason = clean_reason(body.get("reason"))
    user = _new_owner(session, body.get("owner"), dossier)
    if session.scalar(select(OwnerChange.id).where(OwnerChange.dossier_id == dossier.id,
                                                   OwnerChange.status == PENDING)) is not None:
        raise Conflict("a change of owner of this dossier is waiting for a manager's decision",
                       code="owner_change_pending")
    now = v.clock.now()
    change = OwnerChange(dossier_id=dossier.id, to_owner_id=user.id, reason=reason, status=PENDING,
                         requested_by_id=actor.id, requested_at=now)
    session.add(change)
    session.flush()
    audit.record(session, actor, "owner_change.requested", dossier, now=now, change_id=change.id,
                 to_owner=user.username, reason=reason)
    return change


def pending(session: Session, actor: User) -> list[OwnerChange]:
    """Pending changes a manager may decide: those of dossiers within the manager's clearance."""
    if not actor.active or actor.role is not Role.MANAGER:
        raise Forbidden("a change of owner is decided by a manager", code="forbidden")
    return list(session.scalars(
        select(OwnerChange).join(Dossier, Dossier.id == OwnerChange.dossier_id)
        .where(OwnerChange.status == PENDING, Dossier.secrecy.in_(policy.levels_within_clearance(actor)))
        .order_by(OwnerChange.id)).all())


def decide(v: Vault, session: Session, actor: User, change_id: int, *, approve: bool) -> OwnerChange:
    """A manager (not the asker, not the new owner) approves (the owner changes) or rejects."""
    change = session.get(OwnerChange, change_id) if 0 < change_id < 2**63 else None
    dossier = None if change is None else session.get(Dossier, change.dossier_id)
    if change is None or dossier is None or not policy.can_see(actor, dossier):
        raise NotFound("change of owner {change_id} not found", params={"change_id": change_id},
                       code="owner_change_not_found")
    if not actor.active or actor.role is not Role.MANAGER:
        raise Forbidden("a change of owner is decided by a manager", code="forbidden")
    if actor.id in (change.requested_by_id, change.to_owner_id):
        raise Forbidden("a second person decides: not the one who asked, nor the new owner", code="own_request")
    if change.status != PENDING:
        raise Conflict("this change of owner was decided already", code="owner_change_decided")
    now = v.clock.now()
    change.status = "approved" if approve else "rejected"
    change.decided_by_id, change.decided_at = actor.id, now
    new_owner = session.get(User, change.to_owner_id)
    assert new_owner is not None
    if approve:
        if not new_owner.active or not policy.can_see(new_owner, dossier):
            raise Conflict("the new owner can no longer own this dossier (inactive, or clearance too low)",
                           code="owner_unfit")
        add_history(session, actor, dossier, "owner", dossier.owner.username, new_owner.username, change.reason, now)
        dossier.owner_id, dossier.updated_at = new_owner.id, now
        session.flush()
        session.refresh(dossier)
        queue_reindex(session, dossier, now)
    audit.record(session, actor, "owner_change.approved" if approve else "owner_change.rejected", dossier, now=now,
                 change_id=change.id, to_owner=new_owner.username)
    return change


def hand_over_backups(session: Session, actor: User, leaving: User, successor: User, now: datetime) -> list[int]:
    """Move the leaving user's backup-owner roles (A/B 岗) to the successor; the ids of the dossiers touched.

    Where the successor owns the dossier, or may not see it, the card keeps no backup owner rather than the
    one who left (history and audit say so)."""
    cards = session.scalars(select(CustomerCard).where(CustomerCard.backup_owner_id == leaving.id)
                            .order_by(CustomerCard.dossier_id)).all()
    for card in cards:
        dossier = session.get(Dossier, card.dossier_id)
        assert dossier is not None
        fit = policy.can_see(successor, dossier) and dossier.owner_id != successor.id
        card.backup_owner_id = successor.id if fit else None
        card.updated_at = dossier.updated_at = now
        new = successor.username if fit else None
        add_history(session, actor, dossier, "backup_owner", leaving.username, new, "handover", now)
        audit.record(session, actor, "card.updated", dossier, now=now, reason="handover",
                     changes={"backup_owner": {"old": leaving.username, "new": new}})
        queue_reindex(session, dossier, now)
    session.flush()
    return [c.dossier_id for c in cards]
