"""Reading the audit trail: filtered lists and chain verification, for the roles allowed to.

The list applies the dossier's clearance rule to its events: an event about a dossier above the
reader's clearance (its documents, checkouts, holds; a destruction batch holding any of its documents)
is left out and not counted, so neither a filter nor a total reveals it. Events about no dossier
(sign-ins, users, keys, backups, searches) are listed for every reader. Chain verification covers the
whole chain: it reports only a count and a hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, String, and_, cast, false, or_, select
from sqlalchemy.orm import Session

from vault import audit, policy
from vault.errors import Invalid
from vault.models import AuditEvent, Document, User
from vault.paging import Page, page_of
from vault.services.fields import may_exist

if TYPE_CHECKING:
    from vault.core import Vault

BATCH_OBJECT = "destructionbatch"  # the object_type `audit.record` gives a DestructionBatch


def events_within_clearance(actor: User) -> ColumnElement[bool]:
    """Events the actor may see: none about a dossier, document or batch above the actor's clearance."""
    dossiers = policy.visible_dossier_ids(actor)
    documents = select(Document.id).where(Document.dossier_id.in_(dossiers))
    hidden = policy.batches_above_clearance(actor).subquery()
    batches = select(cast(hidden.c.batch_id, String))  # object_id is text
    return and_(
        or_(AuditEvent.dossier_id.is_(None), AuditEvent.dossier_id.in_(dossiers)),
        or_(AuditEvent.document_id.is_(None), AuditEvent.document_id.in_(documents)),
        or_(AuditEvent.object_type.is_(None), AuditEvent.object_type != BATCH_OBJECT,
            AuditEvent.object_id.not_in(batches)),
    )


def list_events(session: Session, actor: User, filters: Mapping[str, Any], page: int, per_page: int) -> Page:
    """Newest first, filtered by dossier, document, actor, action, since; only events within clearance."""
    policy.require(actor, "audit.list")
    q = select(AuditEvent).where(events_within_clearance(actor))
    for name, column in (("dossier_id", AuditEvent.dossier_id), ("document_id", AuditEvent.document_id)):
        if filters.get(name):
            try:
                id_ = int(filters[name])
            except ValueError:
                raise Invalid(name, "{field} must be a number") from None
            q = q.where(column == id_ if may_exist(id_) else false())
    if filters.get("actor"):
        q = q.where(AuditEvent.actor_name == filters["actor"])
    if filters.get("action"):
        action = str(filters["action"])
        q = q.where(AuditEvent.action.like(action[:-1] + "%") if action.endswith("*") else
                    AuditEvent.action == action)
    if filters.get("since"):
        try:
            since = datetime.fromisoformat(str(filters["since"]))
        except ValueError:
            raise Invalid("since", "since must be an ISO time like 2026-01-31T00:00:00+08:00") from None
        if since.tzinfo is None:
            raise Invalid("since", "since needs a UTC offset, e.g. 2026-01-31T00:00:00+08:00")
        q = q.where(AuditEvent.at >= since)
    return page_of(session, q.order_by(AuditEvent.seq.desc()), page, per_page)


def verify(session: Session, actor: User, v: Vault | None = None) -> audit.ChainReport:
    """Verify the chain; against the signed checkpoints too when the vault `v` is given."""
    policy.require(actor, "audit.verify")
    if v is not None:
        from vault.audit_checkpoints import verify as verify_with_checkpoints

        return verify_with_checkpoints(v, session)
    return audit.verify_chain(session)
