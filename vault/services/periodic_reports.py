"""The periodic reports (统计报表), monthly and quarterly: their figures, the schedule, the downloads.

Figures come from what the period left behind: dossiers created in it, the audit trail's changes of
status, grade and review date, checkout and document timestamps. Completeness is reconstructed as at
the period's end (documents filed before it and not destroyed by then). Reviews due read the dossiers'
`next_review_date` as it is today; reviews done and complaints come from the review rows and customer
records themselves (`periodic_customers`).

Earlier reports are regenerated on request rather than stored: a report names dossiers, so each reader
must get the version within their own clearance (one stored file cannot serve a manager cleared to
`internal` and one cleared to `secret`), and the rendering is deterministic (no time of generation in
the file, invariant PDF), so the same period and clearance give the same bytes while the records stand.
The worker records each scheduled generation in the audit trail and notifies the managers.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import IO, Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from vault import audit, policy
from vault.core import Vault
from vault.errors import Invalid
from vault.models import AuditEvent, Checkout, CheckoutStatus, Document, Dossier, DossierStatus, Role, User
from vault.services.notifications import notify, send_pending_email
from vault.services.periodic_customers import complaints, reviews_done
from vault.services.periods import Period, month_of, parse_period, previous, quarter_of

GENERATED = "report.periodic.generated"
FORMATS = ("pdf", "xlsx", "json")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _changes_in_period(session: Session, actor: User, period: Period, field: str) -> list[dict[str, Any]]:
    """Audited dossier changes of `field` within the period, for dossiers within the actor's clearance."""
    rows = session.execute(
        select(AuditEvent.at, AuditEvent.actor_name, AuditEvent.details, Dossier.archive_no, Dossier.customer_name)
        .join(Dossier, Dossier.id == AuditEvent.dossier_id)
        .where(AuditEvent.action == "dossier.updated", AuditEvent.at >= period.start, AuditEvent.at < period.end,
               Dossier.secrecy.in_(policy.levels_within_clearance(actor)))
        .order_by(AuditEvent.seq)).all()
    out = []
    for at, who, details, archive_no, name in rows:
        change = json.loads(details or "{}").get("changes", {}).get(field)
        if change:
            out.append({"archive_no": archive_no, "customer_name": name, "old": change.get("old"),
                        "new": change.get("new"), "at": _iso(at), "by": who})
    return out


def _completeness(v: Vault, session: Session, actor: User, period: Period) -> dict[str, Any]:
    """How many dossiers held every required document type at the period's end."""
    levels = policy.levels_within_clearance(actor)
    ids = set(session.scalars(select(Dossier.id).where(
        Dossier.secrecy.in_(levels), Dossier.created_at < period.end, Dossier.status != DossierStatus.DESTROYED)))
    present: dict[int, set[str]] = {}
    for dossier_id, doc_type in session.execute(
            select(Document.dossier_id, Document.doc_type).join(Dossier, Dossier.id == Document.dossier_id)
            .where(Dossier.secrecy.in_(levels), Document.created_at < period.end,
                   (Document.destroyed_at.is_(None)) | (Document.destroyed_at >= period.end))):
        present.setdefault(dossier_id, set()).add(doc_type.value)
    required = set(v.settings.required_doc_types)
    complete = sum(1 for i in ids if required <= present.get(i, set()))
    return {"dossiers": len(ids), "complete": complete,
            "rate": round(complete / len(ids), 4) if ids else None}


def figures(v: Vault, session: Session, actor: User, period: Period) -> dict[str, Any]:
    """Every figure of the report for `period`, within the actor's clearance (what the PDF and XLSX show)."""
    policy.require(actor, "report.periodic")
    levels = policy.levels_within_clearance(actor)
    in_period = and_(Dossier.created_at >= period.start, Dossier.created_at < period.end)
    new = session.execute(select(Dossier.archive_no, Dossier.customer_name, Dossier.grade, Dossier.created_at)
                          .where(Dossier.secrecy.in_(levels), in_period).order_by(Dossier.archive_no)).all()
    status_changes = _changes_in_period(session, actor, period, "status")
    lost = [c for c in status_changes if c["new"] in (DossierStatus.CLOSED.value, DossierStatus.DESTROYED.value)]
    users = dict(session.execute(select(User.id, User.username)).all())
    roles = dict(session.execute(select(User.id, User.role)).all())
    checkouts = session.execute(
        select(Checkout.requester_id).join(Dossier, Dossier.id == Checkout.dossier_id)
        .where(Dossier.secrecy.in_(levels), Checkout.requested_at >= period.start,
               Checkout.requested_at < period.end)).scalars().all()
    by_person = Counter(users.get(r, "?") for r in checkouts)
    by_department = Counter(roles[r].value if r in roles else "?" for r in checkouts)
    overdue = []
    for c, archive_no in session.execute(
            select(Checkout, Dossier.archive_no).join(Dossier, Dossier.id == Checkout.dossier_id)
            .where(Dossier.secrecy.in_(levels), Checkout.due_at.is_not(None), Checkout.due_at < period.end)
            .order_by(Checkout.due_at, Checkout.id)):
        back, due_at = c.returned_at or c.received_at, c.due_at
        if due_at is None or (back is None and c.status is CheckoutStatus.CLOSED):
            continue  # closed at a hand-over, no return to be late for
        if back is None or (back > due_at and back >= period.start):
            late_until = min(back or period.end, period.end)
            overdue.append({"checkout_id": c.id, "archive_no": archive_no, "requester": users.get(c.requester_id),
                            "kind": c.kind.value, "due_at": _iso(c.due_at), "returned_at": _iso(back),
                            "days_late": max(0, (late_until - due_at).days)})
    docs = session.execute(select(Document.doc_type, Document.created_at, Document.destroyed_at)
                           .join(Dossier, Dossier.id == Document.dossier_id)
                           .where(Dossier.secrecy.in_(levels),
                                  or_(and_(Document.created_at >= period.start, Document.created_at < period.end),
                                      and_(Document.destroyed_at >= period.start,
                                           Document.destroyed_at < period.end)))).all()
    received = Counter(t.value for t, created, _ in docs if period.start <= created < period.end)
    destroyed = Counter(t.value for t, _, gone in docs if gone is not None and period.start <= gone < period.end)
    due = session.execute(select(Dossier.archive_no, Dossier.customer_name, Dossier.next_review_date)
                          .where(Dossier.secrecy.in_(levels), Dossier.status == DossierStatus.ACTIVE,
                                 Dossier.next_review_date.is_not(None),
                                 Dossier.next_review_date <= period.last_day)
                          .order_by(Dossier.next_review_date, Dossier.archive_no)).all()
    return {
        "period": period.name, "kind": period.kind, "start": period.start.date().isoformat(),
        "end": period.last_day.isoformat(),
        "new_customers": [{"archive_no": a, "customer_name": n, "grade": g.value, "created_at": _iso(at)}
                          for a, n, g, at in new],
        "lost_customers": lost,
        "grade_changes": _changes_in_period(session, actor, period, "grade"),
        "completeness": _completeness(v, session, actor, period),
        "checkouts": {"total": len(checkouts), "by_department": dict(sorted(by_department.items())),
                      "by_person": dict(sorted(by_person.items(), key=lambda kv: (-kv[1], kv[0])))},
        "overdue_checkouts": overdue,
        "documents": {"received": sum(received.values()), "destroyed": sum(destroyed.values()),
                      "received_by_type": dict(sorted(received.items())),
                      "destroyed_by_type": dict(sorted(destroyed.items()))},
        "reviews": {"due": [{"archive_no": a, "customer_name": n, "next_review_date": d.isoformat() if d else None}
                            for a, n, d in due],
                    "done": reviews_done(session, levels, period)},
        "complaints": complaints(session, levels, period),
    }


def download(v: Vault, session: Session, actor: User, raw_period: Any, fmt: Any, out: IO[bytes],
             lang: str = "zh") -> tuple[Period, str]:
    """Write the report of the period as PDF or XLSX (or JSON) into `out`; audited. Returns (period, format)."""
    from vault.services.periodic_render import render_pdf, render_xlsx

    policy.require(actor, "report.periodic")
    period = parse_period(raw_period)
    if period.kind == "year":
        raise Invalid("period", "{field} must be a month like 2026-11 or a quarter like 2026-Q3")
    fmt = str(fmt or "pdf").lower()
    if fmt not in FORMATS:
        raise Invalid("format", "{field} must be one of: {allowed}", params={"allowed": ", ".join(FORMATS)})
    if period.start > v.clock.now():
        raise Invalid("period", "{field} {period} has not begun yet; choose one that has",
                      params={"period": period.name})
    data = figures(v, session, actor, period)
    if fmt == "pdf":
        render_pdf(data, out, lang)
    elif fmt == "xlsx":
        render_xlsx(data, out, lang)
    else:
        out.write(json.dumps(data, ensure_ascii=False).encode())
    audit.record(session, actor, "report.periodic.read", now=v.clock.now(), period=period.name, format=fmt)
    return period, fmt


def generated_periods(session: Session, actor: User) -> list[dict[str, str]]:
    """The reports the worker has generated, newest first: period and when (no figures, no names)."""
    policy.require(actor, "report.periodic")
    rows = session.execute(select(AuditEvent.at, AuditEvent.details).where(AuditEvent.action == GENERATED)
                           .order_by(AuditEvent.seq.desc())).all()
    out = []
    for at, details in rows:
        name = json.loads(details or "{}").get("period")
        if name:
            out.append({"period": name, "generated_at": _iso(at) or ""})
    return sorted(out, key=lambda r: (parse_period(r["period"]).end, "Q" in r["period"]), reverse=True)


CATCH_UP_MONTHS, CATCH_UP_QUARTERS = 3, 2  # a worker that was down catches up this far, no further


def due_periods(now: datetime, archive_began: datetime | None) -> list[Period]:
    """The months and quarters ended by `now` that a report is due for, oldest first: the last three
    months and two quarters, without those that ended before the archive's first event."""
    out: list[Period] = []
    for kind, count in ((month_of, CATCH_UP_MONTHS), (quarter_of, CATCH_UP_QUARTERS)):
        period = previous(kind(now))
        for _ in range(count):
            if archive_began is not None and archive_began < period.end:
                out.append(period)
            period = previous(period)
    return sorted(out, key=lambda p: (p.end, p.kind == "quarter"))


def run_scheduled(v: Vault) -> list[str]:
    """Generate the reports of the periods just ended that are not generated yet: record each in the audit
    trail and notify every active manager (by e-mail too when SMTP is configured). Returns their names."""
    now = v.clock.now()
    done: list[str] = []
    with v.session() as session:
        have = {json.loads(d or "{}").get("period") for d in session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == GENERATED))}
        managers = session.scalars(select(User).where(User.role == Role.MANAGER, User.active.is_(True))
                                   .order_by(User.id)).all()
        began = session.scalar(select(func.min(AuditEvent.at)))
        for period in due_periods(now, began):
            if period.name in have:
                continue
            audit.record(session, None, GENERATED, now=now, period=period.name, kind=period.kind,
                         recipients=len(managers))
            for manager in managers:
                notify(v, session, manager, "periodic_report",
                       f"统计报表 {period.name} 已生成 / Periodic report {period.name} is ready",
                       f"/reports?period={period.name}\n"
                       f"GET /api/v1/reports/periodic?period={period.name}&format=pdf (or format=xlsx)")
            done.append(period.name)
    if done:
        send_pending_email(v)
    return done
