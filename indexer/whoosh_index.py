"""`SearchIndex` on a Whoosh index directory on the server's own disk.

* The content is indexed with positions and never stored; stored fields hold the two ids only.
* Access control and filters are part of the query (``Require``), so a document outside the
  caller's scope is neither matched, counted nor scored.
* One writer at a time: a thread lock in this process, Whoosh's lock file across processes.
* ``delete`` rewrites every segment holding a deleted document, so the postings are physically
  gone from the files, not just marked deleted.
* A search stops at its time limit and returns what it found (``partial``): the collector (a
  Whoosh ``TimeLimitCollector``) checks between hits, and the term matchers check the deadline
  too, so a phrase matcher that scans many candidates without a hit also stops.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from whoosh.collectors import TimeLimit, TimeLimitCollector, TopCollector
from whoosh.fields import ID, NUMERIC, TEXT, Schema
from whoosh.filedb.filestore import FileStorage
from whoosh.index import LockError
from whoosh.matching import Matcher, NullMatcher, WrappingMatcher
from whoosh.query import And, AndMaybe, NumericRange, Or, Prefix, Query, Require, Term
from whoosh.reading import SegmentReader
from whoosh.scoring import BM25F
from whoosh.writing import CLEAR, IndexWriter

from indexer.analyzer import analyzer, query_phrase
from indexer.query import ParsedQuery, QueryTerm
from indexer.search_index import TITLE_BOOST, Hit, IndexDoc, SearchFilters, SearchResult, check_paging
from vault.errors import Unavailable
from vault.policy import Scope

_TEXT_FIELDS = ("content", "title")


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

        deadline = _Deadline(time.monotonic() + time_limit_s)
        matching = Require(match_query(query, deadline), _allowed(scope, filters))
        top = TopCollector(limit=page * per_page, usequality=False)  # exact total, in one pass
        collector = _TimeLimitCollector(top, deadline, time_limit_s)
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


# -- queries -------------------------------------------------------------------------------------


def match_query(query: ParsedQuery, deadline: _Deadline | None = None) -> Query:
    """Every term must occur (as a phrase, in the content or the title); identifiers and jieba
    words of the terms, when present as whole tokens, rank a document higher."""
    required: list[Query] = []
    extras: dict[str, None] = {}
    for term in query.terms:
        required.append(_term_query(term, deadline))
        extras.update(dict.fromkeys(query_phrase(term.text).extras))
    must = required[0] if len(required) == 1 else And(required)
    if not extras:
        return must
    return AndMaybe(must, Or([Term("content", e) for e in extras]))


def _term_query(term: QueryTerm, deadline: _Deadline | None) -> Query:
    phrase = query_phrase(term.text)
    per_field: list[Query] = []
    for field in _TEXT_FIELDS:
        if phrase.lone_char:
            per_field.append(Prefix(field, phrase.lone_char))
        elif len(phrase.anchors) == 1:
            per_field.append(_TimedTerm(field, phrase.anchors[0][0], deadline))
        else:
            per_field.append(_ExactPhrase(field, phrase.anchors, deadline))
    return Or(per_field)


def _allowed(scope: Scope, filters: SearchFilters) -> Query:
    readable: list[Query] = [Term("secrecy", level) for level in scope.all_dossiers_up_to or ()]
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


class _Deadline:
    """When a search must stop; checked by term matchers every few postings."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at

    def check(self) -> None:
        if time.monotonic() > self.at:
            raise TimeLimit


class _TimeLimitCollector(TimeLimitCollector):
    """Whoosh's ``TimeLimitCollector``, checking the deadline between hits itself: no timer thread
    per search (starting one costs milliseconds on a busy machine), and no SIGALRM (that works in
    the main thread only and would interrupt whatever it runs)."""

    def __init__(self, child: Any, deadline: _Deadline, time_limit_s: float) -> None:
        super().__init__(child, timelimit=time_limit_s, use_alarm=False)
        self._deadline = deadline

    def prepare(self, top_searcher: Any, q: Any, context: Any) -> None:
        self.child.prepare(top_searcher, q, context)
        self.timedout = False

    def collect_matches(self) -> None:
        child = self.child
        for sub_docnum in child.matches():
            child.collect(sub_docnum)
            self._deadline.check()


class _TimedMatcher(WrappingMatcher):
    """A term's posting matcher that raises ``TimeLimit`` once the deadline has passed."""

    _EVERY = 64

    def __init__(self, child: Any, deadline: _Deadline) -> None:
        super().__init__(child)
        self._deadline = deadline
        self._steps = 0

    def copy(self) -> _TimedMatcher:
        return _TimedMatcher(self.child.copy(), self._deadline)

    def _replacement(self, newchild: Any) -> _TimedMatcher:
        return _TimedMatcher(newchild, self._deadline)

    def _tick(self) -> None:
        self._steps += 1
        if self._steps % self._EVERY == 0:
            self._deadline.check()

    def next(self) -> Any:
        self._tick()
        return self.child.next()

    def skip_to(self, id: int) -> Any:  # Whoosh names it so
        self._tick()
        return self.child.skip_to(id)


class _TimedTerm(Term):
    def __init__(self, fieldname: str, text: str, deadline: _Deadline | None) -> None:
        super().__init__(fieldname, text)
        self.deadline = deadline

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        m = super().matcher(searcher, context)
        if self.deadline is None or not m.is_active():
            return m
        return _TimedMatcher(m, self.deadline)


class _ExactPhrase(Query):
    """Documents holding every ``(token, offset)`` anchor at one start position plus its offset.

    Whoosh's ``Phrase`` goes through ``SpanNear2``: span objects and a deep tree of intersection
    matchers for every candidate document, and no gaps between words. This checks sets of
    positions instead, reading the rarest posting list first, and allows the gaps that let a CJK
    phrase skip every other bigram (see ``analyzer.query_phrase``).
    """

    def __init__(
        self, fieldname: str, anchors: tuple[tuple[str, int], ...], deadline: _Deadline | None
    ) -> None:
        self.fieldname = fieldname
        self.anchors = anchors
        self.deadline = deadline
        self.boost = 1.0

    def __repr__(self) -> str:
        return f"_ExactPhrase({self.fieldname!r}, {self.anchors!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ExactPhrase) and (self.fieldname, self.anchors) == (
            other.fieldname,
            other.anchors,
        )

    def __hash__(self) -> int:
        return hash((self.fieldname, self.anchors))

    def field(self) -> str:
        return self.fieldname

    def has_terms(self) -> bool:
        return True

    def terms(self, phrases: bool = False) -> Iterator[tuple[str, str]]:
        if phrases:
            for token, _ in self.anchors:
                yield self.fieldname, token

    def normalize(self) -> Query:
        return self

    def estimate_size(self, ixreader: Any) -> int:
        return min(ixreader.doc_frequency(self.fieldname, token) for token, _ in self.anchors)

    def estimate_min_size(self, ixreader: Any) -> int:
        return 0

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        reader = searcher.reader()
        field = searcher.schema[self.fieldname]
        weighting = context.weighting if context is not None else searcher.weighting
        leaves = []
        for token, offset in self.anchors:
            btext = field.to_bytes(token)
            if (self.fieldname, btext) not in reader:
                return NullMatcher()  # a token absent from the index: no document has the phrase
            postings = searcher.postings(self.fieldname, btext, weighting=weighting)
            leaves.append((reader.doc_frequency(self.fieldname, btext), postings, offset))
        leaves.sort(key=lambda leaf: leaf[0])
        return _PhraseMatcher([(m, offset) for _, m, offset in leaves], self.deadline)


class _PhraseMatcher(Matcher):
    """Leapfrogs the posting matchers (rarest first) to common documents, then keeps those where
    the positions line up. Scores like Whoosh's phrases, as a sum of the tokens' BM25 scores, but
    of the rarest few only: they carry nearly all of it, and scoring costs per token and document."""

    _EVERY = 64  # candidate documents between two looks at the clock
    _SCORED = 3

    def __init__(self, leaves: list[tuple[Any, int]], deadline: _Deadline | None) -> None:
        self._leaves = leaves
        self._deadline = deadline
        self._steps = 0
        self._active = all(m.is_active() for m, _ in leaves)
        self._find()

    def _tick(self) -> None:
        self._steps += 1
        if self._deadline is not None and self._steps % self._EVERY == 0:
            self._deadline.check()

    def _align(self) -> bool:
        """Move every leaf to the lead's document or the next one they all share."""
        matchers = [m for m, _ in self._leaves]
        target = matchers[0].id()
        while True:
            self._tick()
            for m in matchers:
                if m.id() < target:
                    m.skip_to(target)
                    if not m.is_active():
                        return False
                if m.id() > target:
                    target = m.id()
                    break
            else:
                return True

    def _lined_up(self) -> bool:
        (first, first_offset), *rest = self._leaves
        starts = {p - first_offset for p in first.value_as("positions")}
        for m, offset in rest:
            positions = set(m.value_as("positions"))
            starts = {s for s in starts if s + offset in positions}
            if not starts:
                return False
        return True

    def _find(self) -> None:
        lead = self._leaves[0][0]
        while self._active:
            if not self._align():
                self._active = False
            elif self._lined_up():
                return
            else:
                lead.next()
                self._active = lead.is_active()

    def is_active(self) -> bool:
        return self._active

    def id(self) -> int:
        return int(self._leaves[0][0].id())

    def next(self) -> bool:
        lead = self._leaves[0][0]
        lead.next()
        self._active = lead.is_active()
        self._find()
        return False

    def skip_to(self, id: int) -> bool:  # Whoosh names it so
        if self._active and id > self.id():
            lead = self._leaves[0][0]
            lead.skip_to(id)
            self._active = lead.is_active()
            self._find()
        return False

    def reset(self) -> None:
        for m, _ in self._leaves:
            m.reset()
        self._active = all(m.is_active() for m, _ in self._leaves)
        self._find()

    def copy(self) -> _PhraseMatcher:
        return _PhraseMatcher([(m.copy(), offset) for m, offset in self._leaves], self._deadline)

    def replace(self, minquality: float = 0) -> Any:
        return self if self._active else NullMatcher()

    def children(self) -> list[Any]:
        return [m for m, _ in self._leaves]

    def max_quality(self) -> float:
        # the score is a sum of leaves' scores, so their maxima bound it
        return float(sum(m.max_quality() for m, _ in self._leaves[: self._SCORED]))

    def weight(self) -> float:
        return float(sum(m.weight() for m, _ in self._leaves[: self._SCORED]))

    def score(self) -> float:
        return float(sum(m.score() for m, _ in self._leaves[: self._SCORED]))


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
