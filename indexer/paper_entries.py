"""Paper-only documents in the search index: a document received on paper (移交) has no scan to extract
text from, so its metadata is indexed instead, under the document's own key (its id): title, item code
(KH-2026-000123-007), doc type and date as usual, and as content the item code, the responsible party
(责任者) and the remarks the transfer listed. Search finds it with the rules of any document (whoever may
read the document), and says the hit is paper only. Once a scan is filed and extracted, the extracted
text replaces this entry (`indexer.worker`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from indexer.search_index import IndexDoc
from vault.models import Document, DocumentStatus
from vault.paper_models import TransferItem
from vault.services.item_numbers import item_code


def is_paper_only(document: Document) -> bool:
    """Whether the document exists only on paper (no file, so nothing extracted)."""
    return document.current_version_id is None and document.status is DocumentStatus.ACTIVE


def paper_text(session: Session, document: Document) -> str:
    """The searchable text of a paper-only document: its item code, responsible party and remarks."""
    parts = [item_code(document.dossier.archive_no, document.item_no) or ""]
    item = session.scalars(select(TransferItem).where(TransferItem.document_id == document.id).limit(1)).first()
    if item is not None:
        parts += [item.responsible, item.remarks]
    return "\n".join(p for p in parts if p)


def paper_entry(session: Session, document: Document) -> IndexDoc:
    """The index entry of a paper-only document (its metadata as text)."""
    return IndexDoc(document_id=document.id, dossier_id=document.dossier_id,
                    archive_no=document.dossier.archive_no, doc_type=document.doc_type.value,
                    doc_date=document.doc_date, secrecy=document.dossier.secrecy.value, title=document.title,
                    content=paper_text(session, document), owner_id=document.dossier.owner_id)


def dossier_paper_entries(session: Session, documents: list[Document]) -> list[IndexDoc]:
    """The entries of a dossier's paper-only documents."""
    return [paper_entry(session, d) for d in documents if is_paper_only(d)]
