"""The periodic report's customer figures: complaints (received, resolved, overdue, satisfaction) and the
periodic reviews done, from the records and review rows themselves (issue 14, once issue 12's exist).

Within the reader's clearance only; a complaint's content (summary, details) never appears: the report
names the archive number, the record's number, dates and the handler. A corrected complaint counts once,
as its correction."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vault.customer_models import CardReview
from vault.models import AuditEvent, Dossier, Secrecy, User
from vault.relationship_models import CustomerRecord
from vault.services.periods import Period

RESOLVED = ("resolved", "closed")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _resolved_at(session: Session, record_ids: list[int]) -> dict[int, datetime]:
    """When each complaint was first resolved (or closed), from the audit trail's status steps."""
    out: dict[int, datetime] = {}
    if not record_ids:
        return out
    for at, target, details in session.execute(
            select(AuditEvent.at, AuditEvent.object_id, AuditEvent.details)
            .where(AuditEvent.action == "complaint.status_changed",
                   AuditEvent.object_id.in_([str(i) for i in record_ids]))
            .order_by(AuditEvent.seq)):
        if json.loads(details or "{}").get("new") in RESOLVED and target is not None:
            out.setdefault(int(target), at)
    return out


def complaints(session: Session, levels: tuple[Secrecy, ...], period: Period) -> dict[str, Any]:
    """Complaints received in the period, resolved in it, overdue in it (deadline passed before its end and
    not resolved by the deadline, still open or resolved within the period), and the mean satisfaction
    (1-5) of those resolved in it."""
    corrected = select(CustomerRecord.corrects_id).where(CustomerRecord.corrects_id.is_not(None))
    rows = session.execute(
        select(CustomerRecord, Dossier.archive_no).join(Dossier, Dossier.id == CustomerRecord.dossier_id)
        .where(CustomerRecord.kind == "complaint", CustomerRecord.id.not_in(corrected),
               Dossier.secrecy.in_(levels), CustomerRecord.created_at < period.end)
        .order_by(CustomerRecord.id)).all()
    resolved_at = _resolved_at(session, [r.id for r, _ in rows])
    handlers = dict(session.execute(select(User.id, User.username)).all())
    received = [r for r, _ in rows if period.start <= r.occurred_at < period.end]
    resolved = [r for r, _ in rows if r.id in resolved_at and period.start <= resolved_at[r.id] < period.end]
    overdue = []
    for rec, archive_no in rows:
        if rec.deadline is None:
            continue
        late_from = datetime.combine(rec.deadline + timedelta(days=1), time(), tzinfo=period.end.tzinfo)
        done = resolved_at.get(rec.id)
        if late_from < period.end and (done is None or (done >= late_from and done >= period.start)):
            until = min(done or period.end, period.end)
            overdue.append({"record_id": rec.id, "archive_no": archive_no, "deadline": rec.deadline.isoformat(),
                            "handler": handlers.get(rec.handler_id) if rec.handler_id else None,
                            "resolved_at": _iso(done), "days_late": max(0, (until - late_from).days + 1)})
    scores = [r.satisfaction for r in resolved if r.satisfaction is not None]
    return {"received": len(received), "resolved": len(resolved), "overdue": overdue,
            "satisfaction": round(sum(scores) / len(scores), 2) if scores else None,
            "satisfaction_count": len(scores)}


def reviews_done(session: Session, levels: tuple[Secrecy, ...], period: Period) -> list[dict[str, Any]]:
    """The periodic reviews (定期审查) recorded in the period: dossier, date, result, grade, reviewer, next date."""
    users = dict(session.execute(select(User.id, User.username)).all())
    rows = session.execute(
        select(CardReview, Dossier.archive_no, Dossier.customer_name).join(Dossier, Dossier.id == CardReview.dossier_id)
        .where(Dossier.secrecy.in_(levels), CardReview.at >= period.start, CardReview.at < period.end)
        .order_by(CardReview.at, CardReview.id)).all()
    return [{"archive_no": a, "customer_name": n, "reviewed_on": r.reviewed_on.isoformat(), "result": r.result,
             "grade": r.grade, "by": users.get(r.reviewer_id), "next_review_on": r.next_review_on.isoformat()}
            for r, a, n in rows]
