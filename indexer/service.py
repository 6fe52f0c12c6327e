"""Search as a service: who may find what, audited; snippets from decrypted text of the shown page only."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, joinedload

from indexer import customer_entries, paper_entries
from indexer.query import ParsedQuery, parse_query
from indexer.search_index import IndexDoc, SearchFilters, SearchIndex
from indexer.snippets import make_snippet
from vault import audit, policy
from vault.core import Vault
from vault.customer_models import CustomerCard
from vault.errors import Invalid
from vault.grants import Grants, active_grants
from vault.models import DocType, Document, DocumentStatus, DocumentVersion, Dossier, DossierKey, IndexStatus, User
from vault.paging import paging
from vault.relationship_models import Contact, CustomerRecord
from vault.services import customer_access, sealed_fields
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
    document_id: int | None  # None for a hit in the customer file (card, contact, record)
    dossier_id: int
    archive_no: str
    title: str
    doc_type: str | None
    doc_date: date | None
    score: float
    snippet: str
    source: str = "document"  # document, card, contact or record
    record_id: int | None = None
    contact_id: int | None = None
    paper_only: bool = False  # a document on paper only (no scan yet): found by its title and listed metadata


@dataclass
class SearchPage:
    total: int
    items: list[SearchItem]
    page: int
    per_page: int
    partial: bool
    query: str
    total_exact: bool = True  # False: at least ``total`` documents match (the engine ranked that many)
    ranked: int | None = None  # the newest this many are ranked, the others follow newest first; None: all


@dataclass
class _CustomerRows:
    """The rows of a page's customer-file hits, by id."""

    dossiers: dict[int, Dossier]
    cards: dict[int, CustomerCard]
    contacts: dict[int, Contact]
    records: dict[int, CustomerRecord]
    keys: list[DossierKey] = field(default_factory=list)  # the records' dossiers' keys, held while details open


def _customer_rows(session: Session, keys: list[int]) -> _CustomerRows:
    """The rows of a page's customer-file hits (the cards with their dossiers, the contacts and records with
    theirs), a statement per kind rather than two per hit."""
    ids: dict[str, list[int]] = {"card": [], "contact": [], "record": []}
    for key in keys:
        source, object_id = customer_entries.decode_key(key)
        ids[source].append(object_id)
    rows = _CustomerRows({}, {}, {}, {})
    if ids["card"]:
        rows.dossiers = {d.id: d for d in session.scalars(select(Dossier).where(Dossier.id.in_(ids["card"])))}
        rows.cards = {c.dossier_id: c for c in session.scalars(
            select(CustomerCard).where(CustomerCard.dossier_id.in_(ids["card"])))}
    if ids["contact"]:
        rows.contacts = {c.id: c for c in session.scalars(
            select(Contact).where(Contact.id.in_(ids["contact"])).options(joinedload(Contact.dossier)))}
    if ids["record"]:
        rows.records = {r.id: r for r in session.scalars(
            select(CustomerRecord).where(CustomerRecord.id.in_(ids["record"])).options(
                joinedload(CustomerRecord.dossier)))}
        rows.keys = sealed_fields.read_keys(session, {r.dossier_id for r in rows.records.values()})
    return rows


def _customer_hit(v: Vault, session: Session, actor: User, key: int, rows: _CustomerRows, query: ParsedQuery,
                  score: float, now: datetime, grants: Grants | None) -> SearchItem | None:
    """The search item of a hit in a customer file, or None when the database says the caller may not
    find it (the card: whoever sees the dossier; contacts and records: its content readers)."""
    source, object_id = customer_entries.decode_key(key)
    title, text, record_id, contact_id, doc_date = "", "", None, None, None
    if source == "card":
        dossier = rows.dossiers.get(object_id)
        if dossier is None or not policy.can_see(actor, dossier):
            return None
        title = dossier.customer_name
        text = customer_entries.card_text(dossier, rows.cards.get(dossier.id))
    else:
        row: Contact | CustomerRecord | None = rows.contacts.get(object_id) if source == "contact" \
            else rows.records.get(object_id)
        if row is None:
            return None
        dossier = row.dossier
        if customer_entries.content_destroyed(dossier) \
                or not customer_access.can_read_content(session, actor, dossier, now, grants):
            return None
        if isinstance(row, CustomerRecord):
            title, text, record_id = row.summary, customer_entries.record_text(v, session, row), row.id
            doc_date = row.occurred_at.date()
        else:
            title, contact_id = row.name, row.id
    snippet = make_snippet(text, query) if text else ""
    return SearchItem(None, dossier.id, dossier.archive_no, title, None, doc_date, score, snippet, source,
                      record_id, contact_id)


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
    scope = customer_entries.card_scope(policy.read_scope(session, actor, now), actor)
    result = index.search(query, scope, filters, page, per_page, time_limit_s=QUERY_TIME_LIMIT_S)
    items: list[SearchItem] = []
    # the page's documents, their dossiers and current versions in one query, not three per hit
    document_ids = [hit.document_id for hit in result.hits if hit.document_id > 0]
    documents = {d.id: d for d in session.scalars(
        select(Document).where(Document.id.in_(document_ids))
        .options(joinedload(Document.dossier), joinedload(Document.current_version)))} if document_ids else {}
    grants = None if actor.role in policy.CONTENT_ROLES else active_grants(session, actor, now)
    customer_rows = _customer_rows(session, [hit.document_id for hit in result.hits if hit.document_id < 0])
    for hit in result.hits:
        if hit.document_id < 0:
            item = _customer_hit(v, session, actor, hit.document_id, customer_rows, query, round(hit.score, 4), now,
                                 grants)
            if item is not None:
                items.append(item)
            continue
        document = documents.get(hit.document_id)
        # defence in depth: the database, not the derived index, has the last word on access
        if document is None or document.status is not DocumentStatus.ACTIVE \
                or not policy.can_read(session, actor, document, now, grants):
            continue
        version = document.current_version
        paper_only = paper_entries.is_paper_only(document)
        text_plain = open_text(v, version) if version is not None else \
            paper_entries.paper_text(session, document) if paper_only else None
        snippet = make_snippet(text_plain, query) if text_plain else ""
        items.append(SearchItem(document.id, document.dossier_id, document.dossier.archive_no, document.title,
                                document.doc_type.value, document.doc_date, round(hit.score, 4), snippet,
                                paper_only=paper_only))
    dropped = len(result.hits) - len(items)
    total = max(result.total - dropped, 0)
    audit.record(session, actor, "search.performed", None, now=now, query=str(query)[:200], results=total,
                 results_exact=result.total_exact,
                 filters={k: str(val) for k, val in vars(filters).items() if val is not None},
                 partial=result.partial)
    return SearchPage(total, items, page, per_page, result.partial, str(query), result.total_exact, result.ranked)


def reindex_all(v: Vault, index: SearchIndex, progress: Callable[[int, int], None] | None = None,
                batch: int = 200, compacting: Callable[[], None] | None = None) -> int:
    """Rebuild the whole index from the database and the stored (encrypted) text; returns documents indexed.

    A long operation: owns its (read) transactions, one per batch of documents. An engine that can rebuild its
    structures in one pass after the load (pg's GIN indexes) does so at the end, ``compacting`` called first."""
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
    with v.session() as s:  # the customer files: cards, contacts, records
        dossier_ids = s.scalars(select(Dossier.id).order_by(Dossier.id)).all()
    for start in range(0, len(dossier_ids), batch):
        with v.session() as s:
            entries: list[IndexDoc] = []
            for dossier in s.scalars(select(Dossier).where(Dossier.id.in_(dossier_ids[start:start + batch]))):
                entries.extend(customer_entries.dossier_entries(v, s, dossier))
                entries.extend(paper_entries.dossier_paper_entries(s, list(dossier.documents)))
        index.add(entries)
    if compacting is not None:
        compacting()
    index.compact()
    return done
