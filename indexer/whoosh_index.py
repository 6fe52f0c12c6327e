"""`SearchIndex` on a Whoosh index directory on the server's own disk.

* The content is indexed with positions and never stored; stored fields hold the two ids only.
* Access control and filters are part of the query (``Require``), so a document outside the
  caller's scope is neither matched, counted nor scored.
* One writer at a time: a thread lock in this process, Whoosh's lock file across processes.
* ``delete`` rewrites every segment holding a deleted document, so the postings are physically
  gone from the files, not just marked deleted.
* A search stops at its time limit and returns what it found (``partial``): the collector (a
  Whoosh ``TimeLimitCollector``) checks between hits, and the term matchers check the deadline
  too, so a phrase matcher that scans many candidates without a hit also stops
  (`indexer.whoosh_matchers`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from whoosh.collectors import TimeLimit, TopCollector
from whoosh.fields import ID, NUMERIC, TEXT, Schema
from whoosh.filedb.filestore import FileStorage
from whoosh.index import LockError
from whoosh.query import And, NumericRange, Or, Query, Require, Term
from whoosh.reading import SegmentReader
from whoosh.scoring import BM25F
from whoosh.writing import CLEAR, IndexWriter

from indexer.analyzer import analyzer
from indexer.query import ParsedQuery
from indexer.search_index import TITLE_BOOST, Hit, IndexDoc, SearchFilters, SearchResult, check_paging
from indexer.whoosh_matchers import Deadline, DeadlineCollector, match_query
from vault.errors import Unavailable
from vault.policy import Scope


def schema() -> Schema:
    """The index's fields: ids stored, metadata indexed for filters, text indexed with positions."""
    text = analyzer()
    return Schema(
        document_id=ID(stored=True, unique=True),
        dossier_id=ID(stored=True),
        archive_no=ID(),
        doc_type=ID(),
        secrecy=ID(),
        doc_date=NUMERIC(int, bits=32),  # signed: whoosh 2.7.5 mis-handles open ranges when unsigned
        title=TEXT(analyzer=text, phrase=True, field_boost=TITLE_BOOST),
        content=TEXT(analyzer=text, phrase=True),
    )


def fields_of(doc: IndexDoc) -> dict[str, Any]:
    """The field values Whoosh's ``add_document`` takes for one document."""
    fields: dict[str, Any] = {
        "document_id": str(doc.document_id),
        "dossier_id": str(doc.dossier_id),
        "archive_no": doc.archive_no,
        "doc_type": doc.doc_type,
        "secrecy": doc.secrecy,
        "title": doc.title,
        "content": doc.content,
    }
    if doc.doc_date is not None:
        fields["doc_date"] = _day(doc.doc_date)
    return fields


class WhooshIndex:
    """A Whoosh index in the directory ``path`` (created, with its missing parents, mode 0700)."""

    def __init__(self, path: Path, *, limitmb: int = 256, lock_timeout_s: float = 30.0) -> None:
        self.path = path
        self._limitmb = limitmb
        self._lock_timeout_s = lock_timeout_s
        self._lock = threading.Lock()
        _make_private_dirs(path)
        # No mmap: Whoosh wraps each mmapped file of a segment in a BytesIO, which copies it, so
        # every searcher opened would copy the whole index (120 ms at 10k documents instead of 5).
        storage = FileStorage(str(path), supports_mmap=False)
        with self._lock:
            if storage.index_exists():
                self._ix = storage.open_index()
            else:
                self._ix = storage.create_index(schema())

    # -- writing ---------------------------------------------------------------------------------

    def add(self, docs: Sequence[IndexDoc]) -> None:
        """Add or replace (by ``document_id``; the last of duplicates wins) in one commit."""
        latest = {doc.document_id: doc for doc in docs}
        if not latest:
            return
        with self._writer() as writer:
            if any(seg.doc_count() for seg in writer.segments):
                _delete_ids(writer, latest)
            for doc in latest.values():
                writer.add_document(**fields_of(doc))
            writer.commit()

    def delete(self, document_ids: Sequence[int]) -> None:
        """Delete and purge: every segment with a deleted document is rewritten without it."""
        ids = set(document_ids)
        if not ids:
            return
        with self._writer() as writer:
            _delete_ids(writer, ids)
            writer.commit(mergetype=_purge_deleted)

    def clear(self) -> None:
        """Drop every segment (their files are deleted)."""
        with self._writer() as writer:
            writer.commit(mergetype=CLEAR)

    def compact(self) -> None:
        """Nothing: every commit already merges segments as Whoosh's policy says."""

    @contextmanager
    def _writer(self) -> Iterator[IndexWriter]:
        with self._lock:
            try:
                writer = self._ix.writer(procs=1, limitmb=self._limitmb, timeout=self._lock_timeout_s)
            except LockError as exc:
                raise Unavailable("the search index is locked by another writer") from exc
            try:
                yield writer
            except BaseException:
                if not writer.is_closed:
                    writer.cancel()
                raise

    # -- reading ---------------------------------------------------------------------------------

    def search(
        self,
        query: ParsedQuery,
        scope: Scope,
        filters: SearchFilters,
        page: int,
        per_page: int,
        time_limit_s: float = 2.0,
    ) -> SearchResult:
        """The ``page``-th page (from 1) of readable documents matching every term, best first."""
        check_paging(page, per_page)
        if scope.is_empty():
            return SearchResult(total=0, hits=[], partial=False)

        deadline = Deadline(time.monotonic() + time_limit_s)
        matching = Require(match_query(query, deadline), _allowed(scope, filters))
        top = TopCollector(limit=page * per_page, usequality=False)  # exact total, in one pass
        collector = DeadlineCollector(top, deadline, time_limit_s)
        with self._ix.searcher(weighting=BM25F()) as searcher:
            partial = False
            try:
                searcher.search_with_collector(matching, collector)
            except TimeLimit:
                partial = True
            ranked = sorted(top.items, reverse=True)  # (score, -docnum): best first, then lowest docnum
            hits = []
            for score, negdoc in ranked[(page - 1) * per_page : page * per_page]:
                stored = searcher.stored_fields(-negdoc)
                hits.append(Hit(int(stored["document_id"]), int(stored["dossier_id"]), float(score)))
            return SearchResult(total=top.total, hits=hits, partial=partial)

    def doc_count(self) -> int:
        """How many (undeleted) documents the index holds."""
        return int(self._ix.doc_count())

    def document_ids(self) -> set[int]:
        """The ids of every indexed document."""
        with self._ix.searcher() as searcher:
            return {int(f["document_id"]) for f in searcher.reader().all_stored_fields()}

    def check(self) -> None:
        """Open a searcher and read the document count; ``Unavailable`` if that fails."""
        try:
            with self._ix.searcher() as searcher:
                searcher.doc_count()
        except Exception as exc:  # any failure means the index is unusable
            raise Unavailable("the search index cannot be read: {exc}", params={"exc": exc}) from exc


# -- access and filters --------------------------------------------------------------------------


def _allowed(scope: Scope, filters: SearchFilters) -> Query:
    readable: list[Query] = [Term("secrecy", level) for level in scope.levels_everywhere()]
    readable += [Term("dossier_id", str(i)) for i in sorted(scope.dossier_ids)]
    readable += [Term("document_id", str(i)) for i in sorted(scope.document_ids)]
    parts: list[Query] = [Or(readable)]
    if filters.doc_type is not None:
        parts.append(Term("doc_type", filters.doc_type))
    if filters.dossier_id is not None:
        parts.append(Term("dossier_id", str(filters.dossier_id)))
    if filters.date_from is not None or filters.date_to is not None:
        low = _day(filters.date_from) if filters.date_from else None
        high = _day(filters.date_to) if filters.date_to else None
        parts.append(NumericRange("doc_date", low, high))
    return parts[0] if len(parts) == 1 else And(parts)


def _day(d: date) -> int:
    return d.year * 10000 + d.month * 100 + d.day


# -- writing helpers -----------------------------------------------------------------------------


def _make_private_dirs(path: Path) -> None:
    """Create ``path`` and any missing parent with mode 0700 (existing directories are left alone)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)


def _delete_ids(writer: IndexWriter, ids: Iterable[int]) -> None:
    terms: list[Query] = [Term("document_id", str(i)) for i in ids]
    writer.delete_by_query(Or(terms), searcher=writer.searcher())


def _purge_deleted(writer: IndexWriter, segments: list[Any]) -> list[Any]:
    """Merge policy: rewrite each segment that has deleted documents into the new segment (which
    leaves their postings behind), drop segments with nothing left, keep the others untouched."""
    kept = []
    for segment in segments:
        if not segment.has_deletions():
            kept.append(segment)
        elif segment.doc_count() > 0:
            reader = SegmentReader(writer.storage, writer.schema, segment)
            try:
                writer.add_reader(reader)
            finally:
                reader.close()
    return kept
