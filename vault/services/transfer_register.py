"""The receipt register (接收登记) and overdue transfers: what the ledgers read, what the worker runs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import false, select
from sqlalchemy.orm import Session, object_session

from vault import audit, policy
from vault.core import Vault
from vault.errors import Forbidden, Invalid
from vault.models import Document, Dossier, Role, User
from vault.paper_models import OPEN_TRANSFER_STATES, Transfer, TransferItem, TransferStatus
from vault.services.fields import may_exist, parse_date
from vault.services.notifications import notify, send_pending_email

RECEIPT_ROLES = (Role.ARCHIVIST, Role.MANAGER, Role.LEGAL, Role.SYSTEM)


def list_receipts(session: Session, actor: User, filters: Mapping[str, Any] | None = None) -> list[Transfer]:
    """The receipt register: received transfers in receipt order, within the actor's clearance.

    For the ledgers (archivist, manager, legal). Filters: ``since`` / ``until`` (dates, inclusive, of the
    receipt), ``dossier_id``, ``received_by`` (username), ``sender`` (username). Each row's items carry
    their state and the document (with its item number) they became."""
    if not actor.active or actor.role not in RECEIPT_ROLES:
        raise Forbidden("your role ({role}) may not do this ({action})",
                        params={"role": actor.role.value, "action": "receipts"}, code="forbidden")
    filters = filters or {}
    q = (select(Transfer).join(Dossier, Dossier.id == Transfer.dossier_id)
         .where(Transfer.status == TransferStatus.RECEIVED,
                Dossier.secrecy.in_(policy.levels_within_clearance(actor))))
    since, until = parse_date("since", filters.get("since")), parse_date("until", filters.get("until"))
    if since is not None:
        q = q.where(Transfer.received_at >= _start(since))
    if until is not None:
        q = q.where(Transfer.received_at < _start(date.fromordinal(until.toordinal() + 1)))
    if filters.get("dossier_id") not in (None, ""):
        try:
            dossier_id = int(filters["dossier_id"])
        except (TypeError, ValueError):
            raise Invalid("dossier_id", "dossier_id must be a number") from None
        q = q.where(Transfer.dossier_id == dossier_id if may_exist(dossier_id) else false())
    for key, column in (("received_by", Transfer.received_by_id), ("sender", Transfer.sender_id)):
        if filters.get(key):
            user_id = session.scalar(select(User.id).where(User.username == filters[key]))
            q = q.where(column == (user_id if user_id is not None else -1))
    return list(session.scalars(q.order_by(Transfer.received_at, Transfer.id)).all())


def _start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def overdue_transfers(v: Vault, session: Session, actor: User) -> list[Transfer]:
    """Transfers not received by their deadline, oldest deadline first, within the actor's clearance."""
    today = v.clock.now().date()
    q = (select(Transfer).join(Dossier, Dossier.id == Transfer.dossier_id)
         .where(Transfer.status.in_(OPEN_TRANSFER_STATES), Transfer.deadline < today,
                Dossier.secrecy.in_(policy.levels_within_clearance(actor))))
    return list(session.scalars(q.order_by(Transfer.deadline, Transfer.id)).all())


def process_overdue_transfers(v: Vault, session: Session, actor: User) -> list[Transfer]:
    """Tell the sender and the managers once about each transfer past its deadline; audited once.

    Idempotent: a transfer is processed once. The worker and `dossier transfers overdue` call it."""
    if actor.role not in (Role.ARCHIVIST, Role.SYSTEM):
        raise Forbidden("your role ({role}) may not do this ({action})",
                        params={"role": actor.role.value, "action": "transfer.process_overdue"}, code="forbidden")
    now = v.clock.now()
    newly = [t for t in overdue_transfers(v, session, actor) if t.overdue_notified_at is None]
    if not newly:
        return []
    managers = list(session.scalars(select(User).where(User.role == Role.MANAGER, User.active.is_(True))))
    for transfer in newly:
        transfer.overdue_notified_at = now
        audit.record(session, actor, "transfer.overdue", transfer, now=now, deadline=transfer.deadline.isoformat(),
                     sender=transfer.sender.username, status=transfer.status.value)
        subject = (f"移交逾期 / Transfer #{transfer.id} overdue: {transfer.dossier.archive_no} was due "
                   f"{transfer.deadline.isoformat()}")
        body = "the papers have not been received by the archive; hand them over or ask the archivist"
        recipients = {transfer.sender_id: transfer.sender}
        for manager in managers:
            recipients.setdefault(manager.id, manager)
        for user in recipients.values():
            notify(v, session, user, "transfer.overdue", subject, body, about=transfer.dossier)
    return newly


def run_overdue_transfers(v: Vault) -> list[int]:
    """Process overdue transfers as the system account, then e-mail what is pending; the ids processed."""
    from vault.services.users import system_user

    with v.session() as s:
        newly = [t.id for t in process_overdue_transfers(v, s, system_user(s, v.clock.now()))]
    if newly:
        send_pending_email(v)
    return newly


def received_item(document: Document) -> TransferItem | None:
    """The transfer item a document was received as (None for an uploaded one): its listed pages, original."""
    session = object_session(document)
    if session is None:
        return None
    return session.scalars(select(TransferItem).where(TransferItem.document_id == document.id).limit(1)).first()
