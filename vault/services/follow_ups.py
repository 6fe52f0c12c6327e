"""Complaints through their states, each person's follow-ups, and the notices of both.

A complaint goes received -> handling -> resolved -> closed, moved by its handler, the dossier's owner, an
archivist or a manager; resolving takes a result, and the customer's satisfaction (1-5) may be noted when it
is resolved or closed. A complaint past its deadline and not resolved is overdue: its handler and the
managers cleared for the dossier are notified once. A next step with a due date is the assignee's follow-up
until a record that follows it up (`follow_up_of`) or corrects it is added; on its due date it is notified.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vault import audit, policy
from vault.core import Vault
from vault.errors import Conflict, Forbidden, Invalid
from vault.models import Dossier, Role, User
from vault.relationship_models import CustomerRecord
from vault.services import customer_records
from vault.services.fields import clean_text, parse_date
from vault.services.notifications import notify, send_pending_email

NEXT_STATUS = {"received": "handling", "handling": "resolved", "resolved": "closed"}


def set_complaint_status(v: Vault, session: Session, actor: User, record_id: int,
                         body: dict[str, Any]) -> customer_records.RecordView:
    """Move a complaint one step on (handler, owner, archivist, manager); the audit names the step, not the result."""
    rec = customer_records.get_record(session, actor, record_id)
    dossier = rec.dossier
    if not (actor.id == rec.handler_id or policy.is_keeper(session, actor, dossier)
            or actor.role in (Role.ARCHIVIST, Role.MANAGER)) \
            or not actor.active:
        raise Forbidden("a complaint's status is changed by its handler, the dossier's owner, an archivist or a "
                        "manager", code="forbidden")
    if rec.kind != "complaint":
        raise Conflict("record {record_id} is a {kind} record, not a complaint", params={
            "record_id": rec.id, "kind": rec.kind}, code="not_a_complaint")
    customer_records.refuse_nul(body)
    unknown = sorted(set(body) - {"status", "result", "satisfaction", "handler", "deadline"})
    if unknown:
        raise Invalid(unknown[0], "{field} is not a field of a complaint's status")
    status = body.get("status")
    if status not in ("handling", "resolved", "closed"):
        raise Invalid("status", "{field} must be one of {allowed}", params={"allowed": "handling, resolved, closed"})
    current = rec.status or "received"
    if NEXT_STATUS.get(current) != status:
        raise Conflict("the complaint is {current}; it goes received -> handling -> resolved -> closed, one step at "
                       "a time", params={"current": current}, code="complaint_status")
    result = clean_text("result", body.get("result"), max_len=2000)
    if status == "resolved" and not result and not rec.result:
        raise Invalid("result", "{field} is required to resolve a complaint: say how it was resolved")
    satisfaction = body.get("satisfaction")
    if satisfaction not in (None, ""):
        if status == "handling" or isinstance(satisfaction, bool) or not isinstance(satisfaction, int) \
                or not 1 <= satisfaction <= 5:
            raise Invalid("satisfaction", "{field} is a whole number from 1 to 5, given when resolving or closing")
        rec.satisfaction = satisfaction
    handler = customer_records.colleague(session, "handler", body.get("handler"), dossier)
    deadline = parse_date("deadline", body.get("deadline"))
    now = v.clock.now()
    if handler is not None:
        rec.handler_id = handler.id
    if deadline is not None:
        rec.deadline = deadline
        rec.overdue_notified_at = None
    if result:
        rec.result = result
    previous, rec.status, rec.status_changed_at = current, status, now
    audit.record(session, actor, "complaint.status_changed", rec, now=now, dossier_id=dossier.id, old=previous,
                 new=status, handler=None if rec.handler is None else rec.handler.username,
                 satisfaction=rec.satisfaction)
    return customer_records.view(v, session, rec, readable=True, today=now.date())


def _open_follow_ups(assignee_id: int | None = None) -> Any:
    answered = select(CustomerRecord.follow_up_of_id).where(CustomerRecord.follow_up_of_id.is_not(None))
    corrected = select(CustomerRecord.corrects_id).where(CustomerRecord.corrects_id.is_not(None))
    q = select(CustomerRecord).where(CustomerRecord.next_action_due.is_not(None),
                                     CustomerRecord.assignee_id.is_not(None),
                                     CustomerRecord.id.not_in(answered), CustomerRecord.id.not_in(corrected))
    return q if assignee_id is None else q.where(CustomerRecord.assignee_id == assignee_id)


def _open_complaints() -> Any:
    corrected = select(CustomerRecord.corrects_id).where(CustomerRecord.corrects_id.is_not(None))
    return select(CustomerRecord).where(CustomerRecord.kind == "complaint",
                                        CustomerRecord.status.in_(("received", "handling")),
                                        CustomerRecord.id.not_in(corrected))


@dataclass
class FollowUp:
    """One line of "my follow-ups": a next step due, or a complaint I handle."""

    record_id: int
    dossier_id: int
    archive_no: str
    customer_name: str
    kind: str
    what: str
    due: date | None
    overdue: bool
    complaint_status: str | None


def my_follow_ups(v: Vault, session: Session, actor: User) -> list[FollowUp]:
    """The actor's open follow-ups and the open complaints they handle, earliest due first, within clearance.

    Each line names the step (the assignee was given it); its record's content is read on the dossier."""
    today = v.clock.now().date()
    levels = policy.levels_within_clearance(actor)
    rows = list(session.scalars(_open_follow_ups(actor.id).join(Dossier, Dossier.id == CustomerRecord.dossier_id)
                                .where(Dossier.secrecy.in_(levels))))
    rows += [r for r in session.scalars(_open_complaints().where(CustomerRecord.handler_id == actor.id)
                                        .join(Dossier, Dossier.id == CustomerRecord.dossier_id)
                                        .where(Dossier.secrecy.in_(levels))) if r not in rows]
    out = []
    for r in rows:
        complaint = r.kind == "complaint" and r.handler_id == actor.id and r.status in ("received", "handling")
        due = r.deadline if complaint else r.next_action_due
        out.append(FollowUp(r.id, r.dossier_id, r.dossier.archive_no, r.dossier.customer_name, r.kind,
                            r.next_action or r.summary if not complaint else r.summary, due,
                            due is not None and due < today, r.status if complaint else None))
    if out:  # the assignee reads the step given to them: a read of content, audited
        audit.record(session, actor, "follow_ups.read", None, now=v.clock.now(), records=[f.record_id for f in out])
    return sorted(out, key=lambda f: (f.due or date.max, f.record_id))


def send_due_notices(v: Vault) -> tuple[int, int]:
    """Notify follow-ups due today or earlier and complaints past their deadline, each once; (follow-ups, complaints).

    The notices name the dossier's archive number and the record, never what the record says."""
    with v.session() as session:
        now = v.clock.now()
        today = now.date()
        follow = 0
        for rec in session.scalars(_open_follow_ups().where(CustomerRecord.next_action_due <= today,
                                                             CustomerRecord.due_notified_at.is_(None))):
            assert rec.assignee is not None
            if rec.assignee.active:
                notify(v, session, rec.assignee, "follow_up.due",
                       f"Follow-up due {rec.next_action_due}: {rec.dossier.archive_no}, record {rec.id}",
                       about=rec.dossier)
                follow += 1
            rec.due_notified_at = now
        complaints = 0
        for rec in session.scalars(_open_complaints().where(CustomerRecord.deadline < today,
                                                            CustomerRecord.overdue_notified_at.is_(None))):
            people = [u for u in session.scalars(select(User).where(User.role == Role.MANAGER, User.active.is_(True)))]
            if rec.handler is not None and rec.handler.active:
                people.insert(0, rec.handler)
            for person in {p.id: p for p in people}.values():
                notify(v, session, person, "complaint.overdue",
                       f"Complaint overdue since {rec.deadline}: {rec.dossier.archive_no}, record {rec.id}",
                       about=rec.dossier)
            rec.overdue_notified_at = now
            audit.record(session, None, "complaint.overdue", rec, now=now, dossier_id=rec.dossier_id,
                         deadline=str(rec.deadline))
            complaints += 1
    if follow or complaints:
        send_pending_email(v)  # after the commit: a mail server that is down delays mail, never the notices
    return follow, complaints


def hand_over(session: Session, actor: User, leaving: User, successor: User, now: datetime) -> list[int]:
    """Give the leaving person's open follow-ups and the open complaints they handle to the successor.

    Called by the deactivation with handover, in its transaction; returns the ids of the records moved."""
    moved: dict[int, CustomerRecord] = {}
    for rec in session.scalars(_open_follow_ups(leaving.id)):
        rec.assignee_id = successor.id
        rec.due_notified_at = None
        moved[rec.id] = rec
    for rec in session.scalars(_open_complaints().where(CustomerRecord.handler_id == leaving.id)):
        rec.handler_id = successor.id
        moved[rec.id] = rec
    for rec in moved.values():
        if not policy.can_see(successor, rec.dossier):
            raise Conflict("{handover_to} (clearance {clearance}) cannot own {archive_no} ({secrecy}); choose someone "
                           "cleared for it",
                           params={"handover_to": successor.username, "clearance": successor.clearance.value,
                                   "archive_no": rec.dossier.archive_no, "secrecy": rec.dossier.secrecy.value},
                           code="clearance_too_low")
        audit.record(session, actor, "record.handed_over", rec, now=now, dossier_id=rec.dossier_id,
                     old=leaving.username, new=successor.username)
    return sorted(moved)


def open_work_of(session: Session, user: User) -> bool:
    """Whether the user has open follow-ups or handles open complaints (a deactivation must hand them over)."""
    return session.scalar(_open_follow_ups(user.id).limit(1)) is not None or session.scalar(
        _open_complaints().where(CustomerRecord.handler_id == user.id).limit(1)) is not None



