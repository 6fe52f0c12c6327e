"""Read-only lists the home pages need that no service offers yet; each checks policy first.

Candidates to move into vault/services once their shape settles.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from vault import policy
from vault.errors import Forbidden
from vault.models import Document, DocumentStatus, DocumentVersion, Dossier, IndexStatus, User


def _levels(actor: User) -> tuple[object, ...]:
    return policy.secrecy_levels_within(actor.clearance)


def upload_queue(session: Session, actor: User, limit: int = 20) -> list[Document]:
    """Documents (within clearance) whose current version is not indexed yet or failed, newest first."""
    if not policy.allowed(actor, "document.upload"):
        raise Forbidden("only archivists see the upload queue")
    return list(session.scalars(
        select(Document).join(DocumentVersion, Document.current_version_id == DocumentVersion.id)
        .join(Dossier, Dossier.id == Document.dossier_id)
        .where(DocumentVersion.index_status != IndexStatus.INDEXED, Document.status == DocumentStatus.ACTIVE,
               Dossier.secrecy.in_(_levels(actor)))
        .order_by(Document.id.desc()).limit(limit)
    ).all())


def counts_by_type_and_grade(session: Session, actor: User) -> tuple[Counter[str], Counter[str]]:
    """Active documents per type and dossiers per grade, within the actor's clearance (metadata only)."""
    policy.require(actor, "report.view")
    levels = _levels(actor)
    types = Counter(t.value for t in session.scalars(
        select(Document.doc_type).join(Dossier, Dossier.id == Document.dossier_id)
        .where(Document.status == DocumentStatus.ACTIVE, Dossier.secrecy.in_(levels))).all())
    grades = Counter(g.value for g in session.scalars(
        select(Dossier.grade).where(Dossier.secrecy.in_(levels))).all())
    return types, grades
