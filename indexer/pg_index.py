"""`SearchIndex` on PostgreSQL: tsvectors with a GIN index in the vault's own database.

No shared disk: every web process and every worker on every host reads and writes the same tables,
so there is no single-writer rule. The tables (``search_documents``, ``search_chunks``) come from
migration 0005 and are derived data that ``dossier reindex`` rebuilds.

* Analysis is :mod:`indexer.analyzer`'s, in the application, as for FTS5: one token per position
  (:func:`indexer.analyzer.phrase_tokens`), a query term the consecutive tokens of
  :func:`indexer.analyzer.phrase_query`. PostgreSQL never splits or folds them: a tsvector is built
  from a ``'lexeme':positions`` literal (quoted here, passed as a bound parameter and cast, in the
  ``simple`` sense: no stemming, no stop words), a term is a tsquery of ``<->`` (followed by)
  operators, a lone CJK character a prefix (``'菊':*``).
* Matching is per document: ``search_documents.terms`` holds every run of 1..GRAM_TOKENS consecutive
  tokens of the title and content, each one lexeme (the tokens joined by a space, which no token
  holds), without positions, with a GIN index, next to the scope's columns. A query term of up to
  GRAM_TOKENS tokens (a CJK word of up to four characters, "letter of credit") is one lexeme, a lone
  CJK character a prefix; several terms are ANDed: one bitmap scan of one table finds the documents,
  scope and filters included. A longer term is narrowed there by its runs of GRAM_TOKENS tokens, and
  its positions are checked, newest candidate first, until enough are found.
* Positions live in ``search_chunks.tsv``. A tsvector keeps positions up to 16383 and at most 256
  positions per lexeme, so a document is stored as chunks (``part`` 1, 2, ...) of at most
  :data:`WINDOW` positions, cut early before any lexeme would pass :data:`MAX_POSITIONS`, each
  overlapping the previous one by up to :data:`OVERLAP` positions: a phrase (a query term is at most
  200 characters, ~200 tokens) lies wholly inside some chunk. The title is ``part`` 0, weighted ``A``
  (ranked ``TITLE_BOOST`` times the content). Chunks are read by document id only, and ``tsv`` is
  stored in the row (``STORAGE MAIN``, migration 0020): one heap fetch per chunk, no TOAST lookup.
* A document whose terms would not fit one tsvector (over :data:`TERMS_MAX_BYTES`; a tsvector holds
  1 MiB) has NULL ``terms``; each of its chunks keeps its own runs in ``grams`` (GIN-indexed; empty
  for every other document), and such documents are matched by their chunks (``term_match``).
* As with FTS5, the newest :data:`COUNTED_MATCHES` matches are found and counted; a query matching
  more says its total is a lower bound (``total_exact`` False: "1,000+ results"). Finding the newest
  of a word in nearly every document would mean sorting them all, so a search over every dossier looks
  first among the newest :data:`PROBE_GROUPS` groups of ids (:data:`RECENT_GROUP`; a document's group
  is a lexeme of its terms, so that the GIN index alone narrows to them), then in as many older groups
  as the share found there says should hold the rest (:data:`STEP_GROUPS` at a time, newest first, until
  enough are found), and only then in everything older.
* Ranking: the sum over the matching parts of ``ts_rank`` (title weight 1.0, content 1/TITLE_BOOST),
  with several terms each term's rank weighted by log(1 + 1/f), f the share of chunks holding its
  rarest token as the planner's statistics tell (:meth:`PgIndex._term_weights`); ties go to the lower
  id. The newest :data:`RANKED_MATCHES` matches are ranked (ranking reads their positions); the older
  ones follow them, newest first.
* Scope and filters are SQL conditions on ``search_documents`` in the same statement that matches,
  so nothing outside the scope is matched or counted. A narrow scope (an employee: the dossiers they
  own at the levels they may read, those granted, single documents checked out, and the customer cards
  of every dossier within their clearance) is also lexemes of ``terms`` (:func:`scope_lexemes`: the
  dossier, the owner at the document's level, a card's level), ANDed with the
  query's terms, so the GIN index finds the scope's matches without reading any document's terms
  (23 KB of TOAST each on average); its SQL conditions only check what the index found, and single
  documents are read by their ids. A change of owner or level re-adds the dossier's documents. The
  scope's documents are found first, then (if fewer than wanted) the customer-file entries and the cards,
  which have negative keys, by groups below 0 as a broad search does: every card within clearance that
  holds a common word would otherwise be found and sorted to keep the newest documents.
* Writes: :meth:`PgIndex.add_in` writes in the caller's transaction (the worker's, which also marks
  the versions indexed); :meth:`PgIndex.add` in one of its own. ``search_documents`` rows are upserted
  in id order first, which locks them, so two workers adding the same document queue up instead of
  failing. A destruction deletes the rows in its executing transaction
  (:func:`vault.services.destruction`); :meth:`delete` does it again for the purge job.
* A search stops at its time limit (``statement_timeout``) and is then ``partial`` with no hits.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, TextClause, text
from sqlalchemy.exc import DBAPIError, OperationalError

from indexer.analyzer import normalize, phrase_query, phrase_tokens
from indexer.query import ParsedQuery
from indexer.search_index import (
    CARD_LEVEL_PREFIX,
    TITLE_BOOST,
    Hit,
    IndexDoc,
    SearchFilters,
    SearchResult,
    check_paging,
)
from vault.errors import Unavailable
from vault.policy import Scope

WINDOW = 1024  # positions in one chunk (a tsvector position stops at 16383)
COUNTED_MATCHES = 1000  # the newest matches found and counted; a query matching more says "1,000+"
RANKED_MATCHES = 300  # of those, the newest ranked (ranking reads their positions); older ones follow, newest first
OVERLAP = 256  # positions a chunk repeats of the previous one: longer than any query term's tokens
MAX_POSITIONS = 255  # positions of one lexeme in a chunk (a tsvector keeps 256)
MAX_LEXEME_CHARS = 200  # a lexeme must stay under 2 KB; the same cut applies to query tokens
IDF_REFRESH_S = 600.0  # how long the lexeme statistics for ranking are reused
GRAM_TOKENS = 3  # runs of 1..GRAM_TOKENS consecutive tokens are kept whole, in ``terms``
# documents' ids in groups of this many, each group a lexeme of their terms: the newest few groups' documents
# are found by the GIN index alone (a word in every document is looked for there first)
RECENT_GROUP = 1024
PROBE_GROUPS = 4  # the newest groups a broad search looks at first
# the most groups one GIN scan ORs: it merges the groups' posting lists comparing every list at each step, so
# 370 groups at once took 611 ms at 1,000,000 documents where steps of STEP_GROUPS take a few ms each
STEP_GROUPS = 8
# a document whose terms take more bytes than this (a tsvector holds at most 1 MiB) keeps them per chunk
TERMS_MAX_BYTES = 600_000
COMPACT_MEMORY = "256MB"  # maintenance_work_mem for rebuilding the GIN indexes in one pass
LEAST_ID = -(2**63)  # the least bigint: the customer file's entries have negative keys (indexer.customer_entries)
# ts_rank's weights for D, C, B, A: content is D, the title A
_WEIGHTS = [1.0 / TITLE_BOOST, 1.0 / TITLE_BOOST, 1.0 / TITLE_BOOST, 1.0]


# -- terms -------------------------------------------------------------------------------------------


def lexeme(token: str) -> str:
    """A token as stored: cut to MAX_LEXEME_CHARS, NUL (which PostgreSQL text refuses) replaced."""
    return token[:MAX_LEXEME_CHARS].replace("\x00", "\ufffd")


def _quoted(token: str) -> str:
    # inside a quoted tsvector/tsquery lexeme, a quote is doubled and a backslash escaped
    return "'" + lexeme(token).replace("\\", "\\\\").replace("'", "''") + "'"


def chunks(tokens: Sequence[str]) -> Iterator[Sequence[str]]:
    """Overlapping runs of at most WINDOW tokens with no token more than MAX_POSITIONS times."""
    start, n = 0, len(tokens)
    while start < n:
        window = Counter(tokens[start:start + WINDOW])  # counted in C: most windows are cut at WINDOW
        if max(window.values()) <= MAX_POSITIONS:
            end = min(start + WINDOW, n)
        else:  # some token would pass MAX_POSITIONS: cut before it
            counts: Counter[str] = Counter()
            end = start
            while end < n and end - start < WINDOW:
                counts[tokens[end]] += 1
                if counts[tokens[end]] > MAX_POSITIONS:
                    break
                end += 1
        yield tokens[start:end]
        if end >= n:
            return
        start = end - min(OVERLAP, (end - start) // 2)


def tsvector_literal(tokens: Sequence[str], weight: str = "") -> str:
    """The tsvector input text holding each token at its position (from 1), with ``weight`` (A-D)."""
    positions: dict[str, list[int]] = {}
    for pos, token in enumerate(tokens, 1):  # per token, as cheaply as Python goes: a document has thousands
        found = positions.get(token)
        if found is None:
            positions[token] = [pos]
        else:
            found.append(pos)
    if any(len(token) > MAX_LEXEME_CHARS or "\x00" in token for token in positions):
        merged: dict[str, list[int]] = {}  # tokens that are one lexeme once cut: one entry, positions in order
        for token, found in positions.items():
            merged.setdefault(lexeme(token), []).extend(found)
        positions = {token: sorted(found) for token, found in merged.items()}
    out = []
    for token, found in positions.items():
        quoted = _quoted(token) if "'" in token or "\\" in token else f"'{token}'"
        out.append(quoted + ":" + (",".join(f"{p}{weight}" for p in found) if weight else ",".join(map(str, found))))
    return " ".join(out)


def gram(tokens: Sequence[str]) -> str | None:
    """Consecutive tokens as one ``grams`` lexeme (a space joins them: no token holds one), or None when
    that would be longer than a lexeme may be (then only the positions in ``tsv`` tell the run)."""
    joined = " ".join(tokens)
    return joined if len(joined) <= MAX_LEXEME_CHARS else None


def run_lexemes(tokens: Sequence[str], found: dict[str, None]) -> None:
    """Add every run of 1..GRAM_TOKENS consecutive tokens (each one lexeme, without positions) to ``found``."""
    for token in tokens:
        found[lexeme(token)] = None
    for n in range(2, GRAM_TOKENS + 1):
        for i in range(len(tokens) - n + 1):
            g = gram(tokens[i:i + n])
            if g is not None:
                found[g] = None


def terms_literal(found: dict[str, None]) -> str:
    """The tsvector input text of the lexemes, without positions."""
    return " ".join(_quoted(g) if "'" in g or "\\" in g or "\x00" in g else f"'{g}'" for g in found)


def terms_bytes(found: dict[str, None]) -> int:
    """About what the lexemes take in a tsvector (text plus a 4-byte entry each)."""
    return sum(len(g.encode()) + 4 for g in found)


def term_tsquery(term: str) -> str:
    """The tsquery text on ``tsv`` for one query term: its tokens followed one by the next, or a prefix."""
    tokens = phrase_query(term)
    if tokens:
        return " <-> ".join(_quoted(t) for t in tokens)
    return _quoted("".join(normalize(term).split())) + ":*"  # a lone CJK character begins some token


def term_match(term: str, n: int, params: dict[str, Any]) -> str:
    """The condition on a chunk ``c`` of an oversize document (its runs kept per chunk, in ``grams``) that it
    holds ``term``, its tsquery parameters added to ``params``: a term of 1..GRAM_TOKENS tokens (or a lone
    CJK character, as a prefix) is answered by the GIN index of ``grams`` alone; a longer one is its phrase in
    ``tsv``, looked for only in chunks holding all its runs of GRAM_TOKENS tokens."""
    whole, runs = _runs(term)
    if whole is not None:
        params[f"cg{n}"] = whole
        return f"c.grams @@ CAST(:cg{n} AS tsquery)"
    params[f"cq{n}"] = term_tsquery(term)
    params[f"cg{n}"] = runs
    return f"c.grams @@ CAST(:cg{n} AS tsquery) AND c.tsv @@ CAST(:cq{n} AS tsquery)"


def recent_group(document_id: int) -> str:
    """The lexeme of the group of ids ``document_id`` is in: it begins with a space, which no token or run does."""
    return f" {document_id // RECENT_GROUP}"


def scope_lexemes(doc: IndexDoc) -> list[str]:
    """The lexemes of a document's place in the access rules: its dossier, its owner at its secrecy level, and
    for a customer card (readable by level in every dossier) its level. Each begins with a space, which no
    token or run does, so no query term matches them; an owner's search ANDs them with its terms, so the GIN
    index alone narrows to the owner's documents and the cards within their clearance."""
    keys = [dossier_lexeme(doc.dossier_id)]
    if doc.owner_id is not None:
        keys.append(owner_lexeme(doc.owner_id, doc.secrecy))
    if doc.secrecy.startswith(CARD_LEVEL_PREFIX):
        keys.append(level_lexeme(doc.secrecy))
    return keys


def dossier_lexeme(dossier_id: int) -> str:
    """The lexeme every document of the dossier holds."""
    return f" d{dossier_id}"


def owner_lexeme(owner_id: int, secrecy: str) -> str:
    """The lexeme every document holds that ``owner_id`` owns at the level ``secrecy``."""
    return f" o{owner_id} {secrecy}"


def level_lexeme(secrecy: str) -> str:
    """The lexeme every customer card at the level ``secrecy`` (``card.<level>``) holds."""
    return f" l{secrecy}"


def _runs(term: str) -> tuple[str | None, str]:
    """(the tsquery text that answers ``term`` from kept runs alone, or None; the tsquery text of runs
    every occurrence of it holds, which narrows where its positions are checked)."""
    tokens = phrase_query(term)
    if not tokens:  # a lone CJK character begins some token
        prefix = _quoted("".join(normalize(term).split())) + ":*"
        return prefix, prefix
    whole = gram(tokens) if len(tokens) <= GRAM_TOKENS else None
    if whole is not None:
        return _quoted(whole), _quoted(whole)
    runs = [gram(tokens[i:i + GRAM_TOKENS]) for i in range(len(tokens) - GRAM_TOKENS + 1)]
    if not runs or None in runs:  # a run too long to be kept whole: its tokens, one by one
        return None, " & ".join(_quoted(t) for t in dict.fromkeys(tokens))
    return None, " & ".join(_quoted(str(r)) for r in dict.fromkeys(runs))


def _rows_of(doc: IndexDoc) -> tuple[str | None, list[tuple[int, str, str]]]:
    """A document's ``terms`` literal (None when too big: its chunks keep their runs) and its (part, tsv
    literal, grams literal) chunk rows: the title (0, weighted A) and the content's chunks."""
    title = list(phrase_tokens(doc.title)) if doc.title.strip() else []
    content = list(phrase_tokens(doc.content))
    found: dict[str, None] = {}
    run_lexemes(title, found)
    run_lexemes(content, found)
    small = terms_bytes(found) <= TERMS_MAX_BYTES
    found[recent_group(doc.document_id)] = None
    found.update(dict.fromkeys(scope_lexemes(doc)))
    parts = ([(0, title)] if title else []) + list(enumerate(chunks(content), 1))
    rows = []
    for part, tokens in parts:
        grams = ""
        if not small:
            kept: dict[str, None] = {}
            run_lexemes(tokens, kept)
            grams = terms_literal(kept)
        rows.append((part, tsvector_literal(tokens, "A" if part == 0 else ""), grams))
    return (terms_literal(found) if small else None), [row for row in rows if row[1]]


# -- the index ---------------------------------------------------------------------------------------

_UPSERT = text(
    "INSERT INTO search_documents (document_id, dossier_id, owner_id, secrecy, doc_type, doc_date, terms) "
    "VALUES (:document_id, :dossier_id, :owner_id, :secrecy, :doc_type, :doc_date, CAST(:terms AS tsvector)) "
    "ON CONFLICT (document_id) DO UPDATE SET dossier_id = excluded.dossier_id, owner_id = excluded.owner_id, "
    "secrecy = excluded.secrecy, doc_type = excluded.doc_type, doc_date = excluded.doc_date, terms = excluded.terms"
)
# the share of chunks holding each of tsv's most common lexemes, as ANALYZE found it
_LEXEME_FREQS = text(
    "SELECT e.elem, e.freq FROM pg_stats s CROSS JOIN LATERAL "
    "unnest(CAST(CAST(s.most_common_elems AS text) AS text[]), s.most_common_elem_freqs) AS e(elem, freq) "
    "WHERE s.schemaname = current_schema() AND s.tablename = 'search_chunks' AND s.attname = 'tsv'"
)
_GIN_INDEXES = ("ix_search_documents_terms", "ix_search_chunks_grams")
# what a failed REINDEX CONCURRENTLY leaves: an invalid copy named <index>_ccnew[N]
_HALF_BUILT = text(
    "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
    "WHERE NOT i.indisvalid AND c.relnamespace = current_schema()::regnamespace "
    "AND c.relname LIKE 'ix_search_%ccnew%'"
)
_INSERT_PART = text(
    "INSERT INTO search_chunks (document_id, part, tsv, grams) "
    "VALUES (:document_id, :part, CAST(:tsv AS tsvector), CAST(:grams AS tsvector))"
)


class PgIndex:
    """The index in the tables of the PostgreSQL database ``engine`` connects to."""

    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("the pg search engine needs a PostgreSQL database_url")
        self.engine = engine
        self._freqs: tuple[dict[str, float], float] | None = None  # lexeme -> share of chunks; below the least
        self._freqs_at = 0.0

    # -- writing ---------------------------------------------------------------------------------

    def add(self, docs: Sequence[IndexDoc]) -> None:
        """Add or replace (by ``document_id``; the last of duplicates wins) in one transaction."""
        try:
            with self.engine.begin() as conn:
                self.add_in(conn, docs)
        except DBAPIError as exc:
            raise Unavailable("the search index cannot be written: {exc}", params={"exc": exc.orig}) from exc

    def add_in(self, conn: Connection, docs: Sequence[IndexDoc]) -> None:
        """Add or replace the documents in the caller's transaction (committed with it)."""
        latest = {doc.document_id: doc for doc in docs}
        if not latest:
            return
        parts = {i: _rows_of(d) for i, d in latest.items()}  # analysis first: no row is locked meanwhile
        ordered = sorted(latest)  # one lock order for every writer
        conn.execute(_UPSERT, [
            {"document_id": i, "dossier_id": latest[i].dossier_id, "owner_id": latest[i].owner_id,
             "secrecy": latest[i].secrecy, "doc_type": latest[i].doc_type, "doc_date": latest[i].doc_date,
             "terms": parts[i][0]}
            for i in ordered
        ])
        conn.execute(text("DELETE FROM search_chunks WHERE document_id = ANY(CAST(:ids AS bigint[]))"),
                     {"ids": ordered})
        rows = [{"document_id": i, "part": part, "tsv": literal, "grams": grams}
                for i in ordered for part, literal, grams in parts[i][1]]
        if rows:
            conn.execute(_INSERT_PART, rows)

    def delete(self, document_ids: Sequence[int]) -> None:
        """Delete the documents' rows (their chunks go with them)."""
        ids = sorted(set(document_ids))
        if not ids:
            return
        try:
            with self.engine.begin() as conn:
                delete_rows(conn, ids)
        except DBAPIError as exc:
            raise Unavailable("the search index cannot be written: {exc}", params={"exc": exc.orig}) from exc

    def clear(self) -> None:
        """Remove every document; TRUNCATE gives the tables' files back at once."""
        with self.engine.begin() as conn:
            conn.execute(text("TRUNCATE search_chunks, search_documents"))

    def compact(self) -> None:
        """Rebuild the GIN indexes in one pass, after a bulk load (``dossier reindex``). Grown document by
        document they take two to three times the space: at 30,000 documents the terms index went from 737 MB to
        275 MB (bench/scale.py), which is cache an archive bigger than memory keeps. CONCURRENTLY:
        searches and the workers' writes go on meanwhile; a failed rebuild's half-built copy is dropped."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            try:
                conn.execute(text(f"SET maintenance_work_mem = '{COMPACT_MEMORY}'"))
                for name in _GIN_INDEXES:
                    conn.execute(text(f"REINDEX INDEX CONCURRENTLY {name}"))
                conn.execute(text("RESET maintenance_work_mem"))
            except DBAPIError as exc:
                conn.invalidate()  # its setting, or the connection itself, is not the pool's to hand on
                with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as clean:
                    for (leftover,) in clean.execute(_HALF_BUILT).all():
                        clean.execute(text(f'DROP INDEX CONCURRENTLY IF EXISTS "{leftover}"'))
                raise Unavailable("the search index cannot be compacted: {exc}", params={"exc": exc.orig}) from exc

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
        # most of the archive, or a few dossiers (and the cards of every dossier within clearance: one entry per
        # dossier), which the GIN index narrows to by lexemes
        broad = bool(scope.all_dossiers_up_to)
        # an owner's scope is also lexemes of terms (scope_lexemes): the GIN index finds the term and the scope at
        # once, where reading each of their documents' TOASTed terms would take ~60 MB for a common word at 1M
        # documents; its conditions then only check what the index found ("+ 0": no index scan of their own)
        readable, where, params = _conditions(scope, filters, broad)
        scope_query = None if broad else _scope_query(scope)
        documents_query = None if broad else _scope_query(scope, cards=False)  # what has positive keys
        terms = [t.text for t in query.terms]
        checks = []
        narrowing = []
        for n, term in enumerate(terms):
            whole, runs = _runs(term)
            narrowing.append(f"({runs})")
            if whole is None:  # a long phrase: its runs narrow, its positions decide
                params[f"v{n}"] = term_tsquery(term)
                checks.append(f"EXISTS (SELECT 1 FROM search_chunks c WHERE c.document_id = m.document_id "
                              f"AND c.tsv @@ CAST(:v{n} AS tsquery))")
        oversize = " AND ".join(f"EXISTS (SELECT 1 FROM search_chunks c WHERE c.document_id = d.document_id "
                                f"AND {term_match(t, n, params)})" for n, t in enumerate(terms))
        # the newest :counted matches with ids from :oldest to below :below: candidates by the GIN index of terms
        # (exact unless a term is a long phrase, whose positions are then checked newest first until enough are
        # found; "+ 0": the bound filters what the index found, it is no index scan of its own), single documents
        # a checkout grants by their ids, oversize documents by their chunks

        def statement(by_terms: bool, by_ids: bool) -> TextClause:
            found_by_terms = []
            if by_terms:
                found_by_terms.append(
                    "SELECT d.document_id, d.dossier_id, false AS checked FROM search_documents d "
                    f"WHERE d.terms @@ CAST(:dq AS tsquery) AND {readable} AND {where} "
                    "AND d.document_id + 0 >= :oldest AND d.document_id + 0 < :below")
            if by_ids:
                found_by_terms.append(
                    "SELECT d.document_id, d.dossier_id, false FROM search_documents d "
                    "WHERE d.document_id = ANY(CAST(:documents AS bigint[])) AND d.terms @@ CAST(:tq AS tsquery) "
                    f"AND {where} AND d.document_id >= :oldest AND d.document_id < :below")
            return text(
                "WITH candidates AS ("
                + " UNION ".join(found_by_terms)  # a granted document of an owned dossier is found twice: once kept
                + " UNION ALL SELECT d.document_id, d.dossier_id, true FROM search_documents d "
                f"WHERE d.terms IS NULL AND {readable} AND {where} AND {oversize} "
                "AND d.document_id >= :oldest AND d.document_id < :below), "
                "newest AS (SELECT * FROM candidates ORDER BY document_id DESC OFFSET 0) "  # OFFSET 0: sorted first
                "SELECT m.document_id, m.dossier_id FROM newest m "
                + (f"WHERE m.checked OR ({' AND '.join(checks)}) " if checks else "")
                + "LIMIT :counted"
            )

        matches = statement(True, False)
        # a narrow scope's documents first, without the customer cards of every dossier (thousands, with negative
        # keys: they would all be found and sorted to keep the newest documents), unless it has none
        documents = statement(documents_query is not None, bool(scope.document_ids)) \
            if not broad and (documents_query is not None or scope.document_ids) else None
        terms_query = " & ".join(narrowing)
        try:
            with self.engine.begin() as conn:
                conn.execute(text(f"SET LOCAL statement_timeout = {max(int(time_limit_s * 1000), 1)}"))
                # before the settings below, which would make it read every row instead of the primary key's end
                newest, least = conn.execute(text(
                    "SELECT max(document_id), min(document_id) FROM search_documents")).one()
                # a common term's documents come from the GIN index, never by reading each document's TOASTed
                # terms (the planner may cost both alike)
                conn.execute(text("SET LOCAL enable_seqscan = off"))
                conn.execute(text("SET LOCAL enable_indexscan = off"))

                def run(first: int | None, last: int, limit: int,
                        only_documents: bool = False) -> list[tuple[int, int]]:
                    """Up to ``limit`` matches, newest first, with ids in the groups ``first`` to ``last - 1``
                    (the GIN index narrows to those groups' lexemes; oversize documents have none), or in any
                    group below ``last`` if ``first`` is None. ``only_documents``: a narrow scope's documents
                    (``documents``, without the card lexemes), bounded by ids alone: they are few."""
                    grouped = not only_documents
                    lexemes = scope_query if grouped else documents_query
                    dq, oldest = terms_query, LEAST_ID
                    if lexemes is not None:
                        dq += f" & ({lexemes})"
                    if first is not None:
                        if grouped:
                            dq += " & (" + " | ".join(_quoted(recent_group(g * RECENT_GROUP))
                                                      for g in range(first, last)) + ")"
                        oldest = first * RECENT_GROUP
                    bounds = {**params, "dq": dq, "tq": terms_query, "counted": limit, "oldest": oldest,
                              "below": last * RECENT_GROUP}
                    chosen = matches if grouped or documents is None else documents
                    return [(int(r.document_id), int(r.dossier_id)) for r in conn.execute(chosen, bounds)]

                def probed(top: int, floor: int, limit: int) -> list[tuple[int, int]]:
                    """Up to ``limit`` matches in the groups below ``top``, newest first. A query matching much of
                    them has its newest matches among the newest: the newest few groups first (the GIN index
                    narrows to them), then as many older groups as the share found there says should hold the
                    rest (unless that is half of those down to ``floor``), then everything older."""
                    done = top - PROBE_GROUPS
                    found = run(done, top, limit)
                    if found and len(found) < limit:
                        share = len(found) / (PROBE_GROUPS * RECENT_GROUP)
                        more = int(1.5 * (limit - len(found)) / share / RECENT_GROUP) + 1
                        if more < (done - floor) / 2:
                            stop = done - more
                            while done > stop and len(found) < limit:
                                step = min(STEP_GROUPS, done - stop)
                                found += run(done - step, done, limit - len(found))
                                done -= step
                    if len(found) < limit:
                        found += run(None, done, limit - len(found))
                    return found

                wanted = COUNTED_MATCHES + 1
                if newest is None:  # nothing is indexed
                    found = []
                elif not broad:
                    # a few dossiers' documents: the scope narrows best; then their customer files' entries and
                    # the cards within clearance (negative keys), by groups below 0 like a broad search
                    top = max(int(newest), 0) // RECENT_GROUP + 1
                    found = run(0, top, wanted, only_documents=True) if documents is not None else []
                    if len(found) < wanted and int(least) < 0 and scope_query is not None:
                        found += probed(0, int(least) // RECENT_GROUP, wanted - len(found))
                else:
                    # the groups of positive ids, then everything older: the customer files' entries have
                    # negative keys
                    found = probed(int(newest) // RECENT_GROUP + 1, 0, wanted)
                ranked = found[:min(RANKED_MATCHES, COUNTED_MATCHES)]
                scores = self._scores(conn, terms, [i for i, _ in ranked]) if ranked else {}
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) == "57014":  # query_canceled: the time limit
                return SearchResult(total=0, hits=[], partial=True)
            raise Unavailable("the search index cannot be read: {exc}", params={"exc": exc.orig}) from exc
        except DBAPIError as exc:
            raise Unavailable("the search index cannot be read: {exc}", params={"exc": exc.orig}) from exc
        exact = len(found) <= COUNTED_MATCHES
        found = found[:COUNTED_MATCHES]
        # the ranked ones best first (ties to the lower id), then the older ones newest first
        order = sorted(ranked, key=lambda r: (-scores.get(r[0], 0.0), r[0])) + found[len(ranked):]
        offset = (page - 1) * per_page
        hits = [Hit(i, dossier, scores.get(i, 0.0)) for i, dossier in order[offset:offset + per_page]]
        return SearchResult(total=len(found), hits=hits, partial=False, total_exact=exact, ranked=len(ranked))

    def _scores(self, conn: Connection, terms: Sequence[str], document_ids: Sequence[int]) -> dict[int, float]:
        """Each document's rank: the sum over its matching parts of ``ts_rank`` (the title weighs 1.0, content
        1/TITLE_BOOST); with several terms, each term's rank weighted by how rare it is."""
        params: dict[str, Any] = {"weights": _WEIGHTS, "ids": list(document_ids),
                                  "any": " | ".join(f"({term_tsquery(t)})" for t in terms)}
        rank = "ts_rank(CAST(:weights AS real[]), c.tsv, CAST(:any AS tsquery))"
        if len(terms) > 1:
            weights = self._term_weights(conn, terms)
            rank = " + ".join(f"{w!r} * ts_rank(CAST(:weights AS real[]), c.tsv, CAST(:r{n} AS tsquery))"
                              for n, w in enumerate(weights))
            params.update({f"r{n}": term_tsquery(t) for n, t in enumerate(terms)})
        rows = conn.execute(text(
            f"SELECT c.document_id, sum({rank}) AS score FROM search_chunks c "
            "WHERE c.document_id = ANY(CAST(:ids AS bigint[])) AND c.tsv @@ CAST(:any AS tsquery) "
            "GROUP BY c.document_id"), params)
        return {int(r.document_id): float(r.score) for r in rows}

    def _term_weights(self, conn: Connection, terms: Sequence[str]) -> list[float]:
        """Each term's idf-like weight, log(1 + 1/f) for f the share of chunks holding its rarest token, from
        the planner's statistics of ``tsv`` (its most common lexemes; any other is rarer than the least of
        them), read again every IDF_REFRESH_S seconds. Without statistics every term weighs the same."""
        now = time.monotonic()
        if self._freqs is None or now - self._freqs_at > IDF_REFRESH_S:
            rows = conn.execute(_LEXEME_FREQS).all()
            known = {str(r.elem): float(r.freq) for r in rows if r.elem is not None}
            self._freqs = (known, min(known.values()) / 2 if known else 1.0)
            self._freqs_at = now
        known, rarer = self._freqs
        weights = []
        for term in terms:
            tokens = phrase_query(term)
            if tokens:
                share = min(known.get(lexeme(t), rarer) for t in tokens)
            else:  # a lone CJK character: as common as the commonest lexeme it begins
                char = "".join(normalize(term).split())
                share = max((f for lx, f in known.items() if lx.startswith(char)), default=rarer)
            weights.append(round(math.log(1.0 + 1.0 / share), 4))
        return weights

    def doc_count(self) -> int:
        """How many documents the index holds."""
        with self.engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM search_documents")).scalar_one())

    def document_ids(self) -> set[int]:
        """The ids of every indexed document."""
        with self.engine.connect() as conn:
            return {int(i) for i in conn.execute(text("SELECT document_id FROM search_documents")).scalars()}

    def check(self) -> None:
        """Read both tables; ``Unavailable`` if that fails (database away, migration missing)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1 FROM search_documents LIMIT 1")).all()
                # by the primary key: a health check must not read the whole table (1.6 s at 300,000 documents)
                conn.execute(text("SELECT 1 FROM search_chunks WHERE document_id = 0 "
                                  "AND tsv @@ CAST('check' AS tsquery) LIMIT 1")).all()
        except Exception as exc:  # any failure means the index is unusable
            raise Unavailable("the search index cannot be read: {exc}", params={"exc": exc}) from exc


def delete_rows(conn: Connection, document_ids: Sequence[int]) -> None:
    """Delete documents' index rows in the caller's transaction (a destruction's, or the purge job's)."""
    ids = sorted(set(document_ids))
    conn.execute(text("DELETE FROM search_chunks WHERE document_id = ANY(CAST(:ids AS bigint[]))"), {"ids": ids})
    conn.execute(text("DELETE FROM search_documents WHERE document_id = ANY(CAST(:ids AS bigint[]))"), {"ids": ids})


def _scope_query(scope: Scope, cards: bool = True) -> str | None:
    """The tsquery text of the lexemes (:func:`scope_lexemes`) of a narrow scope's owned and granted dossiers
    and (if ``cards``) card levels, or None when it has none (single documents only)."""
    keys = [owner_lexeme(scope.owner_id, level) for level in scope.owned_levels] if scope.owner_id is not None else []
    dossier_ids = scope.granted_dossier_ids if scope.owner_id is not None else scope.dossier_ids
    keys += [dossier_lexeme(i) for i in sorted(dossier_ids)]
    keys += [level_lexeme(level) for level in scope.card_levels] if cards else []
    return " | ".join(_quoted(k) for k in keys) or None


def _conditions(scope: Scope, filters: SearchFilters, broad: bool) -> tuple[str, str, dict[str, Any]]:
    """(the condition on ``search_documents d`` of the scope, that of the filters, their parameters). A
    ``broad`` scope (levels in every dossier, decided once by :meth:`PgIndex.search`) compares its columns by
    their indexes; a narrow one ``+ 0``, as its lexemes already narrowed the rows, and reads an owner's dossiers
    by owner and level."""
    params: dict[str, Any] = {}
    where: list[str] = ["true"]
    plain = "" if broad else " + 0"
    levels = list(scope.levels_everywhere())
    readable: list[str] = []
    if levels:  # every dossier's documents (or only cards) at these levels
        readable.append("d.secrecy = ANY(CAST(:levels AS text[]))")
        params["levels"] = levels
    if scope.owner_id is not None and not broad:
        # an owner: their dossiers by owner and level, plus what was granted
        if scope.owned_levels:
            readable.append(f"(d.owner_id{plain} = :owner AND d.secrecy = ANY(CAST(:owned AS text[])))")
            params.update(owner=scope.owner_id, owned=list(scope.owned_levels))
        dossier_ids = scope.granted_dossier_ids
    else:
        dossier_ids = scope.dossier_ids
    if dossier_ids:
        readable.append(f"d.dossier_id{plain} = ANY(CAST(:dossiers AS bigint[]))")
        params["dossiers"] = sorted(dossier_ids)
    if scope.document_ids:
        readable.append(f"d.document_id{plain} = ANY(CAST(:documents AS bigint[]))")
        params["documents"] = sorted(scope.document_ids)
    if filters.doc_type is not None:
        where.append("d.doc_type = :doc_type")
        params["doc_type"] = filters.doc_type
    if filters.dossier_id is not None:
        where.append("d.dossier_id = :dossier_id")
        params["dossier_id"] = filters.dossier_id
    if filters.date_from is not None:
        where.append("d.doc_date >= :date_from")
        params["date_from"] = filters.date_from
    if filters.date_to is not None:
        where.append("d.doc_date <= :date_to")
        params["date_to"] = filters.date_to
    return ("(" + " OR ".join(readable) + ")" if readable else "false"), " AND ".join(where), params
