"""The summary report: dossiers, documents, checkouts, overdue, retention coming due, stale, incomplete."""

from __future__ import annotations

from collections import Counter
from datetime import UTC
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vault import policy
from vault.core import Vault
from vault.models import (
    Checkout,
    CheckoutStatus,
    DocType,
    Document,
    DocumentStatus,
    Dossier,
    DossierStatus,
    Secrecy,
    User,
)
from vault.services import checkouts, retention
from vault.services.dossiers import completeness

RETENTION_HORIZON_DAYS = 90


def _levels(actor: User) -> list[Secrecy]:
    return list(policy.levels_within_clearance(actor))


def summary(v: Vault, session: Session, actor: User) -> dict[str, Any]:
    """Everything `GET /api/v1/reports/summary` and `dossier report` show, within the actor's clearance."""
    policy.require(actor, "report.view")
    levels = _levels(actor)
    now = v.clock.now()
    today = now.date()
    visible = select(Dossier.id).where(Dossier.secrecy.in_(levels))

    def grouped(column: Any, *where: Any, base: Any = Dossier) -> dict[str, int]:
        q = select(column, func.count()).select_from(base)
        if base is Document:
            q = q.join(Dossier, Dossier.id == Document.dossier_id)
        q = q.where(Dossier.secrecy.in_(levels), *where).group_by(column)
        return {getattr(k, "value", str(k)): int(n) for k, n in session.execute(q).all()}

    by_type_docs = grouped(Document.doc_type, Document.status == DocumentStatus.ACTIVE, base=Document)
    rows = session.execute(
        select(Checkout.status, Checkout.due_at, Checkout.requested_at).where(Checkout.dossier_id.in_(visible))
    ).all()
    by_status: Counter[str] = Counter()
    by_month: Counter[str] = Counter()
    for status, due_at, requested_at in rows:
        late = status is CheckoutStatus.ACTIVE and due_at is not None and due_at <= now
        by_status["overdue" if late else status.value] += 1
        by_month[requested_at.astimezone(UTC).strftime("%Y-%m")] += 1
    overdue = [{"checkout_id": c.id, "dossier_id": c.dossier_id, "archive_no": c.dossier.archive_no,
                "requester": c.requester.username, "kind": c.kind.value,
                "due_at": c.due_at.isoformat() if c.due_at else None,
                "days_overdue": (now - c.due_at).days if c.due_at else None}
               for c in checkouts.overdue_checkouts(v, session, actor)]
    coming = [{"document_id": x.document.id, "dossier_id": x.document.dossier_id,
               "archive_no": x.document.dossier.archive_no, "title": x.document.title,
               "doc_type": x.document.doc_type.value, "due_on": x.due_on.isoformat(),
               "already_due": x.due_on <= today, "under_hold": bool(x.holds)}
              for x in retention.due_documents(v, session, actor, within_days=RETENTION_HORIZON_DAYS)]
    stale_docs = session.scalars(
        select(Document).join(Dossier, Dossier.id == Document.dossier_id)
        .where(Dossier.secrecy.in_(levels), Document.status == DocumentStatus.ACTIVE,
               Document.doc_type == DocType.CREDIT_REPORT, Document.expires_on < today)
        .order_by(Document.expires_on)
    ).all()
    stale = [{"document_id": d.id, "dossier_id": d.dossier_id, "archive_no": d.dossier.archive_no,
              "title": d.title, "expires_on": d.expires_on.isoformat() if d.expires_on else None} for d in stale_docs]
    incomplete = []
    for dossier in session.scalars(select(Dossier).where(Dossier.secrecy.in_(levels),
                                                         Dossier.status == DossierStatus.ACTIVE)
                                   .order_by(Dossier.id)).all():
        lacking = completeness(v, dossier)
        if lacking["missing"] or lacking["missing_fields"]:
            incomplete.append({"dossier_id": dossier.id, "archive_no": dossier.archive_no,
                               "customer_name": dossier.customer_name, "missing": lacking["missing"],
                               "missing_fields": lacking["missing_fields"]})
    return {
        "generated_at": now.isoformat(),
        "dossiers": {"total": sum(grouped(Dossier.status).values()), "by_grade": grouped(Dossier.grade),
                     "by_customer_type": grouped(Dossier.customer_type), "by_status": grouped(Dossier.status)},
        "documents": {"total": sum(by_type_docs.values()), "by_type": by_type_docs},
        "checkouts": {"by_status": dict(sorted(by_status.items())), "by_month": dict(sorted(by_month.items()))},
        "overdue": overdue,
        "retention_due_90_days": coming,
        "stale_credit_reports": stale,
        "incomplete_dossiers": incomplete,
    }
