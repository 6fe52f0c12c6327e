"""Transfers into the archive (移交/接收): the sender lists the items, a second person may check the list
and send it back with what is missing, the archivist receives item by item and registers the receipt;
each item received becomes a document (a paper original, no file yet) with the next item number."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import false, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vault import audit, policy
from vault.core import Vault
from vault.errors import Conflict, Forbidden, Invalid, NotFound
from vault.models import DocType, Document, DocumentStatus, Dossier, DossierStatus, Role, User
from vault.paging import Page
from vault.paper_models import (
    ItemState,
    ReceiptCounter,
    Transfer,
    TransferItem,
    TransferStatus,
)
from vault.services.cards import create_customer
from vault.services.common import get_dossier, queue_reindex
from vault.services.fields import clean_text, may_exist, parse_date
from vault.services.item_numbers import assign_item_no
from vault.services.workdays import deadline_after
from vault.services.workdays import working_days_after as working_days_after  # moved there; kept here

MAX_ITEMS = 500
MAX_PAGES = 100_000
DOC_TYPES_TEXT = ", ".join(t.value for t in DocType)
STATUS_FILTERS = ("sent", "returned", "checked", "received", "overdue")


def _item_text(index: int, field: str, raw: Any, *, required: bool = False, max_len: int = 300) -> str:
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise Invalid("items", "item {index}: {name} must be text", params={"index": index, "name": field})
    value = " ".join(raw.split())
    if required and not value:
        raise Invalid("items", "item {index}: {name} is required", params={"index": index, "name": field})
    if len(value) > max_len:
        raise Invalid("items", "item {index}: {name} is longer than {max_len} characters",
                      params={"index": index, "name": field, "max_len": max_len})
    return value


def _clean_item(index: int, raw: Any) -> dict[str, Any]:
    """One listed item as model values; Invalid naming the item (1-based) and what is wrong with it."""
    if not isinstance(raw, Mapping):
        raise Invalid("items", "item {index} must be an object with title, doc_type and pages",
                      params={"index": index})
    unknown = set(raw) - {"title", "doc_type", "doc_date", "pages", "original", "responsible", "remarks"}
    if unknown:
        raise Invalid("items", "item {index}: unknown field {name!r}",
                      params={"index": index, "name": sorted(unknown)[0]})
    try:
        doc_type = DocType(str(raw.get("doc_type")))
    except ValueError:
        raise Invalid("items", "item {index}: doc_type must be one of {allowed}, got {raw!r}",
                      params={"index": index, "allowed": DOC_TYPES_TEXT, "raw": raw.get("doc_type")}) from None
    pages = raw.get("pages")
    if not isinstance(pages, int) or isinstance(pages, bool) or not 1 <= pages <= MAX_PAGES:
        raise Invalid("items", "item {index}: pages must be a whole number from 1 to {max_pages}, got {raw!r}",
                      params={"index": index, "max_pages": MAX_PAGES, "raw": pages}, code="invalid_pages")
    original = raw.get("original", True)
    if not isinstance(original, bool):
        raise Invalid("items", "item {index}: original must be true (an original) or false (a copy)",
                      params={"index": index})
    try:
        doc_date = parse_date("doc_date", raw.get("doc_date"))
    except Invalid:
        raise Invalid("items", "item {index}: doc_date must be a date like 2026-03-09, got {raw!r}",
                      params={"index": index, "raw": raw.get("doc_date")}) from None
    return {"position": index, "title": _item_text(index, "title", raw.get("title"), required=True),
            "doc_type": doc_type, "doc_date": doc_date, "pages": pages, "original": original,
            "responsible": _item_text(index, "responsible", raw.get("responsible"), max_len=200),
            "remarks": _item_text(index, "remarks", raw.get("remarks"), max_len=1000)}


def clean_items(raw: Any) -> list[dict[str, Any]]:
    """The item list of a transfer, validated whole before anything is written."""
    if not isinstance(raw, list) or not raw:
        raise Invalid("items", "items must be a non-empty list of the papers handed over")
    if len(raw) > MAX_ITEMS:
        raise Invalid("items", "a transfer lists at most {max_items} items; split it",
                      params={"max_items": MAX_ITEMS})
    return [_clean_item(i, item) for i, item in enumerate(raw, start=1)]


def _open_dossier(session: Session, actor: User, dossier_id: Any) -> Dossier:
    if not isinstance(dossier_id, int) or isinstance(dossier_id, bool):
        raise Invalid("dossier_id", "dossier_id must be the dossier's number (an integer)")
    dossier = get_dossier(session, actor, dossier_id)
    if dossier.status is not DossierStatus.ACTIVE:
        raise Conflict("dossier {archive_no} is {status}; papers can be transferred only into an active dossier",
                       params={"archive_no": dossier.archive_no, "status": dossier.status.value},
                       code="dossier_not_active")
    return dossier


def _may_act(actor: User) -> None:
    if not actor.active or actor.role is Role.SYSTEM:
        raise Forbidden("your role ({role}) may not do this ({action})",
                        params={"role": actor.role.value, "action": "transfer"}, code="forbidden")


def create_transfer(v: Vault, session: Session, actor: User, body: Mapping[str, Any]) -> Transfer:
    """Hand papers over to the archive (any role, for a dossier it may see): the list is sent at once.

    For a customer the archive has never seen, ``customer`` (instead of ``dossier_id``) holds the new
    dossier's fields, validated as dossier creation validates; the dossier is opened in the same unit of
    work, so a refused transfer leaves no dossier behind."""
    _may_act(actor)
    unknown = set(body) - {"dossier_id", "customer", "items", "note", "business_date"}
    if unknown:
        name = sorted(unknown)[0]
        raise Invalid(name, "unknown field {name!r}", params={"name": name})
    new_customer = body.get("customer")
    if new_customer is not None and body.get("dossier_id") is not None:
        raise Invalid("customer", "give dossier_id (an existing dossier) or customer (a new one), not both")
    if new_customer is not None and not isinstance(new_customer, Mapping):
        raise Invalid("customer", "customer must be an object with the new dossier's fields (customer_name, ...)")
    if new_customer is None:
        dossier = _open_dossier(session, actor, body.get("dossier_id"))
    items = clean_items(body.get("items"))
    note = clean_text("note", body.get("note"), max_len=2000)
    now = v.clock.now()
    business = parse_date("business_date", body.get("business_date")) or now.date()
    if business > now.date():
        raise Invalid("business_date", "business_date cannot be in the future")
    if new_customer is not None:  # last, once the list is known good: nothing else can refuse after it
        dossier = create_customer(v, session, actor, new_customer, action="transfer.new_customer")
    transfer = Transfer(dossier=dossier, status=TransferStatus.SENT, note=note, business_date=business,
                        deadline=deadline_after(session, business, v.settings.transfer_deadline_working_days),
                        sender_id=actor.id, sent_at=now, items=[TransferItem(**i) for i in items])
    session.add(transfer)
    session.flush()
    opened: dict[str, Any] = {"new_dossier": dossier.archive_no} if new_customer is not None else {}
    audit.record(session, actor, "transfer.sent", transfer, now=now, items=len(items),
                 pages=sum(i["pages"] for i in items), deadline=transfer.deadline.isoformat(), **opened)
    return transfer


def get_transfer(session: Session, actor: User, transfer_id: int) -> Transfer:
    """A transfer of a dossier the actor may see, else NotFound."""
    transfer = session.get(Transfer, transfer_id) if may_exist(transfer_id) else None
    if transfer is None or not policy.can_see(actor, transfer.dossier):
        raise NotFound("transfer {transfer_id} not found", params={"transfer_id": transfer_id},
                       code="transfer_not_found")
    return transfer


def sees_all_transfers(actor: User) -> bool:
    return actor.active and actor.role in (Role.ARCHIVIST, Role.MANAGER, Role.LEGAL, Role.SYSTEM)


@dataclass(frozen=True)
class TransferActions:
    """What the actor may do with a transfer now: the buttons a page shows are the calls this module accepts."""

    may_check: bool  # a colleague of the sender, not an administrator
    may_resend: bool  # the sender, after a return
    may_receive: bool  # an archivist other than the sender
    may_confirm: bool  # the sender, once, after the receipt


def transfer_actions(actor: User, transfer: Transfer) -> TransferActions:
    """The actions of `TransferActions` open to the actor on this transfer in its present state."""
    status, sender = transfer.status, actor.id == transfer.sender_id
    return TransferActions(
        may_check=status is TransferStatus.SENT and not sender and actor.role is not Role.ADMIN,
        may_resend=status is TransferStatus.RETURNED and sender,
        may_receive=status in (TransferStatus.SENT, TransferStatus.CHECKED) and actor.role is Role.ARCHIVIST
        and not sender,
        may_confirm=status is TransferStatus.RECEIVED and sender and transfer.sender_confirmed_at is None,
    )


def list_transfers(v: Vault, session: Session, actor: User, filters: Mapping[str, Any], page: int,
                   per_page: int) -> Page:
    """Transfers within clearance: archivists, managers and legal see all; others those they sent or
    checked, and those of dossiers they own. Filters: status (incl. overdue), dossier_id, mine."""
    q = select(Transfer).join(Dossier, Dossier.id == Transfer.dossier_id).where(
        Dossier.secrecy.in_(policy.levels_within_clearance(actor)))
    mine = str(filters.get("mine") or "") in ("1", "true", "yes")
    if mine or not sees_all_transfers(actor):
        q = q.where(or_(Transfer.sender_id == actor.id, Transfer.checked_by_id == actor.id,
                        Transfer.returned_by_id == actor.id, Dossier.owner_id == actor.id))
    status = filters.get("status")
    today = v.clock.now().date()
    if status:
        if status not in STATUS_FILTERS:
            raise Invalid("status", "status must be one of {allowed}", params={"allowed": ", ".join(STATUS_FILTERS)})
        if status == "overdue":
            q = q.where(Transfer.status != TransferStatus.RECEIVED, Transfer.deadline < today)
        else:
            q = q.where(Transfer.status == TransferStatus(status))
    if filters.get("dossier_id"):
        try:
            dossier_id = int(filters["dossier_id"])
        except ValueError:
            raise Invalid("dossier_id", "dossier_id must be a number") from None
        q = q.where(Transfer.dossier_id == dossier_id if may_exist(dossier_id) else false())
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(Transfer.id.desc()).offset((page - 1) * per_page).limit(per_page)).all()
    return Page(list(rows), total, page, per_page)


def check_transfer(v: Vault, session: Session, actor: User, transfer_id: int, *, ok: Any,
                   missing: Any = None) -> Transfer:
    """A second person checks the list: confirms it, or sends it back saying what is missing."""
    _may_act(actor)
    transfer = get_transfer(session, actor, transfer_id)
    if actor.role is Role.ADMIN:
        raise Forbidden("administrators do not check transfers", code="forbidden")
    if actor.id == transfer.sender_id:
        raise Forbidden("nobody checks their own transfer; ask a colleague", code="own_transfer")
    if transfer.status is not TransferStatus.SENT:
        raise Conflict("transfer {id} is {status}; only a sent transfer is checked",
                       params={"id": transfer.id, "status": transfer.status.value}, code="transfer_not_sent")
    if not isinstance(ok, bool):
        raise Invalid("ok", "ok must be true (the list is complete) or false (send it back)")
    now = v.clock.now()
    if ok:
        transfer.status, transfer.checked_by_id, transfer.checked_at = TransferStatus.CHECKED, actor.id, now
        audit.record(session, actor, "transfer.checked", transfer, now=now)
    else:
        what = clean_text("missing", missing, required=True, max_len=2000)
        transfer.status, transfer.returned_by_id, transfer.returned_at = TransferStatus.RETURNED, actor.id, now
        transfer.return_note = what
        audit.record(session, actor, "transfer.returned", transfer, now=now, missing=what)
    return transfer


def resend_transfer(v: Vault, session: Session, actor: User, transfer_id: int, body: Mapping[str, Any]) -> Transfer:
    """The sender sends a returned transfer again, with the list completed (items replace the old list)."""
    transfer = get_transfer(session, actor, transfer_id)
    if actor.id != transfer.sender_id:
        raise Forbidden("only the sender sends a transfer again", code="not_sender")
    if transfer.status is not TransferStatus.RETURNED:
        raise Conflict("transfer {id} is {status}; only a returned transfer is sent again",
                       params={"id": transfer.id, "status": transfer.status.value}, code="transfer_not_returned")
    items = clean_items(body.get("items")) if "items" in body else None
    note = clean_text("note", body["note"], max_len=2000) if "note" in body else None
    now = v.clock.now()
    if items is not None:
        transfer.items.clear()
        session.flush()
        transfer.items.extend(TransferItem(**i) for i in items)
    if note is not None:
        transfer.note = note
    transfer.status, transfer.sent_at = TransferStatus.SENT, now
    audit.record(session, actor, "transfer.resent", transfer, now=now, items=len(transfer.items))
    return transfer


def _next_receipt_no(session: Session, year: int) -> str:
    """JS-<year>-<6 digits>: the next number of the year's receipt register (接收登记), never reused."""
    for _ in range(3):
        bumped = session.execute(
            update(ReceiptCounter).where(ReceiptCounter.year == year)
            .values(last_value=ReceiptCounter.last_value + 1).returning(ReceiptCounter.last_value)
        ).scalar_one_or_none()
        if bumped is not None:
            return f"JS-{year}-{bumped:06d}"
        try:
            with session.begin_nested():
                session.add(ReceiptCounter(year=year, last_value=0))
        except IntegrityError:
            continue
    raise Conflict("could not allocate a receipt number; try again")


def _clean_states(transfer: Transfer, raw: Any) -> dict[int, tuple[ItemState, str]]:
    if not isinstance(raw, list) or not raw:
        raise Invalid("items", "items must list every item of the transfer with its state")
    out: dict[int, tuple[ItemState, str]] = {}
    positions = {i.position for i in transfer.items}
    for entry in raw:
        if not isinstance(entry, Mapping):
            raise Invalid("items", "each entry needs index, state and note")
        index = entry.get("index")
        if not isinstance(index, int) or isinstance(index, bool) or index not in positions:
            raise Invalid("items", "index {raw!r} is not an item of this transfer (1 to {count})",
                          params={"raw": index, "count": len(positions)})
        if index in out:
            raise Invalid("items", "item {index} is listed twice", params={"index": index})
        try:
            state = ItemState(str(entry.get("state")))
        except ValueError:
            raise Invalid("items", "item {index}: state must be present, missing or differs",
                          params={"index": index}) from None
        note = _item_text(index, "note", entry.get("note"), max_len=1000)
        if state is ItemState.DIFFERS and not note:
            raise Invalid("items", "item {index}: say how it differs in the note", params={"index": index})
        out[index] = (state, note)
    left = sorted(positions - set(out))
    if left:
        raise Invalid("items", "items not received yet: {left}; give each a state",
                      params={"left": ", ".join(str(i) for i in left)})
    return out


def receive_transfer(v: Vault, session: Session, actor: User, transfer_id: int, body: Mapping[str, Any]) -> Transfer:
    """The archivist receives each item (present, missing, differs); the receipt is registered with a number,
    and each item at hand becomes a document of the dossier with the next item number."""
    transfer = get_transfer(session, actor, transfer_id)
    if not actor.active or actor.role is not Role.ARCHIVIST:
        raise Forbidden("only an archivist receives a transfer", code="forbidden")
    if actor.id == transfer.sender_id:
        raise Forbidden("nobody receives their own transfer; another archivist does", code="own_transfer")
    if transfer.status not in (TransferStatus.SENT, TransferStatus.CHECKED):
        raise Conflict("transfer {id} is {status}; only a sent or checked transfer is received",
                       params={"id": transfer.id, "status": transfer.status.value}, code="transfer_not_receivable")
    if transfer.dossier.status is not DossierStatus.ACTIVE:
        raise Conflict("dossier {archive_no} is {status}; papers can be transferred only into an active dossier",
                       params={"archive_no": transfer.dossier.archive_no, "status": transfer.dossier.status.value},
                       code="dossier_not_active")
    states = _clean_states(transfer, body.get("items"))
    now = v.clock.now()
    transfer.receipt_no = _next_receipt_no(session, now.year)
    transfer.status, transfer.received_by_id, transfer.received_at = TransferStatus.RECEIVED, actor.id, now
    counts = {s.value: 0 for s in ItemState}
    for item in transfer.items:
        state, note = states[item.position]
        item.state, item.receive_note = state, note or None
        counts[state.value] += 1
        if state is ItemState.MISSING:
            continue
        document = Document(dossier=transfer.dossier, doc_type=item.doc_type, title=item.title,
                            doc_date=item.doc_date, status=DocumentStatus.ACTIVE, created_at=now,
                            created_by_id=actor.id)
        session.add(document)
        assign_item_no(session, document)
        session.flush()
        item.document_id = document.id
        audit.record(session, actor, "document.registered", document, now=now, transfer_id=transfer.id,
                     receipt_no=transfer.receipt_no, item_no=document.item_no, doc_type=item.doc_type.value,
                     title=item.title, pages=item.pages, original=item.original, state=state.value)
    audit.record(session, actor, "transfer.received", transfer, now=now, receipt_no=transfer.receipt_no,
                 **counts)
    if counts[ItemState.PRESENT.value] + counts[ItemState.DIFFERS.value]:
        queue_reindex(session, transfer.dossier, now)  # the paper documents' titles become searchable
    return transfer


def confirm_transfer(v: Vault, session: Session, actor: User, transfer_id: int) -> Transfer:
    """The sender confirms the receipt as the archivist recorded it (both sides have then signed)."""
    transfer = get_transfer(session, actor, transfer_id)
    if actor.id != transfer.sender_id:
        raise Forbidden("only the sender confirms the receipt", code="not_sender")
    if transfer.status is not TransferStatus.RECEIVED:
        raise Conflict("transfer {id} is {status}; the sender confirms after the archivist has received it",
                       params={"id": transfer.id, "status": transfer.status.value}, code="transfer_not_received")
    if transfer.sender_confirmed_at is not None:
        raise Conflict("transfer {id} was confirmed already", params={"id": transfer.id}, code="already_confirmed")
    now = v.clock.now()
    transfer.sender_confirmed_at = now
    audit.record(session, actor, "transfer.confirmed", transfer, now=now, receipt_no=transfer.receipt_no)
    return transfer
