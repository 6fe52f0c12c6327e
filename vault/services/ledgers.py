"""The archive's ledgers (台帐) as CSV, XLSX or PDF: the customer ledger (客户一览表 / 档案总目录), the
checkout register (借阅登记表), the destruction register (销毁清册), the receipt register (接收登记)
and an audit extract.

Each ledger is one entry of `LEDGERS`: its columns and a function giving the row count and the rows.
Rows follow the lists' clearance rules exactly: a dossier above the caller's clearance is neither a
row nor counted (`policy.levels_within_clearance`), a destruction batch holding any of its documents
is left out whole (`policy.batches_above_clearance`), audit events about it too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import IO, Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from vault import audit, policy
from vault.core import Vault
from vault.errors import Invalid, NotFound
from vault.models import (
    AuditEvent,
    Checkout,
    CheckoutDocument,
    CheckoutStatus,
    DestructionBatch,
    DestructionItem,
    DestructionStatus,
    Document,
    Dossier,
    DossierStatus,
    Grade,
    User,
)
from vault.services import exports
from vault.services.audit_log import events_within_clearance
from vault.services.exports import Column
from vault.services.periods import Period, parse_period
from vault.services.transfer_register import list_receipts

CHUNK = 500
Rows = tuple[int, Iterator[dict[str, Any]]]


@dataclass(frozen=True)
class Filters:
    """What a ledger is narrowed to; empty strings and None mean no filter."""

    industry: str = ""
    region: str = ""
    grade: Grade | None = None
    owner: str = ""
    status: str = ""
    period: Period | None = None
    actor: str = ""
    action: str = ""

    def as_audit(self) -> dict[str, str]:
        """The filters for the audit record (names and plain values only)."""
        out = {k: str(getattr(self, k)) for k in ("industry", "region", "owner", "status", "actor", "action")
               if getattr(self, k)}
        if self.grade:
            out["grade"] = self.grade.value
        if self.period:
            out["period"] = self.period.name
        return out


@dataclass(frozen=True)
class Ledger:
    """One ledger: its names, columns, the status values it filters by, and its rows."""

    name: str
    zh: str
    en: str
    columns: tuple[Column, ...]
    statuses: tuple[str, ...]
    rows: Callable[[Vault, Session, User, Filters], Rows]
    action: str = "ledger.view"

    def title(self, lang: str) -> str:
        return self.zh if lang.startswith("zh") else self.en


def parse_filters(args: Mapping[str, Any], statuses: tuple[str, ...]) -> Filters:
    """Filters from query arguments; 422 naming the field and the accepted values for a bad one."""
    def text(name: str) -> str:
        return str(args.get(name) or "").strip()[:200]

    grade = None
    if text("grade"):
        try:
            grade = Grade(text("grade").upper())
        except ValueError:
            raise Invalid("grade", "{field} must be one of: {allowed}", params={"allowed": "A, B, C, D"}) from None
    status = text("status").lower()
    if status and status not in statuses:
        raise Invalid("status", "{field} must be one of: {allowed}", params={"allowed": ", ".join(statuses)})
    period = parse_period(text("period")) if text("period") else None
    return Filters(industry=text("industry"), region=text("region"), grade=grade, owner=text("owner"),
                   status=status, period=period, actor=text("actor"), action=text("action"))


def _username(session: Session) -> dict[int, str]:
    return dict(session.execute(select(User.id, User.username)).all())


def _dossier_where(session: Session, actor: User, f: Filters) -> list[Any]:
    """The clearance rule and the dossier filters, as query conditions on Dossier."""
    where: list[Any] = [Dossier.secrecy.in_(policy.levels_within_clearance(actor))]
    if f.industry:
        where.append(Dossier.industry == f.industry)
    if f.region:
        where.append(Dossier.region == f.region)
    if f.grade:
        where.append(Dossier.grade == f.grade)
    if f.owner:
        owner = session.scalar(select(User.id).where(User.username == f.owner))
        where.append(Dossier.owner_id == (owner if owner is not None else -1))
    return where


@lru_cache(maxsize=16384)
def _word_pinyin(word: str) -> tuple[str, ...]:
    from pypinyin import lazy_pinyin  # its dictionaries take ~55 MB: loaded by the first ledger, not at start

    return tuple(lazy_pinyin(word))


def sort_key(name: str) -> tuple[str, str, str]:
    """(sort key, pinyin initials, name): Chinese names sort by their pinyin among Latin ones.

    The name is cut into words as `lazy_pinyin` itself does (so 银行 reads yin hang) and each word's
    reading is cached: company names repeat their words (有限公司, 科技), which makes this ~4x faster."""
    from pypinyin.seg.simpleseg import seg

    key = " ".join(s for word in seg(name) for s in _word_pinyin(word)).lower()
    return key, initials_of(key, name), name


def initials_of(key: str, name: str) -> str:
    """The pinyin initials of a name that has Chinese characters in it (from its sort key); else ''."""
    if not any("\u3400" <= ch <= "\u9fff" for ch in name):
        return ""
    return "".join(s[0] for s in key.split(" ") if s and s[0].isalnum()).upper()


# -- customers ---------------------------------------------------------------------------------------

def _customers(v: Vault, session: Session, actor: User, f: Filters) -> Rows:
    where = _dossier_where(session, actor, f)
    if f.status:
        where.append(Dossier.status == DossierStatus(f.status))
    if f.period:
        where.append(and_(Dossier.created_at >= f.period.start, Dossier.created_at < f.period.end))
    # only (reading, id) per dossier is held for the sort: 100,000 of them are ~20 MB
    keyed = [(sort_key(name)[0], id_) for id_, name in
             session.execute(select(Dossier.id, Dossier.customer_name).where(*where))]
    keyed.sort()
    return len(keyed), _customer_rows(session, keyed)


def _customer_rows(session: Session, order: list[tuple[str, int]]) -> Iterator[dict[str, Any]]:
    users = _username(session)
    cols = (Dossier.id, Dossier.customer_name, Dossier.archive_no, Dossier.industry, Dossier.region,
            Dossier.owner_id, Dossier.grade, Dossier.customer_type, Dossier.status, Dossier.updated_at)
    for i in range(0, len(order), CHUNK):
        part = order[i:i + CHUNK]
        found = {r[0]: r for r in session.execute(select(*cols).where(Dossier.id.in_([x[1] for x in part])))}
        for n, (key, id_) in enumerate(part, start=i + 1):
            r = found.get(id_)
            if r is None:
                continue
            yield {"no": n, "initials": initials_of(key, r[1]), "customer_name": r[1], "archive_no": r[2],
                   "industry": r[3], "region": r[4], "owner": users.get(r[5], ""), "grade": r[6], "customer_type": r[7],
                   "status": r[8], "updated_at": r[9]}


# -- checkouts ---------------------------------------------------------------------------------------

def _checkouts(v: Vault, session: Session, actor: User, f: Filters) -> Rows:
    now = v.clock.now()
    where = _dossier_where(session, actor, f)
    late = and_(Checkout.status == CheckoutStatus.ACTIVE, Checkout.due_at.is_not(None), Checkout.due_at <= now)
    if f.status == "overdue":
        where.append(late)
    elif f.status:
        where.append(Checkout.status == CheckoutStatus(f.status))
        if f.status == CheckoutStatus.ACTIVE.value:
            where.append(~late)
    if f.period:
        where.append(and_(Checkout.requested_at >= f.period.start, Checkout.requested_at < f.period.end))
    base = select(Checkout.id).join(Dossier, Dossier.id == Checkout.dossier_id).where(*where)
    ids = list(session.scalars(base.order_by(Checkout.requested_at, Checkout.id)))
    return len(ids), _checkout_rows(v, session, ids)


def _checkout_rows(v: Vault, session: Session, ids: list[int]) -> Iterator[dict[str, Any]]:
    now = v.clock.now()
    users = _username(session)
    for i in range(0, len(ids), CHUNK):
        part = ids[i:i + CHUNK]
        titles: dict[int, list[str]] = {}
        for cid, title in session.execute(select(CheckoutDocument.checkout_id, Document.title)
                                          .join(Document, Document.id == CheckoutDocument.document_id)
                                          .where(CheckoutDocument.checkout_id.in_(part))
                                          .order_by(Document.id)):
            titles.setdefault(cid, []).append(title)
        rows = session.execute(select(Checkout, Dossier.archive_no, Dossier.customer_name)
                               .join(Dossier, Dossier.id == Checkout.dossier_id)
                               .where(Checkout.id.in_(part)).order_by(Checkout.requested_at, Checkout.id)).all()
        for c, archive_no, customer in rows:
            overdue = c.status is CheckoutStatus.ACTIVE and c.due_at is not None and c.due_at <= now
            approved = c.decided_by_id if c.status is not CheckoutStatus.REJECTED else None
            yield {"id": c.id, "requested_at": c.requested_at, "requester": users.get(c.requester_id, ""),
                   "archive_no": archive_no, "customer_name": customer, "kind": c.kind,
                   "documents": "; ".join(titles.get(c.id, [])) or "*", "purpose": c.purpose,
                   "approved_by": users.get(approved, "") if approved else "", "out_at": c.active_from,
                   "due_at": c.due_at, "returned_at": c.returned_at or c.received_at,
                   "status": "overdue" if overdue else c.status}
        session.expunge_all()


# -- destructions ------------------------------------------------------------------------------------

def _destructions(v: Vault, session: Session, actor: User, f: Filters) -> Rows:
    where: list[Any] = [DestructionBatch.id.not_in(policy.batches_above_clearance(actor))]
    if f.status:
        where.append(DestructionBatch.status == DestructionStatus(f.status))
    if f.period:
        where.append(or_(and_(DestructionBatch.proposed_at >= f.period.start,
                              DestructionBatch.proposed_at < f.period.end),
                         and_(DestructionBatch.executed_at >= f.period.start,
                              DestructionBatch.executed_at < f.period.end)))
    q = (select(DestructionItem, DestructionBatch, Dossier.customer_name)
         .join(DestructionBatch, DestructionBatch.id == DestructionItem.batch_id)
         .join(Document, Document.id == DestructionItem.document_id)
         .join(Dossier, Dossier.id == Document.dossier_id).where(*where)
         .order_by(DestructionBatch.id, DestructionItem.archive_no, DestructionItem.document_id))
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0

    def rows() -> Iterator[dict[str, Any]]:
        users = _username(session)
        for item, batch, customer in session.execute(q.execution_options(yield_per=CHUNK)):
            yield {"batch": batch.id, "status": batch.status, "archive_no": item.archive_no,
                   "customer_name": customer, "title": item.title, "doc_type": item.doc_type,
                   "doc_date": item.doc_date, "due_on": item.due_on, "retention_basis": item.retention_basis,
                   "reason": batch.reason, "proposed_by": users.get(batch.proposed_by_id, ""),
                   "manager": users.get(batch.manager_approver_id or 0, ""),
                   "legal": users.get(batch.legal_approver_id or 0, ""),
                   "executed_by": users.get(batch.executed_by_id or 0, ""), "executed_at": batch.executed_at}
    return total, rows()


# -- receipts ----------------------------------------------------------------------------------------

def _receipts(v: Vault, session: Session, actor: User, f: Filters) -> Rows:
    since = until = None
    if f.period:
        since = f.period.start.date().isoformat()
        until = (f.period.end - timedelta(microseconds=1)).date().isoformat()
    transfers = list_receipts(session, actor, {"since": since, "until": until})
    if f.owner:
        transfers = [t for t in transfers if t.sender.username == f.owner]

    def rows() -> Iterator[dict[str, Any]]:
        for t in transfers:
            states = [i.state.value for i in t.items if i.state is not None]
            yield {"receipt_no": t.receipt_no, "received_at": t.received_at, "archive_no": t.dossier.archive_no,
                   "customer_name": t.dossier.customer_name, "sender": t.sender.username,
                   "received_by": t.received_by.username if t.received_by else "",
                   "items": len(t.items), "present": states.count("present"),
                   "differs": states.count("differs"), "missing": states.count("missing"),
                   "pages": sum(i.pages for i in t.items if i.state is not None and i.state.value != "missing"),
                   "sent_at": t.sent_at, "deadline": t.deadline}
    return len(transfers), rows()


# -- audit extract -----------------------------------------------------------------------------------

def _audit(v: Vault, session: Session, actor: User, f: Filters) -> Rows:
    policy.require(actor, "audit.list")
    where: list[Any] = [events_within_clearance(actor)]
    if f.period:
        where.append(and_(AuditEvent.at >= f.period.start, AuditEvent.at < f.period.end))
    if f.actor:
        where.append(AuditEvent.actor_name == f.actor)
    if f.action:
        where.append(AuditEvent.action.like(f.action[:-1] + "%") if f.action.endswith("*")
                     else AuditEvent.action == f.action)
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(*where)) or 0
    q = (select(AuditEvent.seq, AuditEvent.at, AuditEvent.actor_name, AuditEvent.action, Dossier.archive_no,
                AuditEvent.document_id, AuditEvent.details)
         .outerjoin(Dossier, Dossier.id == AuditEvent.dossier_id).where(*where).order_by(AuditEvent.seq))

    def rows() -> Iterator[dict[str, Any]]:
        for seq, at, who, action, archive_no, document_id, details in session.execute(
                q.execution_options(yield_per=CHUNK)):
            text = json.dumps(json.loads(details), ensure_ascii=False) if details else ""
            yield {"seq": seq, "at": at, "actor": who, "action": action, "archive_no": archive_no or "",
                   "document_id": document_id, "details": text[:500]}
    return total, rows()


def _c(key: str, zh: str, en: str, width: float = 1.0) -> Column:
    return Column(key, zh, en, width)


LEDGERS: dict[str, Ledger] = {ledger.name: ledger for ledger in (
    Ledger("customers", "客户一览表（档案总目录）", "Customer ledger (archive catalogue)", (
        _c("no", "序号", "No.", 0.5), _c("initials", "拼音首字母", "Initials", 0.8),
        _c("customer_name", "客户名称", "Customer", 2.5), _c("archive_no", "档案号", "Archive no", 1.5),
        _c("industry", "行业", "Industry"), _c("region", "地区", "Region"), _c("owner", "负责人", "Owner"),
        _c("grade", "等级", "Grade", 0.5), _c("customer_type", "类型", "Type", 0.8),
        _c("status", "状态", "Status", 0.8), _c("updated_at", "最后更新", "Last update", 1.6)),
        tuple(s.value for s in DossierStatus), _customers),
    Ledger("checkouts", "借阅登记表", "Checkout register", (
        _c("id", "编号", "No.", 0.5), _c("requested_at", "申请时间", "Requested", 1.4),
        _c("requester", "借阅人", "Borrower"), _c("archive_no", "档案号", "Archive no", 1.3),
        _c("customer_name", "客户名称", "Customer", 1.6), _c("kind", "方式", "Kind", 0.6),
        _c("documents", "借阅文件", "Documents", 1.6), _c("purpose", "用途", "Purpose", 1.4),
        _c("approved_by", "批准人", "Approved by"), _c("out_at", "借出", "Out", 1.4),
        _c("due_at", "应还", "Due", 1.4), _c("returned_at", "归还", "Returned", 1.4),
        _c("status", "状态", "Status", 0.8)),
        tuple(s.value for s in CheckoutStatus) + ("overdue",), _checkouts),
    Ledger("destructions", "销毁清册", "Destruction register", (
        _c("batch", "批次", "Batch", 0.5), _c("status", "状态", "Status", 0.7),
        _c("archive_no", "档案号", "Archive no", 1.3), _c("customer_name", "客户名称", "Customer", 1.5),
        _c("title", "文件标题", "Title", 1.6), _c("doc_type", "类型", "Type", 0.8),
        _c("doc_date", "文件日期", "Date", 0.9), _c("due_on", "到期", "Due", 0.9),
        _c("retention_basis", "保管期限依据", "Retention basis", 1.4), _c("reason", "销毁理由", "Reason", 1.4),
        _c("proposed_by", "提议人", "Proposed by", 0.8), _c("manager", "管理层审批", "Manager", 0.8),
        _c("legal", "法务审批", "Legal", 0.8), _c("executed_by", "执行人", "Executed by", 0.8),
        _c("executed_at", "执行时间", "Executed", 1.3)),
        tuple(s.value for s in DestructionStatus), _destructions),
    Ledger("receipts", "接收登记簿", "Receipt register", (
        _c("receipt_no", "接收编号", "Receipt no", 1.2), _c("received_at", "接收时间", "Received", 1.4),
        _c("archive_no", "档案号", "Archive no", 1.3), _c("customer_name", "客户名称", "Customer", 1.8),
        _c("sender", "移交人", "Handed over by"), _c("received_by", "接收人", "Received by"),
        _c("items", "件数", "Items", 0.5), _c("present", "相符", "Present", 0.6),
        _c("differs", "不符", "Differs", 0.6), _c("missing", "缺失", "Missing", 0.6),
        _c("pages", "页数", "Pages", 0.5), _c("sent_at", "移交时间", "Sent", 1.4),
        _c("deadline", "移交期限", "Deadline", 0.9)),
        (), _receipts),
    Ledger("audit", "审计摘录", "Audit extract", (
        _c("seq", "序号", "Seq", 0.6), _c("at", "时间", "Time", 1.5), _c("actor", "用户", "User", 0.9),
        _c("action", "操作", "Action", 1.3), _c("archive_no", "档案号", "Archive no", 1.3),
        _c("document_id", "文件", "Document", 0.6), _c("details", "详情", "Details", 4)),
        (), _audit),
)}


@dataclass(frozen=True)
class Export:
    """What was written: the ledger, the format, the number of rows and a file name for the download."""

    ledger: str
    fmt: str
    rows: int
    filename: str


def get_ledger(actor: User, name: str) -> Ledger:
    """The ledger of that name, for a role that may read ledgers; 404 naming those that exist otherwise."""
    policy.require(actor, "ledger.view")
    ledger = LEDGERS.get(name)
    if ledger is None:
        raise NotFound("there is no ledger called {name}; the ledgers are: {names}",
                       params={"name": name[:40], "names": ", ".join(LEDGERS)}, code="ledger_not_found")
    return ledger


def export(v: Vault, session: Session, actor: User, name: str, fmt: str, args: Mapping[str, Any],
           out: IO[bytes], lang: str = "zh") -> Export:
    """Write the ledger `name` as `fmt` into `out`, filtered by `args` and the actor's clearance; audited."""
    ledger = get_ledger(actor, name)
    fmt = (fmt or "csv").lower()
    if fmt not in exports.FORMATS:
        raise Invalid("format", "{field} must be one of: {allowed}", params={"allowed": ", ".join(exports.FORMATS)})
    filters = parse_filters(args, ledger.statuses)
    total, rows = ledger.rows(v, session, actor, filters)
    if fmt == "pdf" and total > exports.PDF_MAX_ROWS:
        raise Invalid("format", "a PDF holds at most {limit} rows and this ledger has {rows}; narrow the filters "
                      "or download CSV or XLSX", params={"limit": exports.PDF_MAX_ROWS, "rows": total})
    title = ledger.title(lang)
    if fmt == "csv":
        written = exports.write_csv(out, ledger.columns, rows, lang)
    elif fmt == "xlsx":
        written = exports.write_xlsx(out, [(title, ledger.columns, rows)], lang)
    else:
        subtitle = " · ".join(f"{k}={val}" for k, val in filters.as_audit().items())
        written = exports.write_pdf(out, title, ledger.columns, rows, lang, subtitle=subtitle)
    audit.record(session, actor, "ledger.exported", now=v.clock.now(), ledger=name, format=fmt, rows=written,
                 filters=filters.as_audit())
    suffix = f"-{filters.period.name}" if filters.period else ""
    return Export(name, fmt, written, f"ledger-{name}{suffix}.{fmt}")
