"""Checkout (借阅): request -> approve | reject -> active -> returned -> closed; overdue from the due date.

An electronic checkout (view, copy) is active from its approval until its due date: access ends by
itself then (vault.grants). A physical one becomes active when the archivist hands the paper over,
and is closed when the archivist confirms it came back (归还注销).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import false, or_, select
from sqlalchemy.orm import Session

from vault import audit, policy
from vault.core import Vault
from vault.errors import Conflict, Forbidden, Invalid, NotFound
from vault.grants import granting_checkouts
from vault.models import (
    Checkout,
    CheckoutDocument,
    CheckoutKind,
    CheckoutStatus,
    Document,
    DocumentStatus,
    Dossier,
    DossierStatus,
    Role,
    User,
)
from vault.paging import Page, page_of
from vault.services import follow_ups
from vault.services.common import get_dossier, queue_reindex
from vault.services.fields import clean_text, may_exist
from vault.services.notifications import notify, send_pending_email
from vault.services.users import system_user

OPEN_STATES = (CheckoutStatus.PENDING, CheckoutStatus.APPROVED, CheckoutStatus.ACTIVE, CheckoutStatus.RETURNED)
STATUS_FILTERS = ("pending", "approved", "rejected", "active", "returned", "closed", "overdue")


def _kind(raw: Any) -> CheckoutKind:
    try:
        return CheckoutKind(raw)
    except ValueError:
        raise Invalid("kind", "kind must be view, copy or physical, got {raw!r}", params={"raw": raw}) from None


def _days(v: Vault, raw: Any) -> int:
    cap = v.settings.checkout_max_days
    if raw is None:
        return min(7, cap)
    if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= cap:
        raise Invalid("days", "days must be a whole number from 1 to {max_days}", params={"max_days": cap},
                      max_days=cap)
    return raw


def _chosen_documents(session: Session, dossier: Dossier, raw: Any) -> list[Document]:
    if raw in (None, []):
        return []
    if not isinstance(raw, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in raw):
        raise Invalid("document_ids", "document_ids must be a list of document ids of this dossier")
    docs = []
    for doc_id in sorted(set(raw)):
        doc = session.get(Document, doc_id) if may_exist(doc_id) else None
        if doc is None or doc.dossier_id != dossier.id:
            raise Invalid("document_ids", "document {doc_id} is not in dossier {archive_no}",
                          params={"doc_id": doc_id, "archive_no": dossier.archive_no})
        if doc.status is not DocumentStatus.ACTIVE:
            raise Invalid("document_ids", "document {doc_id} was destroyed",
                          params={"doc_id": doc_id}, code="document_destroyed")
        docs.append(doc)
    return docs


def request_checkout(v: Vault, session: Session, actor: User, data: Mapping[str, Any]) -> Checkout:
    """Ask to read, copy or take out a dossier (or some of its documents) for a purpose and a number of days."""
    unknown = set(data) - {"dossier_id", "document_ids", "purpose", "kind", "days"}
    if unknown:
        name = sorted(unknown)[0]
        raise Invalid(name, "unknown field {name!r}", params={"name": name})
    policy.require(actor, "checkout.request")
    raw_id = data.get("dossier_id")
    if not isinstance(raw_id, int) or isinstance(raw_id, bool):
        raise Invalid("dossier_id", "dossier_id must be a dossier's id")
    dossier = get_dossier(session, actor, raw_id)
    if dossier.status is DossierStatus.DESTROYED:
        raise Conflict("dossier {archive_no} was destroyed",
                       params={"archive_no": dossier.archive_no}, code="dossier_destroyed")
    kind = _kind(data.get("kind"))
    purpose = clean_text("purpose", data.get("purpose"), required=True, max_len=2000)
    days = _days(v, data.get("days"))
    docs = _chosen_documents(session, dossier, data.get("document_ids"))
    now = v.clock.now()
    checkout = Checkout(dossier_id=dossier.id, requester_id=actor.id, purpose=purpose, kind=kind, days=days,
                        status=CheckoutStatus.PENDING, requested_at=now,
                        items=[CheckoutDocument(document_id=d.id) for d in docs])
    session.add(checkout)
    session.flush()
    audit.record(session, actor, "checkout.requested", checkout, now=now, dossier_id=dossier.id,
                 kind=kind.value, days=days, purpose=purpose, document_ids=[d.id for d in docs])
    return checkout


def get_checkout(session: Session, actor: User, checkout_id: int) -> Checkout:
    """The requester's own checkout, or any checkout for archivist, legal, manager; only of a dossier within
    clearance (one raised above the requester's clearance since is 404 to them too, as in the lists)."""
    checkout = session.get(Checkout, checkout_id)
    if checkout is None or not policy.can_see(actor, checkout.dossier) or not (
        checkout.requester_id == actor.id or policy.allowed(actor, "checkout.list_all")
    ):
        raise NotFound("checkout {checkout_id} not found",
                       params={"checkout_id": checkout_id}, code="checkout_not_found")
    return checkout


def _decidable(session: Session, actor: User, checkout_id: int) -> Checkout:
    checkout = session.get(Checkout, checkout_id)
    if checkout is None or not policy.can_see(actor, checkout.dossier):
        raise NotFound("checkout {checkout_id} not found",
                       params={"checkout_id": checkout_id}, code="checkout_not_found")
    policy.require_checkout_approver(actor, checkout.requester_id, checkout.dossier)
    if checkout.status is not CheckoutStatus.PENDING:
        raise Conflict("checkout {id} is {status}, not pending",
                       params={"id": checkout.id, "status": checkout.status.value}, code="not_pending")
    return checkout


def approve_checkout(v: Vault, session: Session, actor: User, checkout_id: int, comment: Any = None) -> Checkout:
    """Approve a pending request: an electronic checkout opens now until its due date; paper waits for handover."""
    checkout = _decidable(session, actor, checkout_id)
    text = clean_text("comment", comment, required=False, max_len=2000)
    now = v.clock.now()
    checkout.decided_by_id, checkout.decided_at, checkout.decision_comment = actor.id, now, text or None
    if checkout.kind.electronic:
        checkout.status = CheckoutStatus.ACTIVE
        checkout.active_from, checkout.due_at = now, now + timedelta(days=checkout.days)
    else:
        checkout.status = CheckoutStatus.APPROVED
    audit.record(session, actor, "checkout.approved", checkout, now=now, dossier_id=checkout.dossier_id,
                 comment=text, kind=checkout.kind.value,
                 due_at=checkout.due_at.isoformat() if checkout.due_at else None)
    notify(v, session, checkout.requester, "checkout.approved",
           f"借阅已批准 / Checkout #{checkout.id} approved: {checkout.dossier.archive_no}",
           (f"due {checkout.due_at.isoformat()}" if checkout.due_at else "collect the paper file from the archive")
           + (f" — {text}" if text else ""), checkout_id=checkout.id, about=checkout.dossier)
    return checkout


def reject_checkout(v: Vault, session: Session, actor: User, checkout_id: int, comment: Any) -> Checkout:
    """Refuse a pending request, saying why."""
    checkout = _decidable(session, actor, checkout_id)
    text = clean_text("comment", comment, required=True, max_len=2000)
    now = v.clock.now()
    checkout.status = CheckoutStatus.REJECTED
    checkout.decided_by_id, checkout.decided_at, checkout.decision_comment = actor.id, now, text
    audit.record(session, actor, "checkout.rejected", checkout, now=now, dossier_id=checkout.dossier_id,
                 comment=text)
    notify(v, session, checkout.requester, "checkout.rejected",
           f"借阅未批准 / Checkout #{checkout.id} rejected: {checkout.dossier.archive_no}", text,
           checkout_id=checkout.id, about=checkout.dossier)
    return checkout


def paper_holders(session: Session, dossier_ids: Iterable[int]) -> dict[int, Checkout]:
    """The active physical checkout of each dossier whose paper file is out, in one query."""
    ids = set(dossier_ids)
    if not ids:
        return {}
    out: dict[int, Checkout] = {}
    for checkout in session.scalars(select(Checkout).where(
            Checkout.dossier_id.in_(ids), Checkout.kind == CheckoutKind.PHYSICAL,
            Checkout.status.in_((CheckoutStatus.ACTIVE, CheckoutStatus.RETURNED))).order_by(Checkout.id)):
        out.setdefault(checkout.dossier_id, checkout)
    return out


def paper_holder(session: Session, dossier_id: int) -> Checkout | None:
    """The active physical checkout of a dossier: who has the paper file now."""
    return paper_holders(session, [dossier_id]).get(dossier_id)


def hand_over(v: Vault, session: Session, actor: User, checkout_id: int, note: Any = None) -> Checkout:
    """The archivist gives the paper file to the requester: the checkout is active until the due date."""
    policy.require(actor, "checkout.handover")
    checkout = session.get(Checkout, checkout_id)
    if checkout is None or not policy.can_see(actor, checkout.dossier):
        raise NotFound("checkout {checkout_id} not found",
                       params={"checkout_id": checkout_id}, code="checkout_not_found")
    if checkout.kind is not CheckoutKind.PHYSICAL:
        raise Conflict("only a physical checkout is handed over; an electronic one opens at approval",
                       code="not_physical")
    if checkout.status is not CheckoutStatus.APPROVED:
        raise Conflict("checkout {id} is {status}, not approved",
                       params={"id": checkout.id, "status": checkout.status.value}, code="not_approved")
    if checkout.requester_id == actor.id:
        raise Forbidden("another archivist hands the file over to you", code="own_request")
    holder = paper_holder(session, checkout.dossier_id)
    if holder is not None:
        raise Conflict("the paper file is out with {username} (checkout {id})",
                       params={"username": holder.requester.username, "id": holder.id},
                       code="paper_out", checkout_id=holder.id)
    text = clean_text("note", note, required=False, max_len=2000)
    now = v.clock.now()
    checkout.status = CheckoutStatus.ACTIVE
    checkout.handed_over_by_id = actor.id
    checkout.active_from, checkout.due_at = now, now + timedelta(days=checkout.days)
    audit.record(session, actor, "checkout.handed_over", checkout, now=now, dossier_id=checkout.dossier_id,
                 to=checkout.requester.username, location=checkout.dossier.location,
                 due_at=checkout.due_at.isoformat(), note=text)
    return checkout


def return_checkout(v: Vault, session: Session, actor: User, checkout_id: int) -> Checkout:
    """The requester ends electronic access at once, or says the paper file is back (the archivist confirms)."""
    checkout = get_checkout(session, actor, checkout_id)
    if checkout.requester_id != actor.id:
        raise Forbidden("only the requester returns a checkout; archivists confirm paper with /receive",
                        code="not_requester")
    if checkout.status is not CheckoutStatus.ACTIVE:
        raise Conflict("checkout {id} is {status}, not active",
                       params={"id": checkout.id, "status": checkout.status.value}, code="not_active")
    now = v.clock.now()
    late = checkout.is_overdue(now)
    checkout.status = CheckoutStatus.RETURNED
    checkout.returned_at = now
    audit.record(session, actor, "checkout.returned", checkout, now=now, dossier_id=checkout.dossier_id,
                 kind=checkout.kind.value, late=late)
    return checkout


def receive(v: Vault, session: Session, actor: User, checkout_id: int, condition: Any,
            pages_complete: Any = None) -> Checkout:
    """The archivist confirms the paper file came back and notes its condition (pages complete or not)."""
    policy.require(actor, "checkout.receive")
    checkout = session.get(Checkout, checkout_id)
    if checkout is None or not policy.can_see(actor, checkout.dossier):
        raise NotFound("checkout {checkout_id} not found",
                       params={"checkout_id": checkout_id}, code="checkout_not_found")
    if checkout.kind is not CheckoutKind.PHYSICAL:
        raise Conflict("only a physical checkout is received back", code="not_physical")
    if checkout.status not in (CheckoutStatus.ACTIVE, CheckoutStatus.RETURNED):
        raise Conflict("checkout {id} is {status}: the paper is not out",
                       params={"id": checkout.id, "status": checkout.status.value},
                       code="not_out")
    text = clean_text("condition", condition, required=True, max_len=2000)
    if pages_complete is not None and not isinstance(pages_complete, bool):
        raise Invalid("pages_complete", "pages_complete must be true or false")
    now = v.clock.now()
    late = checkout.due_at is not None and (checkout.returned_at or now) > checkout.due_at
    checkout.status = CheckoutStatus.CLOSED
    checkout.received_by_id, checkout.received_at = actor.id, now
    checkout.returned_at = checkout.returned_at or now
    checkout.condition, checkout.pages_complete = text, pages_complete
    audit.record(session, actor, "checkout.received", checkout, now=now, dossier_id=checkout.dossier_id,
                 condition=text, pages_complete=pages_complete, late=late)
    return checkout


def list_checkouts(v: Vault, session: Session, actor: User, filters: Mapping[str, Any], page: int,
                   per_page: int) -> Page:
    """Own checkouts; archivist, legal and manager see every checkout of a dossier within clearance."""
    now = v.clock.now()
    q = select(Checkout).join(Dossier, Dossier.id == Checkout.dossier_id)
    mine = str(filters.get("mine") or "") in ("1", "true", "yes")
    if mine or not policy.allowed(actor, "checkout.list_all"):
        q = q.where(Checkout.requester_id == actor.id)
    q = q.where(Dossier.secrecy.in_(policy.levels_within_clearance(actor)))
    status = filters.get("status")
    if status:
        if status not in STATUS_FILTERS:
            raise Invalid("status", "status must be one of {allowed}",
                          params={"allowed": ", ".join(STATUS_FILTERS)})
        if status == "overdue":
            q = q.where(Checkout.status == CheckoutStatus.ACTIVE, Checkout.due_at <= now)
        elif status == "active":
            q = q.where(Checkout.status == CheckoutStatus.ACTIVE, or_(Checkout.due_at.is_(None), Checkout.due_at > now))
        else:
            q = q.where(Checkout.status == CheckoutStatus(status))
    if filters.get("dossier_id"):
        try:
            dossier_id = int(filters["dossier_id"])
        except ValueError:
            raise Invalid("dossier_id", "dossier_id must be a number") from None
        q = q.where(Checkout.dossier_id == dossier_id if may_exist(dossier_id) else false())
    return page_of(session, q.order_by(Checkout.id.desc()), page, per_page)


def overdue_checkouts(v: Vault, session: Session, actor: User) -> list[Checkout]:
    """Active checkouts past their due date, oldest due first, within the actor's clearance."""
    q = (select(Checkout).join(Dossier, Dossier.id == Checkout.dossier_id)
         .where(Checkout.status == CheckoutStatus.ACTIVE, Checkout.due_at <= v.clock.now()))
    q = q.where(Dossier.secrecy.in_(policy.levels_within_clearance(actor)))
    return list(session.scalars(q.order_by(Checkout.due_at, Checkout.id)).all())


def process_overdue(v: Vault, session: Session, actor: User) -> list[Checkout]:
    """Mark checkouts that passed their due date: audit once, notify the requester and the approver.

    Access already ended at the due date (grants stop there); this records it and tells people.
    Idempotent: each checkout is processed once. The worker and `dossier overdue` call it.
    """
    policy.require(actor, "checkout.process_overdue")
    now = v.clock.now()
    newly = [c for c in overdue_checkouts(v, session, actor) if c.overdue_notified_at is None]
    for checkout in newly:
        checkout.overdue_notified_at = now
        assert checkout.due_at is not None
        due = checkout.due_at.isoformat()
        action = "checkout.overdue" if checkout.kind is CheckoutKind.PHYSICAL else "checkout.expired"
        audit.record(session, actor, action, checkout, now=now, dossier_id=checkout.dossier_id,
                     kind=checkout.kind.value, due_at=due, requester=checkout.requester.username)
        subject = f"借阅逾期 / Checkout #{checkout.id} overdue: {checkout.dossier.archive_no} was due {due[:10]}"
        body = ("the paper file has not come back; return it to the archive" if checkout.kind is
                CheckoutKind.PHYSICAL else "electronic access ended at the due date; return the checkout")
        recipients = {checkout.requester_id: checkout.requester}
        for approver in (checkout.decided_by, checkout.handed_over_by):
            if approver is not None:
                recipients.setdefault(approver.id, approver)
        for user in recipients.values():
            notify(v, session, user, "checkout.overdue", subject, body, checkout_id=checkout.id,
                   about=checkout.dossier)
    return newly


def run_overdue(v: Vault) -> tuple[list[int], list[int]]:
    """Process overdue checkouts as the system account, then e-mail pending notifications.

    Owns its transactions (a job of the worker and of `dossier overdue`, not of a request): the markings are
    committed before any mail is sent, so a mail server that is down delays mail, never the marking.

    Returns (ids processed now, ids of every overdue checkout). `dossier overdue` calls it, and the
    index worker about once a minute (`overdue_check_interval_s`).
    """
    with v.session() as s:
        newly = [c.id for c in process_overdue(v, s, system_user(s, v.clock.now()))]
    with v.session() as s:
        every = [c.id for c in overdue_checkouts(v, s, system_user(s, v.clock.now()))]
    send_pending_email(v)  # after the commit: a mail server that is down delays mail, never the marking
    return newly, every


def checkout_granting(session: Session, user: User, document: Document, now: datetime) -> Checkout | None:
    """The active electronic checkout through which `user` reads `document` (a copy checkout first)."""
    found: Checkout | None = None
    for checkout in granting_checkouts(session, user, now):
        chosen = checkout.document_ids
        if (not chosen and checkout.dossier_id == document.dossier_id) or document.id in chosen:
            if checkout.kind is CheckoutKind.COPY:
                return checkout
            found = found or checkout
    return found


def close_open_checkouts(v: Vault, session: Session, actor: User, user: User, reason: str) -> list[Checkout]:
    """Close every open checkout of a user (pending, approved, active, returned), each audited."""
    now = v.clock.now()
    open_ones = session.scalars(select(Checkout).where(Checkout.requester_id == user.id,
                                                       Checkout.status.in_(OPEN_STATES))
                                .order_by(Checkout.id)).all()
    for checkout in open_ones:
        paper_out = checkout.kind is CheckoutKind.PHYSICAL and checkout.status in (
            CheckoutStatus.ACTIVE, CheckoutStatus.RETURNED)
        previous = checkout.status.value
        checkout.status = CheckoutStatus.CLOSED
        checkout.closed_reason = reason
        checkout.returned_at = checkout.returned_at or now
        audit.record(session, actor, "checkout.closed", checkout, now=now, dossier_id=checkout.dossier_id,
                     reason=reason, previous_status=previous, paper_not_received=paper_out)
    return list(open_ones)


def has_work_to_hand_over(session: Session, user: User) -> bool:
    """Whether deactivating the user must name a successor: they own or back up dossiers, have open checkouts,
    open follow-ups or complaints to handle."""
    return session.scalar(select(Dossier.id).where(Dossier.owner_id == user.id).limit(1)) is not None \
        or session.scalar(policy.backed_up_dossier_ids(user).limit(1)) is not None \
        or session.scalar(select(Checkout.id).where(Checkout.requester_id == user.id,
                                                    Checkout.status.in_(OPEN_STATES)).limit(1)) is not None \
        or follow_ups.open_work_of(session, user)


def deactivate_with_handover(v: Vault, session: Session, actor: User, username: str,
                             handover_to: str) -> dict[str, Any]:
    """An employee leaves (员工调离交接): open checkouts closed, owned dossiers to a colleague, account off."""
    policy.require(actor, "user.manage")
    from vault.services.users import get_user

    leaving = get_user(session, username)
    successor = get_user(session, handover_to)
    if successor.id == leaving.id:
        raise Invalid("handover_to", "hand over to someone else than the person leaving")
    if not successor.active or successor.role in (Role.ADMIN, Role.SYSTEM):
        raise Invalid("handover_to", "{handover_to} is not an active employee who can own dossiers",
                      params={"handover_to": handover_to})
    if leaving.role is Role.SYSTEM:
        raise Invalid("username", "the system account cannot be deactivated")
    now = v.clock.now()
    closed = close_open_checkouts(v, session, actor, leaving, f"{username} left; handed over to {handover_to}")
    owned = session.scalars(select(Dossier).where(Dossier.owner_id == leaving.id).order_by(Dossier.id)).all()
    for dossier in owned:
        if not policy.within_clearance(successor, dossier.secrecy):
            raise Conflict("{handover_to} (clearance {clearance}) cannot own {archive_no} ({secrecy}); choose someone "
                           "cleared for it",
                           params={"handover_to": handover_to, "clearance": successor.clearance.value,
                                   "archive_no": dossier.archive_no, "secrecy": dossier.secrecy.value},
                           code="clearance_too_low")
        dossier.owner_id = successor.id
        dossier.updated_at = now
        queue_reindex(session, dossier, now)  # the index knows owners
        audit.record(session, actor, "dossier.owner_changed", dossier, now=now, old=leaving.username,
                     new=successor.username, reason="handover")
    records_moved = follow_ups.hand_over(session, actor, leaving, successor, now)
    from vault.services.owner_changes import hand_over_backups  # cards import this module's neighbours

    backups_moved = hand_over_backups(session, actor, leaving, successor, now)
    leaving.active = False
    leaving.session_epoch += 1
    audit.record(session, actor, "user.deactivated", leaving, now=now, handover_to=successor.username,
                 checkouts_closed=[c.id for c in closed], dossiers_moved=[d.id for d in owned],
                 records_moved=records_moved, backups_moved=backups_moved)
    return {"user": leaving.username, "handover_to": successor.username,
            "checkouts_closed": [c.id for c in closed], "dossiers_moved": [d.archive_no for d in owned],
            "follow_ups_moved": records_moved,
            "backups_moved": [d.archive_no for d in session.scalars(
                select(Dossier).where(Dossier.id.in_(backups_moved)).order_by(Dossier.id))]}
