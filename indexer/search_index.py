"""What the rest of the system knows about full-text search: the data it gives and gets back.

Engine-agnostic: an implementation (Whoosh, SQLite FTS5) lives in its own module and is chosen in the
composition root. Access control is the caller's ``vault.policy.Scope``, applied inside the engine's query,
so nothing the caller may not read is matched, counted or ranked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from indexer.query import ParsedQuery
from vault.errors import Invalid
from vault.paging import MAX_PER_PAGE
from vault.policy import Scope

__all__ = [
    "MAX_PER_PAGE", "MAX_RESULT_DEPTH", "TITLE_BOOST", "Hit", "IndexDoc", "ParsedQuery",
    "SearchFilters", "SearchIndex", "SearchResult", "check_paging",
]

MAX_RESULT_DEPTH = 10_000  # page * per_page: deeper pages are not worth a heap this big
TITLE_BOOST = 2.0  # a term in the title weighs as much as twice in the content
# the secrecy of a customer card's entry is its dossier's level with this prefix: a card is readable by level in
# every dossier (indexer.customer_entries.card_scope), the rest of the customer file as its dossier
CARD_LEVEL_PREFIX = "card."


@dataclass(frozen=True)
class IndexDoc:
    """One document's searchable text and the metadata search filters and access checks need."""

    document_id: int
    dossier_id: int
    archive_no: str
    doc_type: str
    doc_date: date | None
    secrecy: str
    title: str
    content: str
    owner_id: int | None = None  # the dossier's owner (an engine may index it for owners' scopes)


@dataclass(frozen=True)
class SearchFilters:
    """Narrowing the caller chose; ``date_from``/``date_to`` are inclusive, on the document date."""

    doc_type: str | None = None
    dossier_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class Hit:
    """One matching document, best first."""

    document_id: int
    dossier_id: int
    score: float


@dataclass(frozen=True)
class SearchResult:
    """One page of hits; ``total`` counts readable matches only; ``partial`` when time ran out."""

    total: int
    hits: list[Hit]
    partial: bool
    total_exact: bool = True  # False: more than ``total`` documents match (an engine's ranking bound)
    # how many of the newest matches are ranked best first, the others following newest first (pg ranks up to 300
    # of the 1,000 it counts, exact total or not; the search page says so only past the bound); None: all of them
    ranked: int | None = None


def check_paging(page: int, per_page: int) -> None:
    """Raise ``Invalid`` for a page every engine refuses: before the first, too big, or too deep."""
    if page < 1:
        raise Invalid("page", "the page number starts at 1")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise Invalid("per_page", "between 1 and {max_per_page} results per page",
                      params={"max_per_page": MAX_PER_PAGE})
    if page * per_page > MAX_RESULT_DEPTH:
        raise Invalid("page", "only the first {max_depth} results can be paged through",
                      params={"max_depth": MAX_RESULT_DEPTH})


class SearchIndex(Protocol):
    """A full-text index over documents; derived data that can always be rebuilt."""

    def add(self, docs: Sequence[IndexDoc]) -> None:
        """Add or replace (by ``document_id``) the documents, in one commit."""
        ...

    def delete(self, document_ids: Sequence[int]) -> None:
        """Purge the documents: afterwards their terms are gone from the index files themselves."""
        ...

    def search(
        self,
        query: ParsedQuery,
        scope: Scope,
        filters: SearchFilters,
        page: int,
        per_page: int,
        time_limit_s: float = 2.0,
    ) -> SearchResult:
        """The ``page``-th page (from 1) of documents within ``scope`` and ``filters`` matching ``query``."""
        ...

    def doc_count(self) -> int:
        """How many documents the index holds."""
        ...

    def clear(self) -> None:
        """Remove every document (before a rebuild)."""
        ...

    def compact(self) -> None:
        """After a bulk load (a rebuild): make the structures a document-by-document load grew as compact as one
        pass builds them (pg's GIN indexes); nothing for an engine whose writes already leave them so."""
        ...

    def check(self) -> None:
        """Health probe: raises ``vault.errors.Unavailable`` when the index cannot be read."""
        ...

    def document_ids(self) -> set[int]:
        """The ids of every indexed document (to reconcile with the database)."""
        ...
