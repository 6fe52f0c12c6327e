"""`SearchIndex` on SQLite FTS5: one database file in the index directory, searched in C.

Why apsw and not the standard ``sqlite3`` module: content must never be stored, so the FTS5 table
is contentless, and deleting its rows needs ``contentless_delete=1`` (SQLite >= 3.43); Python's
``sqlite3`` uses the system library (3.40.1 on Debian 12). apsw bundles a current SQLite with FTS5
and exposes the progress handler that enforces the time limit.

* The file ``search.sqlite`` holds a contentless FTS5 table ``fts`` (columns ``content``, ``title``
  and ``tags``) and a plain table ``documents`` with what hits, scopes and filters need (ids,
  secrecy, type, date). No text is stored: only the inverted index and each row's token counts.
* Analysis is :mod:`indexer.analyzer`'s. FTS5 tokenises with ``unicode61``, so each column gets a
  pre-tokenised string: :func:`indexer.analyzer.phrase_tokens`, one token per position, separated
  by spaces (:func:`fts_text`). A CJK run is its first character, its bigrams and its last
  character, so that with one token per position every substring is still an exact phrase. A token
  that ``unicode61`` would split, drop or fold (symbols such as ``-`` ``,`` ``¥`` ``。``, any
  character outside :data:`SAFE_CHARS`) keeps its safe characters and has each other one written as
  U+E000, its hex code point, U+E001: still one token, which no plain token can equal, and whose
  first character's form is a prefix of it (a lone-character query is a prefix query).
  Identifiers and jieba words are not indexed: FTS5 scores whole phrases, they would add nothing.
* A query term is an exact phrase in ``content`` or ``title`` (:func:`match_expression`,
  :func:`indexer.analyzer.phrase_query`); a lone CJK character is a prefix query.
* Access and filters are part of the query, so nothing outside the scope is matched, counted or
  ranked: secrecy levels, dossier ids, document ids, the dossier's owner and the type as ``tags``
  tokens ANDed in the MATCH expression (an owner's thousands of dossiers are one ``o<id>`` tag: the
  worker re-adds a dossier's documents when its owner changes, as when its secrecy does); a scope
  too wide for a short OR (thousands of granted dossiers) and the date range as SQL conditions on
  ``documents`` in the same statement. A scope reading every secrecy level the index holds needs no
  check at all.
* Ranking is BM25F (title weighted ``TITLE_BOOST``; ties go to the lower id), computed by ``_rank``
  while FTS5 walks the matches newest first. Up to ``RANKED_MATCHES`` matches are all ranked and
  counted exactly. A query matching more (a company name in a quarter of the archive) ranks the
  newest ``RANKED_MATCHES`` and says its total is a lower bound (``total_exact`` False), as search
  engines do ("1,000+ results"): counting and scoring every match of a long phrase costs ~100 ms at
  100k documents, which no page of results should wait for. FTS5's own ``bm25`` is not used: to
  weigh each phrase it counts the phrase's documents in a second pass over the whole index.
* ``delete`` purges: the rows are deleted, the FTS5 index is rewritten without them ('optimize'),
  SQLite zeroes freed pages (``secure_delete``) and the WAL is checkpointed and truncated.
* One writer (a thread lock here, SQLite's write lock across processes, with a busy timeout),
  readers in any process: WAL mode, one connection per thread and process, reopened when the file
  was replaced (a rebuild by ``dossier reindex`` after the directory was removed).
* A search stops at its time limit: the progress handler interrupts the statement, and the result
  is ``partial`` with no hits (ranking and counting happen together, in one statement).
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import apsw

from indexer.analyzer import normalize, phrase_query, phrase_tokens
from indexer.query import ParsedQuery
from indexer.search_index import TITLE_BOOST, Hit, IndexDoc, SearchFilters, SearchResult, check_paging
from vault.errors import Unavailable
from vault.policy import Scope

FILE_NAME = "search.sqlite"
# Characters unicode61 (remove_diacritics 0) keeps as a token of their own, unchanged or folded
# one-to-one: ASCII letters and digits, Latin-1 and Latin Extended-A letters, Greek and Cyrillic
# lower case, kana, 〇, CJK unified ideographs (with extension A) and Hangul syllables.
# tests/integration/test_fts5_index.py checks it against the bundled SQLite.
SAFE_CHARS = (
    "a-z0-9\u00df-\u00f6\u00f8-\u00ff\u0100-\u017f\u03ac-\u03ce\u0430-\u045f"
    "\u3007\u3041-\u3096\u30a1-\u30fa\u30fc\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3"
)
_UNSAFE_TOKEN = re.compile(rf"\S*[^\s{SAFE_CHARS}]\S*")
_UNSAFE_CHAR = re.compile(rf"[^{SAFE_CHARS}]")
_ESCAPE, _ESCAPE_END = "\ue000", "\ue001"
# Matches ranked and counted exactly; a query matching more ranks the newest this many (by document
# id, i.e. upload order) and reports its total as "more than" (`SearchResult.total_exact` False).
RANKED_MATCHES = 1000
DF_CAP = 2000  # documents counted per term to weigh the terms of a query against each other
_K1, _B = 1.2, 0.75  # BM25's term-frequency saturation and length normalisation
# A scope with more tokens than this is checked in SQL: an FTS5 OR steps through every branch.
MAX_SCOPE_TOKENS = 64
_PROGRESS_STEPS = 1000  # virtual machine instructions between two looks at the clock
_MMAP_BYTES = 256 * 2**20  # read through the page cache without a copy per page
_LOG_BYTES = 64 * 2**20  # what the write-ahead log shrinks to after a checkpoint (a big batch grows it)
# connections a forked child inherited: never closed there (see Fts5Index._conn)
_INHERITED: list[apsw.Connection] = []
_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
    content, title, tags,
    content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 0'
);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    dossier_id INTEGER NOT NULL,
    secrecy TEXT NOT NULL,
    doc_type TEXT NOT NULL,
    doc_date INTEGER
);
-- every secrecy level ever indexed (until cleared): a scope holding them all needs no access check
CREATE TABLE IF NOT EXISTS levels (secrecy TEXT PRIMARY KEY) WITHOUT ROWID;
"""


# -- tokens ----------------------------------------------------------------------------------------


def fts_token(token: str) -> str:
    """One analyser token as a single unicode61 token: itself when safe, else escaped code points."""
    if _UNSAFE_TOKEN.fullmatch(token) is None:
        return token
    return _UNSAFE_CHAR.sub(lambda m: f"{_ESCAPE}{ord(m.group()):x}{_ESCAPE_END}", token)


def _escape_match(m: re.Match[str]) -> str:
    return fts_token(m.group())


def fts_text(text: str) -> str:
    """A text's positional tokens, one per position, as the string an FTS5 column is given."""
    return _UNSAFE_TOKEN.sub(_escape_match, " ".join(phrase_tokens(text)))


def tags_of(doc: IndexDoc) -> str:
    """The ``tags`` column: what scopes and filters look for (secrecy, type, dossier, document)."""
    tags = [f"s{doc.secrecy}", f"t{doc.doc_type}", f"d{doc.dossier_id}", f"k{doc.document_id}"]
    if doc.owner_id is not None:
        tags.append(f"o{doc.owner_id}")
    return " ".join(fts_token(tag) for tag in tags)


def _string(tokens: Sequence[str]) -> str:
    # tokens are letters, digits and private-use characters only: nothing to quote inside
    return '"' + " ".join(fts_token(t) for t in tokens) + '"'


def term_expression(text: str) -> str:
    """The FTS5 expression for one query term: a phrase in the content or the title."""
    tokens = phrase_query(text)
    if tokens:
        return f"{{content title}} : {_string(tokens)}"
    # a lone CJK character: any token it begins, its own or a bigram's (an escape is closed by
    # _ESCAPE_END, so an escaped character is a prefix of exactly the tokens that begin with it)
    char = "".join(normalize(text).split())
    return f'{{content title}} : "{fts_token(char)}" *'


def match_expression(query: ParsedQuery) -> str:
    """Every term of the query, ANDed."""
    return " AND ".join(f"({term_expression(term.text)})" for term in query.terms)


def _document_frequencies(conn: apsw.Connection, query: ParsedQuery) -> list[int]:
    """For each text phrase of the query, in MATCH order, how many documents hold its term, counted up
    to DF_CAP (0: not counted).

    Only a query of several terms needs them (one term's weight changes no order), and BM25 barely
    tells apart terms more common than DF_CAP, so the count stops there."""
    counts: list[int] = []
    for term in query.terms:
        df = 0
        if len(query.terms) > 1:
            df = int(_rows(conn, "SELECT count(*) FROM (SELECT 1 FROM fts WHERE fts MATCH ? LIMIT ?)",
                           (term_expression(term.text), DF_CAP))[0][0])
        counts.append(df)  # one phrase per term
    return counts


def _rank(api: apsw.FTS5ExtensionApi, *args: Any) -> float:
    """BM25F of the row: each text phrase's occurrences in the content and (weighted TITLE_BOOST) the
    title, saturated and length-normalised, times the phrase's inverse document frequency (from
    `_document_frequencies`, passed as JSON; 0 counts as a weight of 1)."""
    state = api.aux_data
    if state is None:
        rows = max(api.row_count, 1)
        idfs = [math.log(1 + (rows - df + 0.5) / (df + 0.5)) if df else 1.0 for df in json.loads(str(args[0]))]
        state = api.aux_data = (idfs, max(api.column_total_size(0) / rows, 1.0),
                                max(api.column_total_size(1) / rows, 1.0))
    idfs, avg_content, avg_title = state
    norm_content = _K1 * (1 - _B + _B * api.column_size(0) / avg_content)
    norm_title = _K1 * (1 - _B + _B * api.column_size(1) / avg_title)
    score = 0.0
    for phrase, idf in enumerate(idfs):
        content, title, _tags = api.phrase_locations(phrase)
        if content:
            score += idf * len(content) * (_K1 + 1) / (len(content) + norm_content)
        if title:
            score += TITLE_BOOST * idf * len(title) * (_K1 + 1) / (len(title) + norm_title)
    return score


def _tags_expression(tags: Sequence[str]) -> str:
    return "tags : (" + " OR ".join(_string([tag]) for tag in tags) + ")"


def _day(d: date) -> int:
    return d.year * 10000 + d.month * 100 + d.day


# -- the index ---------------------------------------------------------------------------------------


class _Thread(threading.local):
    conn: apsw.Connection | None = None
    pid: int = 0
    inode: tuple[int, int] = (0, 0)


class Fts5Index:
    """An FTS5 index in ``path/search.sqlite`` (directory created private, file mode 0600)."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 30.0) -> None:
        self.path = path
        self.file = path / FILE_NAME
        self._busy_ms = int(busy_timeout_s * 1000)
        self._write_lock = threading.Lock()
        self._local = _Thread()
        with self._write_lock:
            self._create()

    def _create(self) -> None:
        """Create the directory, the file (0600, so SQLite's WAL and shared-memory files are too)
        and the tables, where missing."""
        _make_private_dirs(self.path)
        os.close(os.open(self.file, os.O_RDWR | os.O_CREAT, 0o600))
        conn = apsw.Connection(str(self.file))
        try:
            conn.set_busy_timeout(self._busy_ms)
            conn.execute("PRAGMA journal_mode=WAL")
            with conn:
                conn.execute(_SCHEMA)
        except apsw.Error as exc:
            raise Unavailable("the search index cannot be opened: {exc}", params={"exc": exc}) from exc
        finally:
            conn.close()

    def _conn(self) -> apsw.Connection:
        """This thread's connection; a new one after a fork or when the file was replaced."""
        local = self._local
        try:
            st = os.stat(self.file)
        except OSError as exc:
            raise Unavailable("the search index is missing: {exc}", params={"exc": exc}) from exc
        inode = (st.st_dev, st.st_ino)
        if local.conn is None or local.pid != os.getpid() or local.inode != inode:
            if local.conn is not None:
                if local.pid == os.getpid():
                    local.conn.close()
                else:  # the parent's: closing it here could checkpoint or unlink the log under the parent
                    _INHERITED.append(local.conn)
            try:
                conn = apsw.Connection(str(self.file), flags=apsw.SQLITE_OPEN_READWRITE)
                conn.set_busy_timeout(self._busy_ms)
                conn.register_fts5_function("dv_rank", _rank)
                conn.execute(
                    "PRAGMA secure_delete=ON; PRAGMA synchronous=NORMAL; "
                    f"PRAGMA mmap_size={_MMAP_BYTES}; PRAGMA journal_size_limit={_LOG_BYTES}"
                )
            except apsw.Error as exc:
                raise Unavailable("the search index cannot be opened: {exc}", params={"exc": exc}) from exc
            local.conn, local.pid, local.inode = conn, os.getpid(), inode
        return local.conn

    # -- writing ---------------------------------------------------------------------------------

    def add(self, docs: Sequence[IndexDoc]) -> None:
        """Add or replace (by ``document_id``; the last of duplicates wins) in one transaction."""
        latest = {doc.document_id: doc for doc in docs}
        if not latest:
            return
        # analysis before taking the write lock: other writers and readers need not wait for it
        rows = [(i, fts_text(d.content), fts_text(d.title), tags_of(d)) for i, d in latest.items()]
        meta = [
            (i, d.dossier_id, d.secrecy, d.doc_type, _day(d.doc_date) if d.doc_date else None)
            for i, d in latest.items()
        ]
        with self._writing() as conn:
            present = _present(conn, latest)
            conn.executemany("DELETE FROM fts WHERE rowid = ?", [(i,) for i in present])
            conn.executemany("INSERT INTO fts(rowid, content, title, tags) VALUES (?, ?, ?, ?)", rows)
            conn.executemany("INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?)", meta)
            conn.executemany("INSERT OR IGNORE INTO levels VALUES (?)", [(d.secrecy,) for d in latest.values()])

    def delete(self, document_ids: Sequence[int]) -> None:
        """Delete and purge: the FTS5 index is rewritten without them, freed pages are zeroed and
        the write-ahead log is emptied."""
        ids = set(document_ids)
        if not ids:
            return
        with self._writing() as conn:
            present = _present(conn, ids)
            if present:
                conn.executemany("DELETE FROM fts WHERE rowid = ?", [(i,) for i in present])
                conn.executemany("DELETE FROM documents WHERE id = ?", [(i,) for i in present])
                # postings of deleted rows (and of replaced versions) stay in their segments until
                # merged: rewrite the index into one segment without them
                conn.execute("INSERT INTO fts(fts) VALUES ('optimize')")
        self._truncate_log()  # also when a retry finds them gone: the log may still hold them

    def clear(self) -> None:
        """Remove every document and zero what they took."""
        with self._writing() as conn:
            conn.execute("INSERT INTO fts(fts) VALUES ('delete-all')")
            conn.execute("DELETE FROM documents")
            conn.execute("DELETE FROM levels")
        self._truncate_log()

    def compact(self) -> None:
        """Nothing: FTS5 merges its segments as it writes (its automerge)."""

    @contextmanager
    def _writing(self) -> Iterator[apsw.Connection]:
        """A write transaction; ``Unavailable`` when another process holds the write lock too long."""
        with self._write_lock:
            conn = self._conn()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except apsw.BusyError as exc:
                raise Unavailable("the search index is locked by another writer") from exc
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _truncate_log(self) -> None:
        """Copy the log into the database and truncate it (waiting for readers up to the timeout)."""
        with self._write_lock:
            try:
                self._conn().wal_checkpoint(mode=apsw.SQLITE_CHECKPOINT_TRUNCATE)
            except apsw.BusyError as exc:
                raise Unavailable("the search index log could not be emptied: readers kept it busy") from exc

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
        conn = self._conn()
        deadline = time.monotonic() + time_limit_s
        conn.set_progress_handler(lambda: time.monotonic() > deadline, _PROGRESS_STEPS)
        try:
            match, where, params = _statement_parts(query, _narrowed(conn, scope), filters)
            # documents is joined only when its columns filter: a lookup per match costs
            source = "fts CROSS JOIN documents ON documents.id = fts.rowid" if where else "fts"
            # the newest RANKED_MATCHES + 1 matches, scored as they are found (no second pass over the
            # phrase, as FTS5's bm25 makes for its document frequencies); sorted here
            rows = _rows(
                conn,
                f"SELECT fts.rowid, dv_rank(fts, ?) FROM {source} WHERE fts MATCH ?{where} "
                "ORDER BY fts.rowid DESC LIMIT ?",
                (json.dumps(_document_frequencies(conn, query)), match, *params, RANKED_MATCHES + 1),
            )
            exact = len(rows) <= RANKED_MATCHES
            rows = sorted(rows[:RANKED_MATCHES], key=lambda row: (-row[1], row[0]))
            total = len(rows)
            rows = rows[(page - 1) * per_page : page * per_page]
            dossiers = {
                int(doc_id): int(dossier_id)
                for doc_id, dossier_id in _rows(
                    conn,
                    "SELECT id, dossier_id FROM documents WHERE id IN (SELECT value FROM json_each(?))",
                    (json.dumps([row[0] for row in rows]),),
                )
            }
        except apsw.InterruptError:
            return SearchResult(total=0, hits=[], partial=True)
        except apsw.Error as exc:
            raise Unavailable("the search index cannot be read: {exc}", params={"exc": exc}) from exc
        finally:
            conn.set_progress_handler(None)
        hits = [Hit(int(doc_id), int(dossiers[doc_id]), float(score)) for doc_id, score in rows]
        return SearchResult(total=total, hits=hits, partial=False, total_exact=exact)

    def doc_count(self) -> int:
        """How many documents the index holds."""
        return int(_rows(self._conn(), "SELECT count(*) FROM documents")[0][0])

    def document_ids(self) -> set[int]:
        """The ids of every indexed document."""
        return {int(row[0]) for row in _rows(self._conn(), "SELECT id FROM documents")}

    def check(self) -> None:
        """Read the document count and the FTS5 index structure; ``Unavailable`` if that fails."""
        try:
            conn = self._conn()
            conn.execute("SELECT count(*) FROM documents").fetchall()
            conn.execute("SELECT rowid FROM fts WHERE fts MATCH 'tags : check' LIMIT 1").fetchall()
        except Unavailable:
            raise
        except Exception as exc:  # any failure means the index is unusable
            raise Unavailable("the search index cannot be read: {exc}", params={"exc": exc}) from exc


def _narrowed(conn: apsw.Connection, scope: Scope) -> Scope | None:
    """The scope to check, or None when it reads every secrecy level the index holds (everything)."""
    levels = scope.levels_everywhere()
    if levels:
        indexed = {row[0] for row in conn.execute("SELECT secrecy FROM levels")}
        if indexed <= set(levels):
            return None
    return scope


def _statement_parts(
    query: ParsedQuery, scope: Scope | None, filters: SearchFilters
) -> tuple[str, str, list[Any]]:
    """The MATCH expression, extra SQL conditions on ``documents`` and their parameters."""
    match = [match_expression(query)]
    where: list[str] = []
    params: list[Any] = []
    if scope is not None:  # None: every document is readable
        levels = scope.levels_everywhere()
        readable = [f"s{level}" for level in levels]
        readable += [f"d{i}" for i in sorted(scope.dossier_ids)]
        readable += [f"k{i}" for i in sorted(scope.document_ids)]
        # an owner's dossiers by the owner tag: one posting list, however many dossiers they own
        granted = [f"s{level}" for level in scope.card_levels]
        granted += [f"d{i}" for i in sorted(scope.granted_dossier_ids)]
        granted += [f"k{i}" for i in sorted(scope.document_ids)]
        if scope.owner_id is not None and not scope.all_dossiers_up_to and len(granted) < MAX_SCOPE_TOKENS:
            branches = [_tags_expression(granted)] if granted else []
            if scope.owned_levels:
                owner = _tags_expression([f"o{scope.owner_id}"])
                branches.append(f"({owner} AND {_tags_expression([f's{level}' for level in scope.owned_levels])})")
            # (no branch: nothing readable, which no document's tags hold)
            match.append("(" + " OR ".join(branches) + ")" if branches else _tags_expression(["nothing"]))
        elif len(readable) <= MAX_SCOPE_TOKENS:
            match.append(_tags_expression(readable))
        else:
            where.append(
                "(documents.secrecy IN (SELECT value FROM json_each(?))"
                " OR documents.dossier_id IN (SELECT value FROM json_each(?))"
                " OR documents.id IN (SELECT value FROM json_each(?)))"
            )
            params += [json.dumps(list(levels)), json.dumps(sorted(scope.dossier_ids)),
                       json.dumps(sorted(scope.document_ids))]
    if filters.doc_type is not None:
        match.append(_tags_expression([f"t{filters.doc_type}"]))
    if filters.dossier_id is not None:
        match.append(_tags_expression([f"d{filters.dossier_id}"]))
    if filters.date_from is not None:
        where.append("documents.doc_date >= ?")
        params.append(_day(filters.date_from))
    if filters.date_to is not None:
        where.append("documents.doc_date <= ?")
        params.append(_day(filters.date_to))
    return " AND ".join(match), "".join(f" AND {w}" for w in where), params


def _rows(conn: apsw.Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    return conn.execute(sql, tuple(params)).fetchall()


def _present(conn: apsw.Connection, ids: Iterable[int]) -> list[int]:
    """Which of ``ids`` the index holds."""
    wanted = json.dumps(sorted(ids))
    rows = _rows(conn, "SELECT id FROM documents WHERE id IN (SELECT value FROM json_each(?))", (wanted,))
    return [int(row[0]) for row in rows]


def _make_private_dirs(path: Path) -> None:
    """Create ``path`` and any missing parent with mode 0700 (existing directories are left alone)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)
