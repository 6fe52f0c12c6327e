"""In-app notifications (the list a user sees), copied by e-mail when SMTP is configured."""

from __future__ import annotations

import logging

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from vault import policy
from vault.core import Vault
from vault.errors import NotFound
from vault.mail import Mail, MailFailed
from vault.models import Checkout, DestructionBatch, Dossier, Notification, User
from vault.paging import Page, page_of

log = logging.getLogger("dossier.notifications")


def notify(v: Vault, session: Session, user: User, kind: str, subject: str, body: str = "", *,
           checkout_id: int | None = None, batch_id: int | None = None,
           about: Dossier | None = None) -> Notification | None:
    """Put a message in the user's list (inside the caller's transaction).

    ``about``: the dossier the message names; a user it is above the clearance of (a dossier raised since
    the request) gets no message, in the list or by e-mail, and None is returned."""
    if about is not None and not policy.can_see(user, about):
        return None
    note = Notification(user_id=user.id, kind=kind, subject=subject[:300], body=body, checkout_id=checkout_id,
                        batch_id=batch_id, dossier_id=None if about is None else about.id, created_at=v.clock.now())
    session.add(note)
    return note


def list_notifications(session: Session, actor: User, *, unread_only: bool, page: int, per_page: int) -> Page:
    """The actor's own notifications, newest first, without those about a dossier now above their clearance
    (one raised to a higher secrecy since, or a clearance lowered): those are neither listed nor counted."""
    visible_checkouts = select(Checkout.id).where(Checkout.dossier_id.in_(policy.visible_dossier_ids(actor)))
    q = select(Notification).where(
        Notification.user_id == actor.id,
        or_(Notification.checkout_id.is_(None), Notification.checkout_id.in_(visible_checkouts)),
        or_(Notification.dossier_id.is_(None), Notification.dossier_id.in_(policy.visible_dossier_ids(actor))),
        or_(Notification.batch_id.is_(None), Notification.batch_id.not_in(policy.batches_above_clearance(actor))))
    if unread_only:
        q = q.where(Notification.read_at.is_(None))
    return page_of(session, q.order_by(Notification.id.desc()), page, per_page)


def mark_read(v: Vault, session: Session, actor: User, notification_id: int) -> Notification:
    """Mark one of the actor's own notifications read; 404 for others' and for those the list leaves out."""
    note = session.get(Notification, notification_id)
    if note is None or note.user_id != actor.id or not _within_clearance(session, actor, note):
        raise NotFound("notification {notification_id} not found",
                       params={"notification_id": notification_id}, code="notification_not_found")
    if note.read_at is None:
        note.read_at = v.clock.now()
    return note


def _within_clearance(session: Session, actor: User, note: Notification) -> bool:
    if note.checkout_id is not None:
        checkout = session.get(Checkout, note.checkout_id)
        if checkout is None or not policy.can_see(actor, checkout.dossier):
            return False
    if note.dossier_id is not None:
        dossier = session.get(Dossier, note.dossier_id)
        if dossier is None or not policy.can_see(actor, dossier):
            return False
    if note.batch_id is not None:
        batch = session.get(DestructionBatch, note.batch_id)
        if batch is None or not policy.can_see_batch(actor, batch):
            return False
    return True


def send_pending_email(v: Vault) -> int:
    """E-mail every notification not yet sent to users with an address; no-op without smtp_host.

    Owns its transactions: runs after the notifications were committed, so a mail server that is down
    delays mail, never the workflow; what failed is retried on the next run. A notice about a dossier
    that is above the addressee's clearance by the time it is sent (raised since) is withheld, as the
    in-app list leaves it out.
    """
    if not v.mailer.enabled:
        return 0
    withheld: list[int] = []
    with v.session() as session:
        rows = session.execute(
            select(Notification, User)
            .join(User, User.id == Notification.user_id)
            .where(Notification.emailed_at.is_(None), User.email.is_not(None), User.active.is_(True))
            .order_by(Notification.id).limit(500)
        ).all()
        pending: list[Mail] = []
        for note, user in rows:
            # a notice about a dossier raised above the user's clearance since it was written: not mailed
            if _within_clearance(session, user, note):
                pending.append(Mail(note.id, user.email or "", note.subject, note.body))
            else:
                withheld.append(note.id)
        if withheld:
            log.info("%d notification e-mail(s) withheld: their dossier is now above the addressee's clearance",
                     len(withheld))
            now = v.clock.now()
            for note in session.scalars(select(Notification).where(Notification.id.in_(withheld))):
                note.emailed_at = now  # settled: never mailed, and not tried again
    if not pending:
        return 0
    try:
        sent = v.mailer.send(pending)
    except MailFailed as exc:
        log.warning("sending notification e-mail failed (%s); will retry", exc)
        sent = exc.sent
    if sent:
        with v.session() as session:
            now = v.clock.now()
            for note in session.scalars(select(Notification).where(Notification.id.in_(sent))):
                note.emailed_at = now
    return len(sent)
