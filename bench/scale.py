"""Scale: 100k documents' metadata in PostgreSQL and in the index; dossier list and search p95 through the API.

    .venv/bin/python bench/scale.py [--docs 100000] [--requests 200] [--batch 2000]
                                    [--engine whoosh|fts5|pg] [--quick]

Rows are generated directly in the database (one dossier per 7 documents, one version per document,
the extracted text sealed with the version's own data key, wrapped by the real keyring, so snippets
decrypt as in production) and the same documents are indexed with the engine's `add` in batches; the
text is bench/search_engine.py's generator (about 2 KB of corpus vocabulary each). No blobs are
written: content reads are not what this measures. With ``--engine pg`` the index is the tables of the
same PostgreSQL database, and its size is theirs (tables, GIN index and TOAST).

Then gunicorn `web.wsgi:app` serves it (DOSSIER_SEARCH_ENGINE set to the engine) and one client times, one
request at a time:
GET /api/v1/dossiers (random page of 50; and filtered by a name fragment) as an archivist, and
GET /api/v1/search with the corpus queries as legal. The machine is shared (2 cores): figures are noisy.
`--quick`: 140 documents, 6 requests per kind, one gunicorn process: a smoke run (errors still count).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
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

from config import load_settings  # noqa: E402
from indexer.search_index import IndexDoc  # noqa: E402
from indexer.service import open_index  # noqa: E402
from vault.core import Vault  # noqa: E402
from vault.crypto import new_data_key  # noqa: E402
from vault.models import Document, DocumentVersion, Dossier, User  # noqa: E402
from vault.services.texts import seal_text  # noqa: E402

PER_DOSSIER = 7
QUICK: dict[str, Any] = {"docs": 140, "requests": 6, "batch": 70, "gunicorn_workers": 1}  # --quick: a smoke run


def _populate(v: Vault, docs: list[IndexDoc], batch: int) -> list[IndexDoc]:
    """Insert dossiers, documents and versions for `docs`; the index documents with the rows' metadata."""
    now = datetime.now(UTC)
    with v.session() as s:
        owner_id = s.scalars(select(User.id).where(User.username == "bench-arch")).one()
        employee_id = s.scalars(select(User.id).where(User.username == "bench-employee")).one()
    dossier_secrecy: dict[int, str] = {}
    for d in docs:
        dossier_secrecy.setdefault(d.dossier_id, d.secrecy)
    rng = random.Random(7)
    with v.session() as s:
        rows = [{"id": i, "archive_no": f"KH-S-{i:08d}", "customer_name": f"规模客户{i:06d}",
                 "credit_code": None, "customer_type": rng.choice(("supplier", "client", "partner")),
                 "grade": rng.choice("ABCD"), "industry": "", "region": "",
                 # an employee owns every 10th dossier: its searches are scoped to those
                 "owner_id": employee_id if i % 10 == 0 else owner_id,
                 "secrecy": sec, "status": "active", "location": "", "created_at": now, "updated_at": now,
                 "created_by_id": owner_id} for i, sec in dossier_secrecy.items()]
        for start in range(0, len(rows), batch):
            s.execute(insert(Dossier), rows[start:start + batch])
    out = []
    for start in range(0, len(docs), batch):
        chunk = docs[start:start + batch]
        documents, versions = [], []
        for d in chunk:
            uid = uuid.uuid4()
            key_id, wrapped = v.keyring.wrap(new_data_key(), uid.bytes)
            version = DocumentVersion(uid=uid.hex, key_id=key_id, wrapped_key=wrapped)
            sealed = seal_text(v, version, d.content)
            documents.append({"id": d.document_id, "dossier_id": d.dossier_id, "doc_type": d.doc_type,
                              "title": d.title, "doc_date": d.doc_date, "status": "active", "created_at": now,
                              "created_by_id": owner_id})
            versions.append({"id": d.document_id, "uid": uid.hex, "document_id": d.document_id, "version_no": 1,
                             "blob_key": None, "key_id": key_id, "wrapped_key": wrapped,
                             "plaintext_size": len(d.content.encode()), "ciphertext_size": 0,
                             "ciphertext_sha256": "0" * 64, "fingerprint": None, "mime": "application/pdf",
                             "original_filename": f"{d.document_id}.pdf", "pages": 1, "uploaded_by_id": owner_id,
                             "uploaded_at": now, "index_status": "indexed", "indexed_at": now,
                             "text_ciphertext": sealed})
            out.append(dataclasses.replace(d, archive_no=f"KH-S-{d.dossier_id:08d}",
                                           secrecy=dossier_secrecy[d.dossier_id]))
        with v.session() as s:
            s.execute(insert(Document), documents)
            s.execute(insert(DocumentVersion), versions)
            s.execute(update(Document).where(Document.id.in_([d.document_id for d in chunk]))
                      .values(current_version_id=Document.id))
    with v.session() as s:  # later inserts through the services must not collide with the ids used here
        for table in ("dossiers", "documents", "document_versions"):
            s.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    return out


def _index_bytes(v: Vault, engine: str) -> int:
    """What the index takes: its files, or for pg its tables with their indexes and TOAST."""
    if engine != "pg":
        return search_engine.disk_size(v.settings.index_path)
    with v.engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_total_relation_size('search_chunks') "
                                     "+ pg_total_relation_size('search_documents')")).scalar_one())


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


def run(docs: int = 100_000, requests: int = 200, batch: int = 2000, gunicorn_workers: int = 2,
        engine: str = "whoosh") -> dict[str, Any]:
    """Generate, insert, index, serve, measure; figures as a dict (latencies in ms)."""
    figures: dict[str, Any] = {"docs": docs, "engine": engine}
    with ProductionShape(gunicorn_workers=gunicorn_workers, threads=1, worker=False, serve=False,
                         settings={"search_engine": engine}) as shape:
        t0 = time.perf_counter()
        generated = search_engine.generate(docs, search_engine.vocabulary())
        figures["generate_s"] = time.perf_counter() - t0
        settings = load_settings({"home": str(shape.home), "database_url": shape.database_url,
                                  "search_engine": engine}, environ={})
        v = Vault.open(settings)
        try:
            t0 = time.perf_counter()
            indexed = _populate(v, generated, batch)
            figures["insert_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            index = open_index(settings.search_engine, settings.index_path, v.engine)
            for start in range(0, len(indexed), batch):
                index.add(indexed[start:start + batch])
            figures["index_s"] = time.perf_counter() - t0
            figures["index_docs"] = index.doc_count()
            figures["index_mib"] = _index_bytes(v, engine) / 2**20
        finally:
            v.close()
        del generated, indexed
        shape.start_server()
        arch, legal, employee = shape.token("bench-arch"), shape.token("bench-legal"), shape.token("bench-employee")
        rng = random.Random(3)
        dossiers = -(-docs // PER_DOSSIER)
        pages = max(1, dossiers // 50)
        shape.request("GET", "/api/v1/dossiers", token=arch)  # warm up every process's pool a little
        list_paths = [f"/api/v1/dossiers?{urlencode({'page': rng.randint(1, min(pages, 100_000)), 'per_page': 50})}"
                      for _ in range(requests)]
        filter_paths = [f"/api/v1/dossiers?{urlencode({'q': f'客户{rng.randrange(dossiers):06d}'[:7]})}"
                        for _ in range(requests // 2)]
        queries = search_engine.corpus_queries()
        search_paths = [f"/api/v1/search?{urlencode({'q': rng.choice(queries), 'per_page': 20})}"
                        for _ in range(requests)]
        list_t, list_err = _time(shape, list_paths, arch)
        filter_t, filter_err = _time(shape, filter_paths, arch)
        search_t, search_err = _time(shape, search_paths, legal)
        emp_t, emp_err = _time(shape, search_paths, employee)
        status, body = shape.request("GET", "/api/v1/search?" + urlencode({"q": queries[0]}), token=legal)
        figures["sample_search_total"] = json.loads(body)["total"] if status == 200 else None
    for name, times in (("list", list_t), ("list_filtered", filter_t), ("search", search_t),
                        ("search_employee", emp_t)):
        figures[f"{name}_requests"] = len(times)
        figures[f"{name}_p50_ms"] = percentile(times, 50) * 1000
        figures[f"{name}_p95_ms"] = percentile(times, 95) * 1000
    figures["errors"] = list_err + filter_err + search_err + emp_err
    return figures


def report(f: dict[str, Any]) -> str:
    return "\n".join([
        f"scale: {f['docs']} documents ({f['docs'] // PER_DOSSIER} dossiers) on PostgreSQL; generated in "
        f"{f['generate_s']:.0f} s, rows inserted in {f['insert_s']:.0f} s, indexed ({f['engine']}) in "
        f"{f['index_s']:.0f} s = {f['index_docs'] / max(f['index_s'], 1e-9):.0f} docs/s "
        f"({f['index_docs']} docs, {f['index_mib']:.0f} MiB)",
        f"  GET /api/v1/dossiers (page of 50):   p50 {f['list_p50_ms']:6.0f} ms  p95 {f['list_p95_ms']:6.0f} ms "
        f"({f['list_requests']} requests)",
        f"  GET /api/v1/dossiers?q=name:         p50 {f['list_filtered_p50_ms']:6.0f} ms  "
        f"p95 {f['list_filtered_p95_ms']:6.0f} ms ({f['list_filtered_requests']} requests)",
        f"  GET /api/v1/search as legal:         p50 {f['search_p50_ms']:6.0f} ms  p95 {f['search_p95_ms']:6.0f} ms "
        f"({f['search_requests']} requests; first query matches {f['sample_search_total']})",
        f"  GET /api/v1/search as employee:      p50 {f['search_employee_p50_ms']:6.0f} ms  "
        f"p95 {f['search_employee_p95_ms']:6.0f} ms (scope: the dossiers it owns)",
        f"  errors: {f['errors']}",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per kind")
    parser.add_argument("--batch", type=int, default=2000, help="rows per insert and documents per index commit")
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--engine", choices=(*search_engine.ENGINES, "pg"), default="whoosh",
                        help="the search engine")
    parser.add_argument("--quick", action="store_true", help="140 documents, 6 requests per kind: a smoke run")
    args = parser.parse_args(argv)
    sizes = {"docs": args.docs, "requests": args.requests, "batch": args.batch,
             "gunicorn_workers": args.gunicorn_workers}
    figures = run(**(QUICK if args.quick else sizes), engine=args.engine)
    print(report(figures))
    return 0 if figures["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
