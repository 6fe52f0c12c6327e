"""Reading the audit trail: filtered lists and chain verification, for the roles allowed to."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import false, func, select
from sqlalchemy.orm import Session

from vault import audit, policy
from vault.errors import Invalid
from vault.models import AuditEvent, User
from vault.services.dossiers import Page
from vault.services.fields import may_exist


def list_events(session: Session, actor: User, filters: Mapping[str, Any], page: int, per_page: int) -> Page:
    """Newest first, filtered by dossier, document, actor, action, since."""
    policy.require(actor, "audit.list")
    q = select(AuditEvent)
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
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(AuditEvent.seq.desc()).offset((page - 1) * per_page).limit(per_page)).all()
    return Page(list(rows), total, page, per_page)


def verify(session: Session, actor: User) -> audit.ChainReport:
    policy.require(actor, "audit.verify")
    return audit.verify_chain(session)
