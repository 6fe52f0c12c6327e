"""Index documents for the engine tests: a contract with sensible metadata, any field overridden."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from indexer.search_index import IndexDoc


def doc(document_id: int, content: str, **fields: object) -> IndexDoc:
    base = IndexDoc(
        document_id=document_id,
        dossier_id=1,
        archive_no="KH-2026-000001",
        doc_type="contract",
        doc_date=date(2022, 3, 9),
        secrecy="internal",
        title="产品采购合同",
        content=content,
    )
    return replace(base, **fields)  # type: ignore[arg-type]
