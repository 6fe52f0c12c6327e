"""Search as a service: who may find what, audited; snippets from decrypted text of the shown page only."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, joinedload

from indexer.query import parse_query
from indexer.search_index import IndexDoc, SearchFilters, SearchIndex
from indexer.snippets import make_snippet
from vault import audit, policy
from vault.core import Vault
from vault.errors import Invalid
from vault.grants import active_grants
from vault.models import DocType, Document, DocumentStatus, DocumentVersion, IndexStatus, User
from vault.paging import paging
from vault.services.texts import open_text

QUERY_TIME_LIMIT_S = 2.0


def open_index(engine: str, path: Path, database: Engine | None = None) -> SearchIndex:
    """Open (or create) the index of the named engine (settings.SEARCH_ENGINES): in the directory ``path``,
    or for ``pg`` in the tables of the PostgreSQL ``database`` (``path`` unused)."""
    if engine == "pg":
        from indexer.pg_index import PgIndex

        if database is None:
            raise ValueError("the pg search engine needs the vault's PostgreSQL database")
        return PgIndex(database)
    if engine == "fts5":
        from indexer.fts5_index import Fts5Index

        return Fts5Index(path)
    if engine == "whoosh":
        from indexer.whoosh_index import WhooshIndex

        return WhooshIndex(path)
    raise ValueError(f"unknown search engine {engine!r}")


def index_doc(document: Document, content: str) -> IndexDoc:
    return IndexDoc(document_id=document.id, dossier_id=document.dossier_id,
                    archive_no=document.dossier.archive_no, doc_type=document.doc_type.value,
                    doc_date=document.doc_date, secrecy=document.dossier.secrecy.value, title=document.title,
                    content=content, owner_id=document.dossier.owner_id)


def _date(field: str, raw: Any) -> date | None:
    if raw in (None, ""):
        return None
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise Invalid(field, "{field} must be a date like 2024-03-09") from None


def parse_filters(args: Mapping[str, Any]) -> SearchFilters:
    doc_type = args.get("doc_type") or None
    if doc_type is not None and doc_type not in {t.value for t in DocType}:
        raise Invalid("doc_type", "unknown document type {doc_type!r}", params={"doc_type": doc_type})
    dossier_raw = args.get("dossier_id") or None
    try:
        dossier_id = int(dossier_raw) if dossier_raw is not None else None
    except ValueError:
        raise Invalid("dossier_id", "dossier_id must be a number") from None
    return SearchFilters(doc_type=doc_type, dossier_id=dossier_id, date_from=_date("date_from", args.get("date_from")),
                         date_to=_date("date_to", args.get("date_to")))


@dataclass
class SearchItem:
    document_id: int
    dossier_id: int
    archive_no: str
    title: str
    doc_type: str
    doc_date: date | None
    score: float
    snippet: str


@dataclass
class SearchPage:
    total: int
    items: list[SearchItem]
    page: int
    per_page: int
    partial: bool
    query: str
    total_exact: bool = True  # False: at least ``total`` documents match (the engine ranked that many)


def search(
    v: Vault, index: SearchIndex, session: Session, actor: User, text: str, filters: SearchFilters,
    page: int | str = 1, per_page: int | str = 20,
) -> SearchPage:
    """Documents the actor may read that match every term; audited with the query and the count.

    `page` and `per_page` may be the raw query-string values: they are checked here (400 when not whole numbers
    in range), after the permission check.
    """
    policy.require(actor, "search")
    query = parse_query(text or "")
    page, per_page = paging(page, per_page)
    now = v.clock.now()
    scope = policy.read_scope(session, actor, now)
    result = index.search(query, scope, filters, page, per_page, time_limit_s=QUERY_TIME_LIMIT_S)
    items: list[SearchItem] = []
    # the page's documents, their dossiers and current versions in one query, not three per hit
    documents = {d.id: d for d in session.scalars(
        select(Document).where(Document.id.in_([hit.document_id for hit in result.hits]))
        .options(joinedload(Document.dossier), joinedload(Document.current_version)))} if result.hits else {}
    grants = None if actor.role in policy.CONTENT_ROLES else active_grants(session, actor, now)
    for hit in result.hits:
        document = documents.get(hit.document_id)
        # defence in depth: the database, not the derived index, has the last word on access
        if document is None or document.status is not DocumentStatus.ACTIVE \
                or not policy.can_read(session, actor, document, now, grants):
            continue
        version = document.current_version
        text_plain = open_text(v, version) if version is not None else None
        snippet = make_snippet(text_plain, query) if text_plain else ""
        items.append(SearchItem(document.id, document.dossier_id, document.dossier.archive_no, document.title,
                                document.doc_type.value, document.doc_date, round(hit.score, 4), snippet))
    dropped = len(result.hits) - len(items)
    total = max(result.total - dropped, 0)
    audit.record(session, actor, "search.performed", None, now=now, query=str(query)[:200], results=total,
                 results_exact=result.total_exact,
                 filters={k: str(val) for k, val in vars(filters).items() if val is not None},
                 partial=result.partial)
    return SearchPage(total, items, page, per_page, result.partial, str(query), result.total_exact)


def reindex_all(v: Vault, index: SearchIndex, progress: Callable[[int, int], None] | None = None,
                batch: int = 200) -> int:
    """Rebuild the whole index from the database and the stored (encrypted) text; returns documents indexed.

    A long operation: owns its (read) transactions, one per batch of documents."""
    index.clear()
    with v.session() as s:
        ids = s.scalars(select(Document.id).join(DocumentVersion, Document.current_version_id == DocumentVersion.id)
                        .where(Document.status == DocumentStatus.ACTIVE,
                               DocumentVersion.index_status == IndexStatus.INDEXED)
                        .order_by(Document.id)).all()
    done = 0
    for start in range(0, len(ids), batch):
        docs: list[IndexDoc] = []
        with v.session() as s:
            for document in s.scalars(select(Document).where(Document.id.in_(ids[start:start + batch]))):
                version = document.current_version
                text = open_text(v, version) if version is not None else None
                if text is not None:
                    docs.append(index_doc(document, text))
        index.add(docs)
        done += len(docs)
        if progress:
            progress(min(start + batch, len(ids)), len(ids))
    return done
