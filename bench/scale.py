"""Scale: 100k-1M documents' metadata in PostgreSQL and in the index; dossier list and search p95 through the API.

    .venv/bin/python bench/scale.py [--docs 100000] [--requests 200] [--batch 2000]
                                    [--engine whoosh|fts5|pg] [--gin-after] [--hold] [--no-cards] [--quick]

The documents are bench/search_engine.py's generator (about 2 KB of corpus vocabulary each), made and
written batch by batch (a million do not fit in memory): per batch, the dossiers, documents and versions
rows are inserted directly (one dossier per 7 documents, its owner one of OWNERS employees, its secrecy
drawn from LEVELS; one version per document, the extracted text sealed with the version's own data key,
wrapped by the real keyring, so snippets decrypt as in production), then the batch goes through the
engine's own `add` (the real analyzer and write path), with each dossier's customer card as the search
service indexes it (`card_entry`: a customer's name made from the corpus companies' places and trades, a legal
representative and an address; readable by everyone within clearance, so an employee's search meets
every card at their levels; `--no-cards`: documents only, as before 2026-12-04). The build rate is
reported for both parts. No blobs are written: content reads are not what this measures. With
``--engine pg`` the index is the tables of the same PostgreSQL database, and its size is theirs
(tables, GIN index and TOAST).

Then gunicorn `web.wsgi:app` serves it (DOSSIER_SEARCH_ENGINE set to the engine) and one client times, one
request at a time: GET /api/v1/dossiers (random page of 50; and filtered by a name fragment) as an
archivist, and the same mix of GET /api/v1/search (`search_mix`: corpus queries, common and rare terms,
CJK words, several terms, filters) as legal (every dossier up to secret) and as bench-employee (clearance
internal: the public and internal dossiers it owns, about 1/OWNERS of them), with p50/p95 per kind of
query and the slowest. The machine is shared (2 cores): figures are noisy; the load average is printed.
`--gin-after` (pg): the GIN indexes are dropped for the build and made in one pass before each measurement
(their time reported apart), the shape `dossier reindex` leaves, whose compaction rebuilds them in one pass;
without it they grow document by document, as under uploads, at two to three times the size.
`--hold`: measure again for each line on standard input (gunicorn restarted: edited code is served).
`--quick`: 140 documents, 6 requests per kind, one gunicorn process: a smoke run (errors still count).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import itertools
import json
import multiprocessing
import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import search_engine  # noqa: E402
from prodshape import ProductionShape, percentile  # noqa: E402
from sqlalchemy import insert, select, text, update  # noqa: E402
from sqlalchemy.dialects.postgresql import insert as pg_insert  # noqa: E402

from config import load_settings  # noqa: E402
from indexer.analyzer import analyse  # noqa: E402
from indexer.customer_entries import entry_key  # noqa: E402
from indexer.pg_index import _GIN_INDEXES  # noqa: E402
from indexer.search_index import CARD_LEVEL_PREFIX, IndexDoc, SearchIndex  # noqa: E402
from indexer.service import open_index  # noqa: E402
from vault.core import Vault  # noqa: E402
from vault.crypto import new_data_key  # noqa: E402
from vault.models import Document, DocumentVersion, Dossier, Role, Secrecy, User  # noqa: E402
from vault.services.texts import seal_text  # noqa: E402

PER_DOSSIER = 7
OWNERS = 200  # employees owning dossiers; bench-employee is one of them (about 1/OWNERS of the dossiers)
# dossier secrecy levels, about as an archive has them; the employee (clearance internal) reads the first two
LEVELS = (("public", 25), ("internal", 45), ("confidential", 22), ("secret", 8))
COMMON = ("合同", "有限公司", "付款", "甲方", "乙方", "人民币", "银行")  # in most generated documents
CJK_WORDS = ("违约", "质量", "交货", "发票", "担保", "仲裁", "保密")
QUICK: dict[str, Any] = {"docs": 140, "requests": 6, "batch": 70, "gunicorn_workers": 1}  # --quick: a smoke run


def _owners(v: Vault, count: int) -> list[int]:
    """Ids of ``count`` employees who own dossiers, bench-employee first (the others are rows only)."""
    now = datetime.now(UTC)
    with v.session() as s:
        s.execute(insert(User), [{"username": f"bench-owner-{n:04d}", "display_name": "", "role": Role.EMPLOYEE,
                                  "clearance": Secrecy.INTERNAL, "password_hash": None, "active": True,
                                  "session_epoch": 0, "created_at": now} for n in range(1, count)])
        employee = s.scalars(select(User.id).where(User.username == "bench-employee")).one()
        others = s.scalars(select(User.id).where(User.username.like("bench-owner-%")).order_by(User.id)).all()
    return [employee, *others]


@dataclasses.dataclass
class Build:
    """What the build did, and what the queries are made from."""

    rows_s: float = 0.0  # dossiers, documents and versions inserted (text sealed), summed over the processes
    index_s: float = 0.0  # the engine's add, likewise
    docs: int = 0
    employee_dossiers: list[int] = dataclasses.field(default_factory=list)  # readable by bench-employee
    numbers: list[str] = dataclasses.field(default_factory=list)  # contract numbers (rare terms)


# trade names (字号) for customers' names: the corpus has a dozen companies, an archive one name per customer
BRANDS = "华信恒泰宏达鑫源丰盛瑞祥金嘉隆兴和安永昌德福佳美新正远通康宁博创益凯"


@functools.cache
def _chinese_companies(companies: tuple[str, ...]) -> tuple[str, ...]:
    """The corpus's Chinese company names with a city: chosen once, not for each of a million dossiers."""
    return tuple(c for c in companies if c.endswith("公司") and "市" in c)


def _trade_at(name: str) -> int:
    """Where a company's trade name begins: after the city (and district)."""
    return max(name.rfind("市", 0, 8), name.rfind("区", 0, 8)) + 1


def customer_name(dossier_id: int, vocab: search_engine.Vocabulary) -> str:
    """A dossier's customer: the place of one corpus company, a trade name of two characters, the trade of
    another (about 100,000 names, as varied as an archive's), and a number that the name filter looks for."""
    rng = random.Random(dossier_id * 7919)
    chinese = _chinese_companies(vocab.companies)
    place, trade = rng.choice(chinese), rng.choice(chinese)
    brand = rng.choice(BRANDS) + rng.choice(BRANDS)
    return f"{place[:_trade_at(place)]}{brand}{trade[_trade_at(trade) + 2:]}（规模客户{dossier_id:07d}）"


def card_entry(dossier_id: int, secrecy: str, owner: int, vocab: search_engine.Vocabulary) -> IndexDoc:
    """The dossier's customer card as indexer.customer_entries indexes it: its name, legal representative and
    address, at the card form of the dossier's level."""
    rng = random.Random(-dossier_id)
    return IndexDoc(document_id=entry_key("card", dossier_id), dossier_id=dossier_id,
                    archive_no=f"KH-S-{dossier_id:08d}", doc_type="card", doc_date=None,
                    secrecy=CARD_LEVEL_PREFIX + secrecy, title=customer_name(dossier_id, vocab),
                    content=f"{rng.choice(vocab.people)}\n{rng.choice(vocab.addresses)}", owner_id=owner)


def dossier_of(dossier_id: int, owners: list[int]) -> tuple[str, int]:
    """A dossier's secrecy and owner: drawn from its id, so every building process agrees."""
    rng = random.Random(dossier_id)
    levels, weights = zip(*LEVELS, strict=True)
    return rng.choices(levels, weights)[0], rng.choice(owners)


class _Builder:
    """One building process: its own Vault and index; builds the batches it is given."""

    v: Vault
    index: SearchIndex
    owners: list[int]
    archivist: int
    vocab: search_engine.Vocabulary
    cards: bool

    @classmethod
    def start(cls, settings: Any, owners: list[int], cards: bool) -> None:
        cls.v = Vault.open(settings)
        cls.index = open_index(settings.search_engine, settings.index_path, cls.v.engine)
        cls.owners, cls.cards = owners, cards
        with cls.v.session() as s:
            cls.archivist = s.scalars(select(User.id).where(User.username == "bench-arch")).one()
        cls.vocab = search_engine.vocabulary()
        sum(1 for _ in analyse("预热 jieba"))  # load the dictionary before timing

    @classmethod
    def build(cls, span: tuple[int, int]) -> Build:
        """Documents ``first`` to ``first + count - 1`` (whole dossiers): rows, then the engine's add."""
        first, count = span
        v, archivist, now = cls.v, cls.archivist, datetime.now(UTC)
        t0 = time.perf_counter()
        out = Build(docs=count)
        dossiers, documents, versions, indexed = [], [], [], []
        for d in search_engine.iter_documents(count, cls.vocab, seed=1, first=first):
            secrecy, owner = dossier_of(d.dossier_id, cls.owners)
            if not dossiers or dossiers[-1]["id"] != d.dossier_id:
                if owner == cls.owners[0] and secrecy in ("public", "internal"):
                    out.employee_dossiers.append(d.dossier_id)
                dossiers.append({"id": d.dossier_id, "archive_no": f"KH-S-{d.dossier_id:08d}",
                                 "customer_name": customer_name(d.dossier_id, cls.vocab), "credit_code": None,
                                 "customer_type": ("supplier", "client", "partner")[d.dossier_id % 3],
                                 "grade": "ABCD"[d.dossier_id % 4], "industry": "", "region": "", "owner_id": owner,
                                 "secrecy": secrecy, "status": "active", "location": "", "created_at": now,
                                 "updated_at": now, "created_by_id": archivist})
                if cls.cards:
                    indexed.append(card_entry(d.dossier_id, secrecy, owner, cls.vocab))
            uid = uuid.uuid4()
            key_id, wrapped = v.keyring.wrap(new_data_key(), uid.bytes)
            version = DocumentVersion(uid=uid.hex, key_id=key_id, wrapped_key=wrapped)
            documents.append({"id": d.document_id, "dossier_id": d.dossier_id, "doc_type": d.doc_type,
                              "title": d.title, "doc_date": d.doc_date, "status": "active", "created_at": now,
                              "created_by_id": archivist})
            versions.append({"id": d.document_id, "uid": uid.hex, "document_id": d.document_id, "version_no": 1,
                             "blob_key": None, "key_id": key_id, "wrapped_key": wrapped,
                             "plaintext_size": len(d.content.encode()), "ciphertext_size": 0,
                             "ciphertext_sha256": "0" * 64, "fingerprint": None, "mime": "application/pdf",
                             "original_filename": f"{d.document_id}.pdf", "pages": 1, "uploaded_by_id": archivist,
                             "uploaded_at": now, "index_status": "indexed", "indexed_at": now,
                             "text_ciphertext": seal_text(v, version, d.content)})
            indexed.append(dataclasses.replace(d, archive_no=f"KH-S-{d.dossier_id:08d}", secrecy=secrecy,
                                               owner_id=owner))
            if d.document_id % 997 == 0:
                out.numbers.append(d.title.split()[-1])
        with v.session() as s:  # a dossier may straddle two --measure-at sizes: inserted once
            s.execute(pg_insert(Dossier).on_conflict_do_nothing(), dossiers)
            s.execute(insert(Document), documents)
            s.execute(insert(DocumentVersion), versions)
            s.execute(update(Document).where(Document.id.in_([d.document_id for d in indexed]))
                      .values(current_version_id=Document.id))
        t1 = time.perf_counter()
        cls.index.add(indexed)
        out.rows_s, out.index_s = t1 - t0, time.perf_counter() - t1
        return out


def _build(settings: Any, owners: list[int], cards: bool, first: int, last: int, batch: int, processes: int,
           stop: Path | None = None) -> Build:
    """Documents ``first`` to ``last`` in batches of whole dossiers, by ``processes`` processes at once; fewer
    when the file ``stop`` appears (the batches under way are finished)."""
    batch = max(PER_DOSSIER, batch - batch % PER_DOSSIER)
    # document i is in dossier 1 + i // 7: a span starting at a multiple of 7 holds whole dossiers
    edges = [first, *range((first // PER_DOSSIER + 1) * PER_DOSSIER, last + 1, batch), last + 1]
    spans = [(a, b - a) for a, b in itertools.pairwise(dict.fromkeys(edges)) if b > a]
    total = Build()
    started = time.perf_counter()

    def add(part: Build) -> None:
        for name in ("rows_s", "index_s", "docs"):
            setattr(total, name, getattr(total, name) + getattr(part, name))
        total.employee_dossiers += part.employee_dossiers
        total.numbers += part.numbers
        if total.docs % (batch * 25) < part.docs:
            print(f"  {total.docs} more documents, {total.docs / (time.perf_counter() - started):.0f} docs/s, "
                  f"load average {_load()}", flush=True)

    todo = iter(spans)
    if processes <= 1:
        _Builder.start(settings, owners, cards)
        for span in todo:
            if stop is not None and stop.exists():
                break
            add(_Builder.build(span))
        return total
    # at most `processes` batches in flight, so that a stop file ends the build within a batch
    with multiprocessing.get_context("fork").Pool(processes, _Builder.start, (settings, owners, cards)) as pool:
        running = [pool.apply_async(_Builder.build, (span,)) for span in itertools.islice(todo, processes)]
        while running:
            running[0].wait()
            add(running.pop(0).get())
            if stop is None or not stop.exists():
                running += [pool.apply_async(_Builder.build, (span,)) for span in itertools.islice(todo, 1)]
    return total


def _index_bytes(v: Vault, engine: str) -> int:
    """What the index takes: its files, or for pg its tables with their indexes and TOAST."""
    if engine != "pg":
        return search_engine.disk_size(v.settings.index_path)
    with v.engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_total_relation_size('search_chunks') "
                                     "+ pg_total_relation_size('search_documents')")).scalar_one())


def search_mix(rng: random.Random, n: int, build: Build, dossiers: int) -> list[tuple[str, str]]:
    """``n`` (kind, path) searches: corpus queries, common and rare terms, CJK words, several terms, filters."""
    corpus = search_engine.corpus_queries()
    doc_types = search_engine.DOC_TYPES
    out = []
    for _ in range(n):
        kind = rng.choices(("corpus", "common", "rare", "cjk", "terms", "filtered", "dossier"),
                           (30, 15, 15, 10, 10, 15, 5))[0]
        params: dict[str, Any] = {"per_page": 20}
        if kind == "corpus":
            params["q"] = rng.choice(corpus)
        elif kind == "common":
            params["q"] = rng.choice(COMMON)
        elif kind == "rare":
            params["q"] = rng.choice(build.numbers) if build.numbers else rng.choice(corpus)
        elif kind == "cjk":
            params["q"] = rng.choice(CJK_WORDS)
        elif kind == "terms":
            params["q"] = f"{rng.choice(COMMON)} {rng.choice(CJK_WORDS + tuple(corpus[:22]))}"
        elif kind == "filtered":
            params["q"] = rng.choice(COMMON + CJK_WORDS + tuple(corpus))
            year = rng.randrange(2019, 2025)
            params.update(rng.choice(({"doc_type": rng.choice(doc_types)},
                                      {"date_from": f"{year}-01-01", "date_to": f"{year}-06-30"},
                                      {"doc_type": rng.choice(doc_types), "date_from": f"{year}-01-01"})))
        else:  # within one dossier: the employee's own, or any for legal (the same path for both)
            params["q"] = rng.choice(COMMON + CJK_WORDS)
            pool = build.employee_dossiers
            params["dossier_id"] = rng.choice(pool) if pool and rng.random() < 0.5 else rng.randrange(1, dossiers + 1)
        out.append((kind, f"/api/v1/search?{urlencode(params)}"))
    return out


def _time(shape: ProductionShape, paths: list[str], token: str) -> tuple[list[float], int]:
    conn = shape.connection()
    times, errors = [], 0
    try:
        for path in paths:
            start = time.perf_counter()
            status, _ = shape.request("GET", path, token=token, conn=conn)
            times.append(time.perf_counter() - start)
            errors += status != 200
    finally:
        conn.close()
    return times, errors


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure(shape: ProductionShape, docs: int, requests: int, build: Build) -> dict[str, Any]:
    """Time the dossier list (archivist) and the search mix (legal, employee) through the API."""
    figures: dict[str, Any] = {"load_before": _load()}
    arch, legal, employee = shape.token("bench-arch"), shape.token("bench-legal"), shape.token("bench-employee")
    rng = random.Random(3)
    dossiers = -(-docs // PER_DOSSIER)
    pages = max(1, dossiers // 50)
    list_paths = [f"/api/v1/dossiers?{urlencode({'page': rng.randint(1, min(pages, 100_000)), 'per_page': 50})}"
                  for _ in range(requests // 2)]
    filter_paths = [f"/api/v1/dossiers?{urlencode({'q': f'客户{rng.randrange(dossiers):07d}'[:7]})}"
                    for _ in range(requests // 4)]
    mix = search_mix(rng, requests, build, dossiers)
    warm = [path for _, path in mix[:10]]
    for token in (arch, legal, employee):  # every gunicorn process's pool and caches a little
        _time(shape, warm, token)
    timed = {"list": _time(shape, list_paths, arch), "list_filtered": _time(shape, filter_paths, arch)}
    for role, token in (("legal", legal), ("employee", employee)):
        times, errors = _time(shape, [path for _, path in mix], token)
        timed[f"search_{role}"] = (times, errors)
        by_kind: dict[str, list[float]] = {}
        for (kind, _), took in zip(mix, times, strict=True):
            by_kind.setdefault(kind, []).append(took)
        figures[f"kinds_{role}"] = {k: (len(t), percentile(t, 50) * 1000, percentile(t, 95) * 1000)
                                    for k, t in sorted(by_kind.items())}
        slowest = sorted(zip(times, mix, strict=True), reverse=True)[:5]
        figures[f"slowest_{role}"] = [(took * 1000, path) for took, (_, path) in slowest]
    for name, (times, _) in timed.items():
        figures[f"{name}_requests"] = len(times)
        figures[f"{name}_p50_ms"] = percentile(times, 50) * 1000
        figures[f"{name}_p95_ms"] = percentile(times, 95) * 1000
    figures["errors"] = sum(errors for _, errors in timed.values())
    # the bare cost of a search request (auth, scope, audit, an index lookup that finds nothing), same run
    bare = [f"/api/v1/search?{urlencode({'q': f'nomatch{n}', 'per_page': 20})}" for n in range(requests // 4)]
    for role, token in (("legal", legal), ("employee", employee)):
        times, errors = _time(shape, bare, token)
        figures[f"bare_{role}_p50_ms"], figures[f"bare_{role}_p95_ms"] = (percentile(times, 50) * 1000,
                                                                          percentile(times, 95) * 1000)
        figures["errors"] += errors
        status, body = shape.request("GET", "/api/v1/search?" + urlencode({"q": COMMON[0]}), token=token)
        figures[f"total_{role}"] = json.loads(body)["total"] if status == 200 else None
    figures["load_after"] = _load()
    return figures


def run(docs: int = 100_000, requests: int = 200, batch: int = 2000, gunicorn_workers: int = 2,
        engine: str = "whoosh", hold: bool = False, processes: int = 1,
        measure_at: tuple[int, ...] = (), stop: Path | None = None, gin_after: bool = False,
        cards: bool = True) -> dict[str, Any]:
    """Generate, insert, index, serve, measure; figures as a dict (latencies in ms).

    ``measure_at``: smaller sizes measured on the way (each figure printed as soon as measured), so a build
    that cannot finish still tells; once the file ``stop`` exists, the build ends after the batches under way
    and the size reached is measured. ``hold``: at the end, each line read from standard input restarts gunicorn
    (edited code is served) and measures anew; end of input ends the run. Meanwhile the database can be
    examined (its URL is printed)."""
    figures: dict[str, Any] = {}
    with ProductionShape(gunicorn_workers=gunicorn_workers, threads=1, worker=False, serve=False,
                         settings={"search_engine": engine}) as shape:
        settings = load_settings({"home": str(shape.home), "database_url": shape.database_url,
                                  "search_engine": engine}, environ={})
        v = Vault.open(settings)
        try:
            owners = _owners(v, OWNERS)
            index = open_index(settings.search_engine, settings.index_path, v.engine)
        finally:
            v.close()
        build, built = Build(), 0
        for size in sorted({n for n in measure_at if 0 < n < docs} | {docs}):
            if stop is not None and stop.exists():
                break
            figures = {"engine": engine, "load_start": _load()}
            v = Vault.open(settings)
            try:
                gin = _drop_gin(v) if gin_after and engine == "pg" else []
            finally:
                v.close()
            t0 = time.perf_counter()
            part = _build(settings, owners, cards, built + 1, size, batch, processes, stop)
            figures["build_s"] = time.perf_counter() - t0
            figures["rows_s"], figures["index_s"] = part.rows_s, part.index_s
            figures["built_docs"] = part.docs
            build.employee_dossiers += part.employee_dossiers
            build.numbers += part.numbers
            built += part.docs
            figures["docs"] = size = built
            v = Vault.open(settings)
            try:
                if gin:
                    t0 = time.perf_counter()
                    _make_gin(v, gin)
                    figures["gin_s"] = time.perf_counter() - t0
                t0 = time.perf_counter()
                with v.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("VACUUM ANALYZE"))  # what autovacuum does soon after a bulk load
                figures["vacuum_s"] = time.perf_counter() - t0
                figures["index_docs"] = index.doc_count()
                figures["index_mib"] = _index_bytes(v, engine) / 2**20
                figures["load_built"] = _load()
            finally:
                v.close()
            print(build_report(figures), flush=True)
            shape.start_server()
            figures.update(measure(shape, size, requests, build))
            print(search_report(figures), flush=True)
            shape.stop("gunicorn")
        if hold:
            print(f"holding: {shape.database_url}", flush=True)
            for _ in sys.stdin:
                shape.start_server()
                figures.update(measure(shape, built, requests, build))
                print(search_report(figures), flush=True)
                shape.stop("gunicorn")
    return figures


def _drop_gin(v: Vault) -> list[str]:
    """Drop the pg engine's GIN indexes; the statements that make them again."""
    with v.engine.begin() as conn:
        made = [conn.execute(text("SELECT pg_get_indexdef(CAST(:name AS regclass))"), {"name": name}).scalar_one()
                for name in _GIN_INDEXES]
        for name in _GIN_INDEXES:
            conn.execute(text(f"DROP INDEX {name}"))
    return made


def _make_gin(v: Vault, statements: list[str]) -> None:
    """Make the dropped GIN indexes in one pass each, with room to sort in memory."""
    with v.engine.begin() as conn:
        conn.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
        for statement in statements:
            conn.execute(text(statement))


def build_report(f: dict[str, Any]) -> str:
    built, build_s = f["built_docs"], max(f["build_s"], 1e-9)
    return (f"scale: {f['docs']} documents ({-(-f['docs'] // PER_DOSSIER)} dossiers, {OWNERS} owners) on "
            f"PostgreSQL, indexed ({f['engine']}): {built} built in {build_s:.0f} s = {built / build_s:.0f} docs/s "
            f"(in all processes: rows + sealed text {f['rows_s']:.0f} s, engine add {f['index_s']:.0f} s = "
            f"{built / max(f['index_s'], 1e-9):.0f} docs/s per process; then "
            + (f"the GIN indexes in one pass {f['gin_s']:.0f} s, " if "gin_s" in f else "")
            + f"VACUUM ANALYZE {f['vacuum_s']:.0f} s); "
            f"index {f['index_docs']} entries (documents and cards), {f['index_mib']:.0f} MiB; "
            f"load average {f['load_start']} at the start, "
            f"{f['load_built']} when built")


def search_report(f: dict[str, Any]) -> str:
    lines = [
        f"  GET /api/v1/dossiers (page of 50):   p50 {f['list_p50_ms']:6.0f} ms  p95 {f['list_p95_ms']:6.0f} ms "
        f"({f['list_requests']} requests)",
        f"  GET /api/v1/dossiers?q=name:         p50 {f['list_filtered_p50_ms']:6.0f} ms  "
        f"p95 {f['list_filtered_p95_ms']:6.0f} ms ({f['list_filtered_requests']} requests)",
    ]
    for role in ("legal", "employee"):
        lines.append(f"  GET /api/v1/search as {role + ':':9}      p50 {f[f'search_{role}_p50_ms']:6.0f} ms  "
                     f"p95 {f[f'search_{role}_p95_ms']:6.0f} ms ({f[f'search_{role}_requests']} requests; "
                     f"'{COMMON[0]}' matches {f[f'total_{role}']}; a search finding nothing: "
                     f"p50 {f[f'bare_{role}_p50_ms']:.0f} ms, p95 {f[f'bare_{role}_p95_ms']:.0f} ms)")
        lines.append("    " + ", ".join(f"{kind} {n}: {p50:.0f}/{p95:.0f}"
                                        for kind, (n, p50, p95) in f[f"kinds_{role}"].items()) + " (p50/p95 ms)")
        lines += [f"    slow: {ms:.0f} ms {path}" for ms, path in f[f"slowest_{role}"][:3]]
    lines.append(f"  errors: {f['errors']}; load average {f['load_before']} before, {f['load_after']} after")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per kind")
    parser.add_argument("--batch", type=int, default=2000, help="rows per insert and documents per index commit")
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--engine", choices=(*search_engine.ENGINES, "pg"), default="whoosh",
                        help="the search engine")
    parser.add_argument("--processes", type=int, default=1,
                        help="building processes (pg: writers at once; whoosh and fts5 have one writer)")
    parser.add_argument("--measure-at", type=int, nargs="*", default=[], help="smaller sizes measured on the way")
    parser.add_argument("--stop-file", type=Path,
                        help="when this file appears, stop building and measure the size reached")
    parser.add_argument("--gin-after", action="store_true",
                        help="pg: build without the GIN indexes, then make them in one pass (as after a reindex)")
    parser.add_argument("--hold", action="store_true",
                        help="afterwards, measure again (new gunicorn) for each line read from standard input")
    parser.add_argument("--no-cards", action="store_true",
                        help="documents only, no customer cards in the index (the shape measured before 2026-12-04)")
    parser.add_argument("--quick", action="store_true", help="140 documents, 6 requests per kind: a smoke run")
    args = parser.parse_args(argv)
    sizes = {"docs": args.docs, "requests": args.requests, "batch": args.batch,
             "gunicorn_workers": args.gunicorn_workers}
    figures = run(**(QUICK if args.quick else sizes), engine=args.engine, hold=args.hold,
                  processes=args.processes, measure_at=tuple(args.measure_at), stop=args.stop_file,
                  gin_after=args.gin_after, cards=not args.no_cards)
    return 0 if figures.get("errors", 0) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
