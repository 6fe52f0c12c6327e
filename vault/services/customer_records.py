"""The register of contact (往来记录): visits, calls, meetings, service, inquiries, complaints, suggestions,
follow-ups and transactions, appended and never edited or deleted: a correction is a new record naming the
one it corrects (`corrects`), which stays visible. Details are sealed with the dossier's key."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, DecimalException
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vault import audit
from vault.core import Vault
from vault.errors import Invalid, NotFound
from vault.models import Document, DocumentStatus, Dossier, Role, User
from vault.relationship_models import Contact, CustomerRecord
from vault.services import customer_access, sealed_fields
from vault.services.common import queue_customer_reindex
from vault.services.fields import clean_text, may_exist, parse_date

KINDS = ("visit", "call", "meeting", "service", "inquiry", "complaint", "suggestion", "follow_up", "transaction")
CURRENCIES = ("CNY", "USD", "EUR", "HKD", "JPY", "GBP", "TWD", "MOP", "SGD", "KRW", "AUD", "CAD", "CHF")
MAX_AMOUNT = Decimal("1e15")
COMPLAINT_DAYS = 7  # a complaint's deadline when none is given
_COMMON = {"kind", "occurred_at", "channel", "staff", "contact_ids", "summary", "details", "outcome",
           "next_action", "next_action_due", "assignee", "document_ids", "corrects", "follow_up_of"}
_BY_KIND = {"complaint": {"handler", "deadline"},
            "transaction": {"amount", "currency", "item", "payment_terms", "contract_document_id"}}


@dataclass
class RecordView:
    """A record as the caller may see it: when `masked`, only kind, date and staff (what it says is None)."""

    id: int
    dossier_id: int
    kind: str
    occurred_at: datetime
    staff: str
    masked: bool
    channel: str | None = None
    contact_ids: list[int] | None = None
    summary: str | None = None
    details: str | None = None
    outcome: str | None = None
    next_action: str | None = None
    next_action_due: date | None = None
    assignee: str | None = None
    document_ids: list[int] | None = None
    corrects: int | None = None
    corrected_by: list[int] = field(default_factory=list)
    follow_up_of: int | None = None
    status: str | None = None
    handler: str | None = None
    deadline: date | None = None
    result: str | None = None
    satisfaction: int | None = None
    overdue: bool = False
    amount: str | None = None
    currency: str | None = None
    item: str | None = None
    payment_terms: str | None = None
    contract_document_id: int | None = None
    created_at: datetime | None = None


def parse_amount(raw: Any) -> int:
    """An amount as hundredths of the currency unit; Invalid naming `amount` for what is not a money figure."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise Invalid("amount", "{field} must be a number like 12000.50")
    try:
        value = Decimal(str(raw).strip())
        finite = value.is_finite()
        too_big = finite and (value == 0 or abs(value) >= MAX_AMOUNT)
    except DecimalException:
        raise Invalid("amount", "{field} must be a number like 12000.50") from None
    if not finite:
        raise Invalid("amount", "{field} must be a number like 12000.50")
    if too_big:
        raise Invalid("amount", "{field} must be non-zero and less than 10^15 in size")
    if value != value.quantize(Decimal("0.01")):  # below 10^15, exact in the default 28 digits
        raise Invalid("amount", "{field} has more than two decimal places")
    return int(value * 100)


def format_amount(minor: int | None) -> str | None:
    """Hundredths as the decimal text the API returns ("12000.50")."""
    return None if minor is None else str((Decimal(minor) / 100).quantize(Decimal("0.01")))


def _occurred(raw: Any, now: datetime) -> datetime:
    if raw in (None, ""):
        raise Invalid("occurred_at", "{field} is required")
    text = str(raw).strip()
    try:
        when = datetime.fromisoformat(text) if "T" in text or " " in text else \
            datetime.combine(date.fromisoformat(text), time(0), UTC)
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except (ValueError, OverflowError):
        raise Invalid("occurred_at", "{field} must be a date or time like 2026-03-09 or 2026-03-09T14:30",
                      ) from None
    if when > now + timedelta(minutes=5):
        raise Invalid("occurred_at", "{field} lies in the future; a record tells what happened")
    return when


def colleague(session: Session, fieldname: str, raw: Any, dossier: Dossier) -> User | None:
    if raw in (None, ""):
        return None
    if not isinstance(raw, str) or len(raw) > 64:
        raise Invalid(fieldname, "{field} must be a username")
    user = session.scalar(select(User).where(User.username == raw))
    if user is None or not user.active or user.role in (Role.ADMIN, Role.SYSTEM) \
            or not customer_access.policy.can_see(user, dossier):
        raise Invalid(fieldname, "{field}: {username} is not an active colleague cleared for this dossier",
                      params={"username": raw})
    return user


def _ids(fieldname: str, raw: Any) -> list[int]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, list) or len(raw) > 50 or not all(
            isinstance(x, int) and not isinstance(x, bool) for x in raw):
        raise Invalid(fieldname, "{field} must be a list of ids (at most 50)")
    return sorted(set(raw))


def _own_documents(session: Session, dossier: Dossier, ids: list[int], fieldname: str) -> list[int]:
    found = set(session.scalars(select(Document.id).where(
        Document.id.in_([i for i in ids if may_exist(i)]), Document.dossier_id == dossier.id,
        Document.status != DocumentStatus.DESTROYED)).all()) if ids else set()
    stray = [i for i in ids if i not in found]
    if stray:
        raise Invalid(fieldname, "{field}: document {document_id} is not a document of this dossier",
                      params={"document_id": stray[0]})
    return ids


def _own_record(session: Session, dossier: Dossier, raw: Any, fieldname: str) -> CustomerRecord | None:
    if raw in (None, ""):
        return None
    rec = session.get(CustomerRecord, raw) if isinstance(raw, int) and not isinstance(raw, bool) \
        and may_exist(raw) else None
    if rec is None or rec.dossier_id != dossier.id:
        raise Invalid(fieldname, "{field}: record {record_id} is not a record of this dossier",
                      params={"record_id": raw})
    return rec


def refuse_nul(body: dict[str, Any]) -> None:
    """Invalid naming the first text field holding a NUL character (which PostgreSQL cannot store)."""
    for key, value in body.items():
        if isinstance(value, str) and "\x00" in value:
            raise Invalid(str(key), "{field} contains a NUL character; remove it")


def _parse(v: Vault, session: Session, actor: User, dossier: Dossier, body: dict[str, Any]) -> dict[str, Any]:
    refuse_nul(body)
    kind = body.get("kind")
    if kind not in KINDS:
        raise Invalid("kind", "{field} must be one of {allowed}", params={"allowed": ", ".join(KINDS)})
    unknown = sorted(set(body) - _COMMON - _BY_KIND.get(str(kind), set()))
    if unknown:
        raise Invalid(unknown[0], "{field} is not a field of a {kind} record", params={"kind": kind})
    now = v.clock.now()
    out: dict[str, Any] = {
        "kind": kind, "occurred_at": _occurred(body.get("occurred_at"), now),
        "channel": clean_text("channel", body.get("channel"), max_len=40),
        "summary": clean_text("summary", body.get("summary"), required=True, max_len=300),
        "outcome": clean_text("outcome", body.get("outcome"), max_len=1000),
        "next_action": clean_text("next_action", body.get("next_action"), max_len=300),
        "next_action_due": parse_date("next_action_due", body.get("next_action_due")),
        "staff": colleague(session, "staff", body.get("staff"), dossier) or actor,
    }
    details = body.get("details")
    if details is not None and not isinstance(details, str):
        raise Invalid("details", "{field} must be text")
    if details is not None and len(details) > 20_000:
        raise Invalid("details", "{field} is longer than {max_len} characters", params={"max_len": 20_000})
    out["details"] = (details or "").strip()
    assignee = colleague(session, "assignee", body.get("assignee"), dossier)
    if out["next_action_due"] is not None and assignee is None:
        assignee = out["staff"] if out["staff"].active else actor
    if assignee is not None and out["next_action_due"] is None:
        raise Invalid("next_action_due", "{field} is required when the next step has an assignee")
    out["assignee"] = assignee
    contact_ids = _ids("contact_ids", body.get("contact_ids"))
    if contact_ids:
        known = set(session.scalars(select(Contact.id).where(
            Contact.id.in_([i for i in contact_ids if may_exist(i)]), Contact.dossier_id == dossier.id)).all())
        stray = [i for i in contact_ids if i not in known]
        if stray:
            raise Invalid("contact_ids", "{field}: contact {contact_id} is not a contact of this dossier",
                          params={"contact_id": stray[0]})
    out["contact_ids"] = contact_ids
    out["document_ids"] = _own_documents(session, dossier, _ids("document_ids", body.get("document_ids")),
                                         "document_ids")
    out["corrects"] = _own_record(session, dossier, body.get("corrects"), "corrects")
    out["follow_up_of"] = _own_record(session, dossier, body.get("follow_up_of"), "follow_up_of")
    if kind == "complaint":
        out["handler"] = colleague(session, "handler", body.get("handler"), dossier) or dossier.owner
        out["deadline"] = parse_date("deadline", body.get("deadline")) or \
            out["occurred_at"].date() + timedelta(days=COMPLAINT_DAYS)
    if kind == "transaction":
        if body.get("amount") in (None, ""):
            raise Invalid("amount", "{field} is required")
        out["amount_minor"] = parse_amount(body.get("amount"))
        currency = body.get("currency")
        if currency not in CURRENCIES:
            raise Invalid("currency", "{field} must be one of {allowed}", params={"allowed": ", ".join(CURRENCIES)})
        out["currency"] = currency
        out["item"] = clean_text("item", body.get("item"), max_len=300)
        out["payment_terms"] = clean_text("payment_terms", body.get("payment_terms"), max_len=300)
        contract = body.get("contract_document_id")
        out["contract_document_id"] = None
        if contract not in (None, ""):
            if not isinstance(contract, int) or isinstance(contract, bool):
                raise Invalid("contract_document_id", "{field} must be a document id")
            _own_documents(session, dossier, [contract], "contract_document_id")
            out["contract_document_id"] = contract
            if contract not in out["document_ids"]:
                out["document_ids"] = sorted([*out["document_ids"], contract])
    return out


def add_record(v: Vault, session: Session, actor: User, dossier_id: int, body: dict[str, Any]) -> RecordView:
    """Append a record to a dossier's register (owner or archivist); all checked before anything is written."""
    dossier = customer_access.visible_dossier(session, actor, dossier_id)
    customer_access.require_add(session, actor, dossier)
    data = _parse(v, session, actor, dossier, body)
    now = v.clock.now()
    original: CustomerRecord | None = data["corrects"]
    rec = CustomerRecord(
        dossier_id=dossier.id, kind=data["kind"], occurred_at=data["occurred_at"], channel=data["channel"],
        staff_id=data["staff"].id, contact_ids=data["contact_ids"], summary=data["summary"],
        details_sealed=sealed_fields.seal_value(v, session, dossier.id, "record.details", data["details"])
        if data["details"] else None,
        outcome=data["outcome"], next_action=data["next_action"], next_action_due=data["next_action_due"],
        assignee_id=None if data["assignee"] is None else data["assignee"].id, document_ids=data["document_ids"],
        corrects_id=None if original is None else original.id,
        follow_up_of_id=None if data["follow_up_of"] is None else data["follow_up_of"].id,
        result="", item=data.get("item", ""), payment_terms=data.get("payment_terms", ""),
        amount_minor=data.get("amount_minor"), currency=data.get("currency"),
        contract_document_id=data.get("contract_document_id"), created_at=now, created_by_id=actor.id)
    if data["kind"] == "complaint":
        rec.status = original.status if original is not None and original.status else "received"
        rec.handler_id = data["handler"].id
        rec.deadline = data["deadline"]
        rec.status_changed_at = now
    session.add(rec)
    session.flush()
    queue_customer_reindex(session, [dossier.id], now)  # the record's text becomes searchable (to content readers)
    audit.record(session, actor, "record.added", rec, now=now, dossier_id=dossier.id, kind=rec.kind,
                 corrects=rec.corrects_id, follow_up_of=rec.follow_up_of_id,
                 sealed_details=rec.details_sealed is not None)
    return view(v, session, rec, readable=True, today=now.date())


def same_record(v: Vault, session: Session, actor: User, dossier_id: int,
                body: dict[str, Any]) -> CustomerRecord | None:
    """An import's natural key: the dossier's record of the same kind, time and summary, if there is one
    (records are never edited, so a row met again is left as it is)."""
    dossier = customer_access.visible_dossier(session, actor, dossier_id)
    if body.get("kind") not in KINDS:
        return None  # refused with its reason by `add_record`
    when = _occurred(body.get("occurred_at"), v.clock.now())
    summary = clean_text("summary", body.get("summary"), required=True, max_len=300)
    return session.scalar(select(CustomerRecord).where(
        CustomerRecord.dossier_id == dossier.id, CustomerRecord.kind == body["kind"],
        CustomerRecord.occurred_at == when, CustomerRecord.summary == summary).limit(1))


def corrected_ids(session: Session, dossier_id: int) -> dict[int, list[int]]:
    """For each record of the dossier that a later one corrects: the ids of its corrections."""
    out: dict[int, list[int]] = {}
    for rec_id, corrects in session.execute(select(CustomerRecord.id, CustomerRecord.corrects_id).where(
            CustomerRecord.dossier_id == dossier_id, CustomerRecord.corrects_id.is_not(None))).all():
        if corrects is not None:
            out.setdefault(corrects, []).append(rec_id)
    return out


def is_overdue(rec: CustomerRecord, today: date) -> bool:
    """A complaint still received or in handling after its deadline."""
    return rec.kind == "complaint" and rec.status in ("received", "handling") and rec.deadline is not None \
        and rec.deadline < today


def view(v: Vault, session: Session, rec: CustomerRecord, *, readable: bool, today: date,
         corrected_by: list[int] | None = None) -> RecordView:
    """The record as a caller sees it: kind, date and staff only unless `readable`."""
    base = RecordView(rec.id, rec.dossier_id, rec.kind, rec.occurred_at, rec.staff.username, not readable,
                      corrected_by=corrected_by or [], created_at=rec.created_at)
    if not readable:
        return base
    base.channel, base.contact_ids, base.summary = rec.channel, list(rec.contact_ids), rec.summary
    base.details = sealed_fields.open_value(v, session, rec.dossier_id, "record.details", rec.details_sealed) or ""
    base.outcome, base.next_action, base.next_action_due = rec.outcome, rec.next_action, rec.next_action_due
    base.assignee = None if rec.assignee is None else rec.assignee.username
    base.document_ids, base.corrects, base.follow_up_of = list(rec.document_ids), rec.corrects_id, rec.follow_up_of_id
    if rec.kind == "complaint":
        base.status, base.deadline, base.result = rec.status, rec.deadline, rec.result
        base.handler = None if rec.handler is None else rec.handler.username
        base.satisfaction, base.overdue = rec.satisfaction, is_overdue(rec, today)
    if rec.kind == "transaction":
        base.amount, base.currency = format_amount(rec.amount_minor), rec.currency
        base.item, base.payment_terms = rec.item, rec.payment_terms
        base.contract_document_id = rec.contract_document_id
    return base


def may_read_record(session: Session, actor: User, rec: CustomerRecord, now: datetime) -> bool:
    """Content readers of the dossier, and the complaint's handler or the next step's assignee for that record."""
    if customer_access.can_read_content(session, actor, rec.dossier, now):
        return True
    return customer_access.policy.can_see(actor, rec.dossier) and actor.id in (rec.handler_id, rec.assignee_id)


def list_records(v: Vault, session: Session, actor: User, dossier_id: int,
                 kind: str | None = None) -> tuple[list[RecordView], bool]:
    """The dossier's records, newest first, and whether the actor reads them; a read of content is audited."""
    dossier = customer_access.visible_dossier(session, actor, dossier_id)
    if kind not in (None, "") and kind not in KINDS:
        raise Invalid("kind", "{field} must be one of {allowed}", params={"allowed": ", ".join(KINDS)})
    now = v.clock.now()
    readable = customer_access.can_read_content(session, actor, dossier, now)
    q = select(CustomerRecord).where(CustomerRecord.dossier_id == dossier.id)
    if kind:
        q = q.where(CustomerRecord.kind == kind)
    rows = session.scalars(q.order_by(CustomerRecord.occurred_at.desc(), CustomerRecord.id.desc())).all()
    corrections = corrected_ids(session, dossier.id)
    views = [view(v, session, r, readable=readable or may_read_record(session, actor, r, now), today=now.date(),
                  corrected_by=corrections.get(r.id)) for r in rows]
    shown = [x.id for x in views if not x.masked]
    if shown:
        audit.record(session, actor, "records.read", dossier, now=now, records=shown)
    return views, readable


def get_record(session: Session, actor: User, record_id: int) -> CustomerRecord:
    """A record of a dossier the actor may see; NotFound otherwise (whether it exists or not)."""
    rec = session.get(CustomerRecord, record_id) if may_exist(record_id) else None
    if rec is None or not customer_access.policy.can_see(actor, rec.dossier):
        raise NotFound("record {record_id} not found", params={"record_id": record_id}, code="record_not_found")
    return rec


def yearly_totals(v: Vault, session: Session, actor: User, dossier_id: int) -> list[dict[str, Any]] | None:
    """Transaction totals per year and currency (corrected records replaced by their corrections), or None
    when the actor may not read the dossier's content."""
    dossier = customer_access.visible_dossier(session, actor, dossier_id)
    if not customer_access.can_read_content(session, actor, dossier, v.clock.now()):
        return None
    superseded = set(corrected_ids(session, dossier.id))
    sums: dict[tuple[int, str], tuple[int, int]] = {}
    for rec in session.scalars(select(CustomerRecord).where(CustomerRecord.dossier_id == dossier.id,
                                                            CustomerRecord.kind == "transaction")):
        if rec.id in superseded or rec.amount_minor is None or rec.currency is None:
            continue
        key = (rec.occurred_at.year, rec.currency)
        total, count = sums.get(key, (0, 0))
        sums[key] = (total + rec.amount_minor, count + 1)
    return [{"year": y, "currency": c, "total": format_amount(t), "count": n}
            for (y, c), (t, n) in sorted(sums.items(), reverse=True)]
