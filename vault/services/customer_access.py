"""Who may read and add a dossier's contacts and records: the rules of documents, applied to the dossier.

Records and contacts are content. They are read by those who may read the dossier's documents: the content
roles within clearance, the dossier's owner and backup owner (A/B 岗), and whoever holds an active checkout
of the whole dossier.
Others who may see the dossier learn that records exist (kind, date, staff), not what they say. Above
clearance the dossier, its contacts and its records are not found (404). The owner, the backup owner and
archivists add.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from vault import policy
from vault.errors import Forbidden, NotFound
from vault.grants import Grants, active_grants
from vault.models import Dossier, DossierStatus, Role, User
from vault.services.fields import may_exist


def visible_dossier(session: Session, actor: User, dossier_id: int) -> Dossier:
    """The dossier when the actor may see it; NotFound otherwise, in the words of one that does not exist."""
    dossier = session.get(Dossier, dossier_id) if may_exist(dossier_id) else None
    if dossier is None or not policy.can_see(actor, dossier):
        raise NotFound("dossier {dossier_id} not found", params={"dossier_id": dossier_id}, code="dossier_not_found")
    return dossier


def can_read_content(session: Session, actor: User, dossier: Dossier, now: datetime,
                     grants: Grants | None = None) -> bool:
    """Whether the actor may read what the dossier's records and contacts say (as `policy.can_read`)."""
    if not policy.can_see(actor, dossier) or actor.role in (Role.ADMIN, Role.SYSTEM):
        return False
    if actor.role in policy.CONTENT_ROLES or policy.is_keeper(session, actor, dossier):
        return True
    if grants is None:
        grants = active_grants(session, actor, now)
    return dossier.id in grants.dossier_ids


def may_add(session: Session, actor: User, dossier: Dossier) -> bool:
    """Whether the actor may add contacts and records: the dossier's owner or backup owner, or an archivist,
    within clearance."""
    if not policy.can_see(actor, dossier) or dossier.status is DossierStatus.DESTROYED:
        return False
    return actor.role is Role.ARCHIVIST or (actor.role is not Role.ADMIN and policy.is_keeper(session, actor, dossier))


def require_add(session: Session, actor: User, dossier: Dossier) -> None:
    """Forbidden unless `may_add` (NotFound first when the dossier is above clearance)."""
    if not policy.can_see(actor, dossier):
        raise NotFound("dossier {dossier_id} not found", params={"dossier_id": dossier.id}, code="dossier_not_found")
    if not may_add(session, actor, dossier):
        raise Forbidden("only the dossier's owner or an archivist adds contacts and records", code="forbidden")
