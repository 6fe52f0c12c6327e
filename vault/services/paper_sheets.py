"""The file's printed sheets (GB/T 9705 style): contents list (卷内文件目录), cover (案卷封面), record sheet
(备考表) and separator sheets, each with a QR code of `paper_codes.encode(archive_no[, doc_type])`.

The facts come from here, under the dossier's own rules (404 above clearance, as the dossier page);
document titles are dossier metadata and appear as they do on the dossier page. Rendering lives in
`paper_pdf`. Printing a sheet is audited (it names the dossier's documents)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from vault import audit
from vault.core import Vault
from vault.errors import Invalid
from vault.models import DocType, Document, DocumentStatus, Dossier, User
from vault.paper_models import ItemState, Transfer, TransferItem, TransferStatus
from vault.services import paper_pdf
from vault.services.common import get_dossier
from vault.services.item_numbers import item_code
from vault.services.retention import effective_rules

SHEETS = ("contents", "cover", "record-sheet", "separator")


@dataclass(frozen=True)
class ContentsRow:
    """One line of the contents list: a document with its running page range (None: no pages known)."""

    item_no: int | None
    item_code: str | None
    responsible: str
    title: str
    doc_date: date | None
    pages: int
    first_page: int | None
    last_page: int | None
    remarks: str
    doc_type: str


@dataclass(frozen=True)
class ReceiptNote:
    """An item that was missing or differed when a transfer was received (the record sheet lists them)."""

    receipt_no: str
    position: int
    title: str
    state: str
    note: str


@dataclass(frozen=True)
class DossierSheet:
    """Everything a printed sheet of a dossier shows."""

    archive_no: str
    customer_name: str
    secrecy: str
    retention_years: int | None  # None: permanent
    rows: list[ContentsRow]
    date_from: date | None
    date_to: date | None
    filed_by: str
    filed_at: datetime | None
    checked_by: str
    checked_at: datetime | None
    notes: list[ReceiptNote] = field(default_factory=list)

    @property
    def items(self) -> int:
        return len(self.rows)

    @property
    def total_pages(self) -> int:
        return sum(r.pages for r in self.rows)


def _who(user: User | None) -> str:
    if user is None:
        return ""
    return user.display_name or user.username


def _paper_items(session: Session, documents: Sequence[Document]) -> dict[int, TransferItem]:
    ids = [d.id for d in documents]
    if not ids:
        return {}
    return {i.document_id: i for i in session.scalars(select(TransferItem).where(TransferItem.document_id.in_(ids)))
            if i.document_id is not None}


def document_pages(document: Document, paper: TransferItem | None) -> int:
    """Pages of a document: its current scan's count, else the count listed when the paper was received."""
    version = document.current_version
    if version is not None and version.pages:
        return version.pages
    return paper.pages if paper is not None else 0


def sheet_facts(v: Vault, session: Session, dossier: Dossier) -> DossierSheet:
    """The dossier's sheet facts: documents in item-number order with running page numbers."""
    documents = sorted(dossier.documents, key=lambda d: (d.item_no is None, d.item_no or 0, d.id))
    paper = _paper_items(session, documents)
    rows: list[ContentsRow] = []
    next_page = 1
    for doc in documents:
        item = paper.get(doc.id)
        destroyed = doc.status is DocumentStatus.DESTROYED
        pages = 0 if destroyed else document_pages(doc, item)
        first, last = (next_page, next_page + pages - 1) if pages else (None, None)
        next_page += pages
        remarks = []
        if destroyed:
            remarks.append("destroyed")
        if item is not None:
            if not item.original:
                remarks.append("copy")
            if item.state is ItemState.DIFFERS and item.receive_note:
                remarks.append(item.receive_note)
            if item.remarks:
                remarks.append(item.remarks)
        rows.append(ContentsRow(doc.item_no, item_code(dossier.archive_no, doc.item_no),
                                (item.responsible if item is not None and item.responsible else dossier.customer_name),
                                doc.title, doc.doc_date, pages, first, last, "; ".join(remarks), doc.doc_type.value))
    dates = [d.doc_date for d in documents if d.doc_date is not None and d.status is DocumentStatus.ACTIVE]
    rules = effective_rules(v, session)
    types = {d.doc_type for d in documents if d.status is DocumentStatus.ACTIVE}
    years = [rules.get(t) for t in types]
    retention = None if (not years or any(y is None for y in years)) else max(y for y in years if y is not None)
    received = session.scalars(select(Transfer).where(Transfer.dossier_id == dossier.id,
                                                      Transfer.status == TransferStatus.RECEIVED)
                               .order_by(Transfer.received_at, Transfer.id)).all()
    latest = received[-1] if received else None
    notes = [ReceiptNote(t.receipt_no or "", i.position, i.title, i.state.value, i.receive_note or "")
             for t in received for i in t.items if i.state in (ItemState.MISSING, ItemState.DIFFERS)
             and i.state is not None]
    return DossierSheet(
        archive_no=dossier.archive_no, customer_name=dossier.customer_name, secrecy=dossier.secrecy.value,
        retention_years=retention if types else None, rows=rows,
        date_from=min(dates) if dates else None, date_to=max(dates) if dates else None,
        filed_by=_who(latest.received_by) if latest else "", filed_at=latest.received_at if latest else None,
        checked_by=_who(latest.checked_by) if latest else "", checked_at=latest.checked_at if latest else None,
        notes=notes)


def render_sheet(v: Vault, session: Session, actor: User, dossier_id: int, sheet: str, *, lang: str = "zh",
                 doc_type: str | None = None) -> bytes:
    """One printable A4 PDF of a dossier the actor may see (404 otherwise), in Chinese or English; audited."""
    dossier = get_dossier(session, actor, dossier_id)
    if sheet not in SHEETS:
        raise Invalid("sheet", "sheet must be one of {allowed}", params={"allowed": ", ".join(SHEETS)})
    if doc_type is not None:
        if sheet != "separator":
            raise Invalid("doc_type", "doc_type is only for separator sheets")
        try:
            doc_type = DocType(doc_type).value
        except ValueError:
            raise Invalid("doc_type", "doc_type must be one of {allowed}, got {raw!r}",
                          params={"allowed": ", ".join(t.value for t in DocType), "raw": doc_type}) from None
    lang = "en" if lang == "en" else "zh"
    facts = sheet_facts(v, session, dossier)
    if sheet == "contents":
        pdf = paper_pdf.contents_pdf(facts, lang)
    elif sheet == "cover":
        pdf = paper_pdf.cover_pdf(facts, lang)
    elif sheet == "record-sheet":
        pdf = paper_pdf.record_sheet_pdf(facts, lang)
    else:
        pdf = paper_pdf.separator_pdf(facts, lang, doc_type)
    audit.record(session, actor, "dossier.sheet_printed", dossier, now=v.clock.now(), sheet=sheet,
                 doc_type=doc_type, lang=lang)
    return pdf
