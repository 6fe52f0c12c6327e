"""Periodic reviews (定期审查): the interval per grade, the queue of due reviews, recording a review,
and the reminder the worker sends before a review falls due.

A review confirms or corrects the card, notes what the dossier lacked at the time, decides grade and stage
with a reason, and sets the next date (by default the last review plus the grade's interval). It is written
to the card's history (seen by all who see the dossier) and to the audit trail.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from vault import audit, policy
from vault.card_values import add_months
from vault.core import Vault
from vault.customer_models import CardReview, CustomerCard
from vault.errors import Conflict, Forbidden, Invalid
from vault.models import Dossier, DossierStatus, Grade, Role, User
from vault.services import notifications
from vault.services.card_fields import STAGES, add_history, interval_months
from vault.services.cards import card_of, clean_reason, may_edit
from vault.services.common import get_dossier
from vault.services.dossiers import completeness
from vault.services.fields import parse_date

log = logging.getLogger("dossier.reviews")

RESULTS = ("confirmed", "corrected")
QUEUE_ALL = frozenset({Role.ARCHIVIST, Role.MANAGER})


@dataclass(frozen=True)
class DueReview:
    dossier: Dossier
    due_on: date
    overdue_days: int
    backup_owner: str | None


def due_reviews(v: Vault, session: Session, actor: User, *, within_days: int = 0) -> list[DueReview]:
    """Active dossiers whose review is due within `within_days` (0: due or overdue today), earliest first.

    Archivists and managers see every dossier within clearance; anyone else only those they own or back up."""
    if not actor.active or actor.role in (Role.ADMIN, Role.SYSTEM):
        raise Forbidden("the review queue is for owners, archivists and managers", code="forbidden")
    if not 0 <= within_days <= 366:
        raise Invalid("within_days", "{field} must be between 0 and 366")
    today = v.clock.now().date()
    q = (select(Dossier, CustomerCard.backup_owner_id)
         .outerjoin(CustomerCard, CustomerCard.dossier_id == Dossier.id)
         .where(Dossier.secrecy.in_(policy.levels_within_clearance(actor)),
                Dossier.status == DossierStatus.ACTIVE, Dossier.next_review_date.is_not(None),
                Dossier.next_review_date <= today + timedelta(days=within_days)))
    if actor.role not in QUEUE_ALL:
        q = q.where(or_(Dossier.owner_id == actor.id, CustomerCard.backup_owner_id == actor.id))
    out = []
    for dossier, backup_id in session.execute(q.order_by(Dossier.next_review_date, Dossier.id)).all():
        backup = session.get(User, backup_id) if backup_id else None
        assert dossier.next_review_date is not None
        out.append(DueReview(dossier, dossier.next_review_date, max((today - dossier.next_review_date).days, 0),
                             None if backup is None else backup.username))
    return out


def _choice(field: str, raw: Any, allowed: tuple[str, ...]) -> str:
    if raw not in allowed:
        raise Invalid(field, "{field} must be one of {allowed}", params={"allowed": ", ".join(allowed)})
    return str(raw)


def record_review(v: Vault, session: Session, actor: User, dossier_id: int, body: Mapping[str, Any]) -> CardReview:
    """Record a review by the owner, backup owner or an archivist: decision, reason, next date; into the history."""
    dossier = get_dossier(session, actor, dossier_id)
    card = card_of(session, dossier)
    if not may_edit(actor, dossier, card) or actor.role is Role.SYSTEM:
        raise Forbidden("only the owner, the backup owner or an archivist reviews this dossier", code="forbidden")
    if dossier.status is not DossierStatus.ACTIVE:
        raise Conflict("only an active dossier is reviewed", code="dossier_not_active")
    result = _choice("result", body.get("result"), RESULTS)
    grade = Grade(_choice("grade", body.get("grade", dossier.grade.value), tuple(g.value for g in Grade)))
    stage = _choice("stage", body.get("stage", card.stage), STAGES)
    reason = clean_reason(body.get("reason"))
    now = v.clock.now()
    today = now.date()
    next_on = parse_date("next_review_on", body.get("next_review_on"))
    if next_on is None:
        next_on = add_months(today, interval_months(v.settings, grade))
    elif next_on <= today:
        raise Invalid("next_review_on", "{field} must be a date after today")
    review = CardReview(dossier_id=dossier.id, reviewed_on=today, at=now, reviewer_id=actor.id, result=result,
                        grade=grade.value, stage=stage, reason=reason, next_review_on=next_on,
                        checked=completeness(v, dossier))
    session.add(review)
    if grade is not dossier.grade:
        add_history(session, actor, dossier, "grade", dossier.grade.value, grade.value, reason, now)
        dossier.grade = grade
    if stage != card.stage:
        add_history(session, actor, dossier, "stage", card.stage, stage, reason, now)
        card.stage = stage
    previous = dossier.next_review_date
    add_history(session, actor, dossier, "review", None if previous is None else previous.isoformat(),
                f"{result}; next {next_on.isoformat()}", reason, now)
    card.last_review_on, dossier.next_review_date = today, next_on
    card.updated_at = dossier.updated_at = now
    session.flush()
    audit.record(session, actor, "card.reviewed", dossier, now=now, review_id=review.id, result=result,
                 grade=grade.value, stage=stage, reason=reason, next_review_on=next_on.isoformat())
    return review


def send_reminders(v: Vault) -> int:
    """Remind owners and backup owners of reviews due within `review_reminder_days`, once per due date (in
    their list, by e-mail when SMTP is configured); each notice names its dossier, so it follows clearance."""
    today = v.clock.now().date()
    horizon = today + timedelta(days=v.settings.review_reminder_days)
    sent = 0
    with v.session() as s:
        rows = s.execute(
            select(Dossier, CustomerCard).outerjoin(CustomerCard, CustomerCard.dossier_id == Dossier.id)
            .where(Dossier.status == DossierStatus.ACTIVE, Dossier.next_review_date.is_not(None),
                   Dossier.next_review_date <= horizon)
            .order_by(Dossier.id)
        ).all()
        for dossier, card in rows:
            card = card if card is not None else card_of(s, dossier)
            if card.reminded_for == dossier.next_review_date:
                continue
            due = dossier.next_review_date
            assert due is not None
            people = [dossier.owner] + ([u] if card.backup_owner_id and (u := s.get(User, card.backup_owner_id))
                                        else [])
            for user in people:
                if user.active and notifications.notify(
                        v, s, user, "review_due",
                        f"定期审查 {dossier.archive_no} {due.isoformat()} / review due: {dossier.archive_no}",
                        f"{dossier.archive_no} {dossier.customer_name}: review due on {due.isoformat()}",
                        about=dossier) is not None:
                    sent += 1
            card.reminded_for = due
    if sent:
        log.info("sent %s review reminder(s)", sent)
        notifications.send_pending_email(v)  # after the commit; withheld where the dossier is above the addressee
    return sent
