"""Who may do what: the access table of ARCHITECTURE.md, checked in the service layer only.

Things a caller may not know exist raise NotFound (404), not Forbidden, so probing ids reveals nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from vault.errors import Forbidden, NotFound
from vault.grants import Grants, active_grants
from vault.models import Document, Dossier, Role, Secrecy, User

CONTENT_ROLES = frozenset({Role.ARCHIVIST, Role.MANAGER, Role.LEGAL})
SECRECY_ORDER = tuple(Secrecy)

_ALLOWED: dict[str, frozenset[Role]] = {
    "dossier.create": frozenset({Role.ARCHIVIST, Role.SYSTEM}),
    "dossier.update": frozenset({Role.ARCHIVIST, Role.SYSTEM}),
    "document.upload": frozenset({Role.ARCHIVIST, Role.SYSTEM}),
    "document.read_old_versions": frozenset({Role.ARCHIVIST}),
    "user.manage": frozenset({Role.ADMIN, Role.SYSTEM}),
    "keys.manage": frozenset({Role.ADMIN, Role.SYSTEM}),
    "audit.list": frozenset({Role.ADMIN, Role.LEGAL, Role.MANAGER, Role.SYSTEM}),
    "audit.verify": frozenset({Role.ADMIN, Role.LEGAL, Role.SYSTEM}),
    "search": frozenset({Role.ADMIN, Role.ARCHIVIST, Role.EMPLOYEE, Role.LEGAL, Role.MANAGER}),
    # workflows (checkout, legal hold, retention, destruction, reports)
    "checkout.request": frozenset({Role.ARCHIVIST, Role.EMPLOYEE, Role.LEGAL, Role.MANAGER}),
    "checkout.handover": frozenset({Role.ARCHIVIST}),
    "checkout.receive": frozenset({Role.ARCHIVIST}),
    "checkout.list_all": frozenset({Role.ARCHIVIST, Role.LEGAL, Role.MANAGER, Role.SYSTEM}),
    "checkout.process_overdue": frozenset({Role.ARCHIVIST, Role.SYSTEM}),
    "hold.manage": frozenset({Role.LEGAL}),
    "hold.list": frozenset({Role.ARCHIVIST, Role.LEGAL, Role.MANAGER, Role.SYSTEM}),
    "retention.view": frozenset({Role.ARCHIVIST, Role.LEGAL, Role.MANAGER, Role.ADMIN, Role.SYSTEM}),
    "retention.due": frozenset({Role.ARCHIVIST, Role.LEGAL, Role.MANAGER, Role.SYSTEM}),
    "retention.edit": frozenset({Role.ADMIN, Role.SYSTEM}),
    "destruction.propose": frozenset({Role.ARCHIVIST}),
    "destruction.approve": frozenset({Role.MANAGER, Role.LEGAL}),
    "destruction.execute": frozenset({Role.ARCHIVIST}),
    "destruction.view": frozenset({Role.ARCHIVIST, Role.LEGAL, Role.MANAGER, Role.SYSTEM}),
    "report.view": frozenset({Role.ARCHIVIST, Role.LEGAL, Role.MANAGER, Role.SYSTEM}),
}


def secrecy_levels_within(clearance: Secrecy) -> tuple[Secrecy, ...]:
    """Secrecy levels at or below a clearance."""
    return SECRECY_ORDER[: SECRECY_ORDER.index(clearance) + 1]


def allowed(actor: User, action: str) -> bool:
    return actor.active and actor.role in _ALLOWED[action]


def require(actor: User, action: str) -> None:
    """Raise Forbidden unless the actor's role may perform `action`."""
    if not allowed(actor, action):
        raise Forbidden("your role ({role}) may not do this ({action})",
                        params={"role": actor.role.value, "action": action}, code="forbidden")


def can_see(actor: User, dossier: Dossier) -> bool:
    """Dossier metadata is visible within clearance, to every role."""
    if not actor.active:
        return False
    if actor.role is Role.SYSTEM:
        return True
    return SECRECY_ORDER.index(dossier.secrecy) <= SECRECY_ORDER.index(actor.clearance)


def require_see(actor: User, dossier: Dossier) -> None:
    if not can_see(actor, dossier):
        raise NotFound("dossier {id} not found", params={"id": dossier.id}, code="dossier_not_found")


def can_read(session: Session, actor: User, document: Document, now: datetime, grants: Grants | None = None) -> bool:
    """Document content: content roles within clearance, owners, and what active checkouts grant.

    ``grants``: the actor's `active_grants` at ``now``, when the caller checks many documents at once."""
    dossier = document.dossier
    if not can_see(actor, dossier) or actor.role in (Role.ADMIN, Role.SYSTEM):
        return False
    if actor.role in CONTENT_ROLES:
        return True
    if dossier.owner_id == actor.id:
        return True
    if grants is None:
        grants = active_grants(session, actor, now)
    return dossier.id in grants.dossier_ids or document.id in grants.document_ids


def require_read(session: Session, actor: User, document: Document, now: datetime) -> None:
    """NotFound when the dossier is invisible; Forbidden when visible but content is not granted."""
    require_see(actor, document.dossier)
    if not can_read(session, actor, document, now):
        raise Forbidden(
            "you may see this document's metadata but not its content; request a checkout (借阅) first",
            code="checkout_required",
        )


@dataclass(frozen=True)
class Scope:
    """What content the actor may read everywhere: the shape the search index filters by."""

    all_dossiers_up_to: tuple[str, ...] | None
    dossier_ids: frozenset[int]
    document_ids: frozenset[int]
    # dossier_ids again: those owner_id owns at owned_levels, plus granted_dossier_ids
    owner_id: int | None = None
    owned_levels: tuple[str, ...] = ()
    granted_dossier_ids: frozenset[int] = frozenset()


def read_scope(session: Session, actor: User, now: datetime) -> Scope:
    """Everything the actor may read, for search: never wider than can_read."""
    if not actor.active or actor.role in (Role.ADMIN, Role.SYSTEM):
        return Scope(None, frozenset(), frozenset())
    levels = tuple(s.value for s in secrecy_levels_within(actor.clearance))
    if actor.role in CONTENT_ROLES:
        return Scope(levels, frozenset(), frozenset())
    from sqlalchemy import select

    owned = session.scalars(
        select(Dossier.id).where(Dossier.owner_id == actor.id, Dossier.secrecy.in_(levels))
    ).all()
    grants = active_grants(session, actor, now)
    visible_granted = set()
    if grants.dossier_ids:
        visible_granted = set(session.scalars(
            select(Dossier.id).where(Dossier.id.in_(grants.dossier_ids), Dossier.secrecy.in_(levels))
        ).all())
    doc_ids: set[int] = set()
    if grants.document_ids:
        doc_ids = set(session.scalars(
            select(Document.id).join(Dossier, Document.dossier_id == Dossier.id)
            .where(Document.id.in_(grants.document_ids), Dossier.secrecy.in_(levels))
        ).all())
    return Scope(None, frozenset(owned) | frozenset(visible_granted), frozenset(doc_ids), actor.id, levels,
                 frozenset(visible_granted))


def checkout_approver_role(dossier: Dossier) -> Role:
    """Who approves a checkout of this dossier: an archivist; a manager for a secret dossier."""
    return Role.MANAGER if dossier.secrecy is Secrecy.SECRET else Role.ARCHIVIST


def require_checkout_approver(actor: User, requester_id: int, dossier: Dossier) -> None:
    """Forbidden for the requester (nobody approves their own request) and for the wrong role."""
    require_see(actor, dossier)
    if actor.id == requester_id:
        raise Forbidden("nobody approves or rejects their own request; ask a colleague", code="own_request")
    needed = checkout_approver_role(dossier)
    if not actor.active or actor.role is not needed:
        raise Forbidden("a checkout of a {secrecy} dossier is decided by a {role}",
                        params={"secrecy": dossier.secrecy.value, "role": needed.value},
                        code="forbidden")
