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
* A tsvector keeps positions up to 16383 and at most 256 positions per lexeme, so a document is
  stored as chunks (``part`` 1, 2, ...) of at most :data:`WINDOW` positions, cut early before any
  lexeme would pass :data:`MAX_POSITIONS`, each overlapping the previous one by up to
  :data:`OVERLAP` positions: a phrase (a query term is at most 200 characters, ~200 tokens) lies
  wholly inside some chunk. The title is ``part`` 0, weighted ``A`` (ranked ``TITLE_BOOST`` times
  the content). Every term must match some part of the document (``EXISTS`` per term).
* Every run of 2..GRAM_TOKENS consecutive tokens of a part is also kept whole, as one lexeme (the tokens
  joined by a space, which no token holds) in the part's ``grams`` tsvector (no positions, its own GIN
  index): a query term of 2..GRAM_TOKENS tokens (a CJK word of up to four characters, "letter of
  credit") is that one lexeme, which the index answers alone; a longer term is its ``<->`` phrase in
  ``tsv``, read only in parts holding all its runs. Without them a common word ("有限公司") read the
  positions of every chunk holding its bigrams: seconds at 20k-30k documents.
* Scope and filters are SQL conditions on ``search_documents`` in the same statement that matches,
  counts and ranks, so nothing outside the scope is matched or counted and the total is exact.
  An owner's dossiers are read by ``owner_id`` and level (one condition, however many they own).
* Ranking: the sum over the matching parts of ``ts_rank`` (title weight 1.0, content 1/TITLE_BOOST),
  with several terms each term's rank weighted by log(1 + 1/f), f the share of chunks holding its
  rarest token as the planner's statistics tell (:meth:`PgIndex._term_weights`);
  ties go to the lower id. As with FTS5, the newest :data:`RANKED_MATCHES` matches are ranked (ranking
  reads every match's tsvectors); pages past them list the older matches newest first. Unlike FTS5,
  the total is always exact: the matches are found once (a MATERIALIZED CTE) and counted.
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

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError

from indexer.analyzer import normalize, phrase_query, phrase_tokens
from indexer.query import ParsedQuery
from indexer.search_index import TITLE_BOOST, Hit, IndexDoc, SearchFilters, SearchResult, check_paging
from vault.errors import Unavailable
from vault.policy import Scope

WINDOW = 1024  # positions in one chunk (a tsvector position stops at 16383)
RANKED_MATCHES = 1000  # the newest matches ranked; older ones follow them, newest first (all are counted)
OVERLAP = 256  # positions a chunk repeats of the previous one: longer than any query term's tokens
MAX_POSITIONS = 255  # positions of one lexeme in a chunk (a tsvector keeps 256)
MAX_LEXEME_CHARS = 200  # a lexeme must stay under 2 KB; the same cut applies to query tokens
IDF_REFRESH_S = 600.0  # how long the lexeme statistics for ranking are reused
GRAM_TOKENS = 3  # runs of 2..GRAM_TOKENS consecutive tokens are also kept whole, in ``grams``
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


def grams_literal(tokens: Sequence[str]) -> str:
    """The tsvector input text of every run of 2..GRAM_TOKENS consecutive tokens, without positions."""
    found: dict[str, None] = {}
    for n in range(2, GRAM_TOKENS + 1):
        for i in range(len(tokens) - n + 1):
            g = gram(tokens[i:i + n])
            if g is not None:
                found[g] = None
    return " ".join(_quoted(g) for g in found)


def term_tsquery(term: str) -> str:
    """The tsquery text on ``tsv`` for one query term: its tokens followed one by the next, or a prefix."""
    tokens = phrase_query(term)
    if tokens:
        return " <-> ".join(_quoted(t) for t in tokens)
    return _quoted("".join(normalize(term).split())) + ":*"  # a lone CJK character begins some token


def term_match(term: str, n: int, params: dict[str, Any]) -> str:
    """The condition on a chunk ``c`` that it holds ``term``, its tsquery parameters added to ``params``.

    A term of 2..GRAM_TOKENS tokens is one ``grams`` lexeme: the GIN index alone answers (no chunk is
    read). A longer one is its phrase in ``tsv``, only looked for in chunks holding all its runs of
    GRAM_TOKENS tokens (the GIN index of ``grams`` narrows the chunks whose positions are read).
    """
    tokens = phrase_query(term)
    whole = gram(tokens) if 2 <= len(tokens) <= GRAM_TOKENS else None
    if whole is not None:
        params[f"g{n}"] = _quoted(whole)
        return f"c.grams @@ CAST(:g{n} AS tsquery)"
    params[f"q{n}"] = term_tsquery(term)
    runs = [gram(tokens[i:i + GRAM_TOKENS]) for i in range(len(tokens) - GRAM_TOKENS + 1)]
    if not runs or None in runs:
        return f"c.tsv @@ CAST(:q{n} AS tsquery)"
    params[f"g{n}"] = " & ".join(_quoted(str(r)) for r in dict.fromkeys(runs))
    return f"c.tsv @@ CAST(:q{n} AS tsquery) AND c.grams @@ CAST(:g{n} AS tsquery)"


def _parts(doc: IndexDoc) -> list[tuple[int, str, str]]:
    """(part, tsv literal, grams literal) rows of a document: the title (0, weighted A) and the content's chunks."""
    title = list(phrase_tokens(doc.title)) if doc.title.strip() else []
    rows = [(0, tsvector_literal(title, "A"), grams_literal(title))] if title else []
    content = list(phrase_tokens(doc.content))
    rows += [(i, tsvector_literal(chunk), grams_literal(chunk)) for i, chunk in enumerate(chunks(content), 1)]
    return [row for row in rows if row[1]]


# -- the index ---------------------------------------------------------------------------------------

_UPSERT = text(
    "INSERT INTO search_documents (document_id, dossier_id, owner_id, secrecy, doc_type, doc_date) "
    "VALUES (:document_id, :dossier_id, :owner_id, :secrecy, :doc_type, :doc_date) "
    "ON CONFLICT (document_id) DO UPDATE SET dossier_id = excluded.dossier_id, owner_id = excluded.owner_id, "
    "secrecy = excluded.secrecy, doc_type = excluded.doc_type, doc_date = excluded.doc_date"
)
# the share of chunks holding each of tsv's most common lexemes, as ANALYZE found it
_LEXEME_FREQS = text(
    "SELECT e.elem, e.freq FROM pg_stats s CROSS JOIN LATERAL "
    "unnest(CAST(CAST(s.most_common_elems AS text) AS text[]), s.most_common_elem_freqs) AS e(elem, freq) "
    "WHERE s.schemaname = current_schema() AND s.tablename = 'search_chunks' AND s.attname = 'tsv'"
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
        parts = {i: _parts(d) for i, d in latest.items()}  # analysis first: no row is locked meanwhile
        ordered = sorted(latest)  # one lock order for every writer
        conn.execute(_UPSERT, [
            {"document_id": i, "dossier_id": latest[i].dossier_id, "owner_id": latest[i].owner_id,
             "secrecy": latest[i].secrecy, "doc_type": latest[i].doc_type, "doc_date": latest[i].doc_date}
            for i in ordered
        ])
        conn.execute(text("DELETE FROM search_chunks WHERE document_id = ANY(CAST(:ids AS bigint[]))"),
                     {"ids": ordered})
        rows = [{"document_id": i, "part": part, "tsv": literal, "grams": grams}
                for i in ordered for part, literal, grams in parts[i]]
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
        where, params = _conditions(query, scope, filters)
        offset = (page - 1) * per_page
        matched = f"SELECT d.document_id, d.dossier_id FROM search_documents d WHERE {where}"
        # matched once (MATERIALIZED), counted exactly, the newest RANKED_MATCHES ranked
        ranked = (
            f"WITH matched AS MATERIALIZED ({matched}), "
            "recent AS (SELECT * FROM matched ORDER BY document_id DESC LIMIT :ranked) "
            "SELECT r.document_id, r.dossier_id, (SELECT count(*) FROM matched) AS total, "
            "(SELECT coalesce(sum(ts_rank(CAST(:weights AS real[]), c.tsv, CAST(:any AS tsquery))), 0) "
            " FROM search_chunks c WHERE c.document_id = r.document_id AND c.tsv @@ CAST(:any AS tsquery)) AS score "
            "FROM recent r ORDER BY score DESC, r.document_id LIMIT :limit OFFSET :offset"
        )
        params.update(weights=_WEIGHTS, any=" | ".join(f"({term_tsquery(t.text)})" for t in query.terms),
                      ranked=RANKED_MATCHES, limit=per_page, offset=offset)
        try:
            with self.engine.begin() as conn:
                conn.execute(text(f"SET LOCAL statement_timeout = {max(int(time_limit_s * 1000), 1)}"))
                if scope.all_dossiers_up_to:
                    # a broad scope: a common term's chunks come from the GIN index, never by reading each
                    # chunk's TOASTed tsvector (the planner costs both alike and, for a term in every chunk,
                    # picked a scan that read them all: seconds at 20k documents)
                    conn.execute(text("SET LOCAL enable_seqscan = off"))
                    conn.execute(text("SET LOCAL enable_indexscan = off"))
                if len(query.terms) > 1:  # each term's rank weighted by how rare it is
                    weights = self._term_weights(conn, [t.text for t in query.terms])
                    rank = " + ".join(f"{w!r} * ts_rank(CAST(:weights AS real[]), c.tsv, CAST(:r{n} AS tsquery))"
                                      for n, w in enumerate(weights))
                    params.update({f"r{n}": term_tsquery(t.text) for n, t in enumerate(query.terms)})
                    ranked = ranked.replace("ts_rank(CAST(:weights AS real[]), c.tsv, CAST(:any AS tsquery))", rank)
                rows = list(conn.execute(text(ranked), params).all())
                if rows:
                    total = int(rows[0].total)
                else:  # a page past the ranked ones (or past the last): count alone
                    total = int(conn.execute(text(f"SELECT count(*) FROM ({matched}) m"), params).scalar_one())
                if len(rows) < per_page and total > RANKED_MATCHES and offset + per_page > RANKED_MATCHES:
                    # deeper than the ranked matches: the older ones, newest first, unranked (score 0)
                    params.update(limit=per_page - len(rows), offset=RANKED_MATCHES + max(offset - RANKED_MATCHES, 0))
                    rows += conn.execute(text(f"SELECT m.document_id, m.dossier_id, 0.0 AS score FROM ({matched}) m "
                                              "ORDER BY m.document_id DESC LIMIT :limit OFFSET :offset"), params).all()
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) == "57014":  # query_canceled: the time limit
                return SearchResult(total=0, hits=[], partial=True)
            raise Unavailable("the search index cannot be read: {exc}", params={"exc": exc.orig}) from exc
        except DBAPIError as exc:
            raise Unavailable("the search index cannot be read: {exc}", params={"exc": exc.orig}) from exc
        hits = [Hit(int(r.document_id), int(r.dossier_id), float(r.score)) for r in rows]
        return SearchResult(total=total, hits=hits, partial=False)

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
                conn.execute(text("SELECT 1 FROM search_chunks WHERE tsv @@ CAST('check' AS tsquery) LIMIT 1")).all()
        except Exception as exc:  # any failure means the index is unusable
            raise Unavailable("the search index cannot be read: {exc}", params={"exc": exc}) from exc


def delete_rows(conn: Connection, document_ids: Sequence[int]) -> None:
    """Delete documents' index rows in the caller's transaction (a destruction's, or the purge job's)."""
    ids = sorted(set(document_ids))
    conn.execute(text("DELETE FROM search_chunks WHERE document_id = ANY(CAST(:ids AS bigint[]))"), {"ids": ids})
    conn.execute(text("DELETE FROM search_documents WHERE document_id = ANY(CAST(:ids AS bigint[]))"), {"ids": ids})


def _conditions(query: ParsedQuery, scope: Scope, filters: SearchFilters) -> tuple[str, dict[str, Any]]:
    """The WHERE clause on ``search_documents d`` (terms, scope, filters) and its parameters."""
    params: dict[str, Any] = {}
    where: list[str] = []
    for n, term in enumerate(query.terms):
        where.append(f"EXISTS (SELECT 1 FROM search_chunks c WHERE c.document_id = d.document_id "
                     f"AND {term_match(term.text, n, params)})")
    levels = list(scope.all_dossiers_up_to or ())
    readable: list[str] = []
    if scope.owner_id is not None and not levels:
        # an owner: their dossiers by owner and level, plus what was granted
        if scope.owned_levels:
            readable.append("(d.owner_id = :owner AND d.secrecy = ANY(CAST(:owned AS text[])))")
            params.update(owner=scope.owner_id, owned=list(scope.owned_levels))
        dossier_ids = scope.granted_dossier_ids
    else:
        dossier_ids = scope.dossier_ids
        if levels:
            readable.append("d.secrecy = ANY(CAST(:levels AS text[]))")
            params["levels"] = levels
    if dossier_ids:
        readable.append("d.dossier_id = ANY(CAST(:dossiers AS bigint[]))")
        params["dossiers"] = sorted(dossier_ids)
    if scope.document_ids:
        readable.append("d.document_id = ANY(CAST(:documents AS bigint[]))")
        params["documents"] = sorted(scope.document_ids)
    where.append("(" + " OR ".join(readable) + ")" if readable else "false")
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
    return " AND ".join(where), params
