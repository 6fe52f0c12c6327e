"""Search benchmark of issue 3, in one run: ingest, index build at two sizes, API latency at scale.

    .venv/bin/python bench/search.py [--sizes 10000,100000] [--api-docs 100000] [--skip-ocr] [--engine fts5]
                                     [--quick]

1. Ingest to indexed, through the API (in-process Flask client, SQLite, the real worker running in the
   background as in `dossier serve`): the synthetic corpus's text-layer files, then its scans (OCR),
   each timed from its first upload to its last document indexed: docs/s end to end and, for the
   scans, seconds per page.
2. Index build for each size: bare Whoosh and WhooshIndex with the same analyzer (CPU docs/s, ratio,
   size on disk) — bench/search_engine.py.
3. Search latency p50/p95 of the corpus queries through the HTTP API at --api-docs documents on
   PostgreSQL behind gunicorn, as legal and as an employee — bench/scale.py.
Targets (2 cores): indexing >= 0.8x bare Whoosh; search p95 <= 50 ms at 100k; OCR <= 5 s per page;
text-layer documents searchable >= 10 docs/s end to end.
`--quick`: 3 text-layer files, no OCR, one build of 100 documents, no API run (bench/scale.py --quick
smokes that one): a smoke run of seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale  # noqa: E402
import search_engine  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from config import load_settings  # noqa: E402
from indexer.worker import BackgroundWorker  # noqa: E402
from vault.core import Vault, ensure_home  # noqa: E402
from vault.models import Document, DocumentVersion, IndexStatus  # noqa: E402
from vault.services import users  # noqa: E402
from web import create_app  # noqa: E402
from web.bootstrap import open_runtime  # noqa: E402

SYNTHETIC = search_engine.SYNTHETIC


def _multipart(fields: dict[str, str], filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = "benchsearchboundary"
    parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode() for k, v in
             fields.items()]
    parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\r\n"
                 .encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def ingest(skip_ocr: bool = False, files: int | None = None) -> dict[str, Any]:
    """Upload the synthetic corpus by HTTP to a running service (its worker started, as `dossier serve` runs
    it) and time each group from its first upload to its last document indexed: text-layer and OCR files
    apart; only the first ``files`` of each group when given."""
    manifest = json.loads((SYNTHETIC / "manifest.json").read_text(encoding="utf-8"))
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="dv-bench-search-") as tmp:
        settings = load_settings({"home": str(Path(tmp) / "home"), "worker_poll_interval_s": 0.2}, environ={})
        ensure_home(settings)
        runtime = open_runtime(settings, migrate_schema=True)
        v = runtime.vault
        worker = BackgroundWorker(v, runtime.index).start()
        try:
            with v.session() as s:
                users.create_user(v, s, users.system_user(s, v.clock.now()), "bench", "archivist", "bench-password-1",
                                  clearance="secret")
            client = create_app(runtime=runtime).test_client()
            token = client.post("/api/v1/auth/token", json={"username": "bench", "password": "bench-password-1"}
                                ).get_json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            time.sleep(3)  # a service that has been up a while: sandboxes warm
            dossiers: dict[str, int] = {}
            groups = [("text", [f for f in manifest["files"] if not f["needs_ocr"]][:files])]
            if not skip_ocr:
                groups.append(("ocr", [f for f in manifest["files"] if f["needs_ocr"]][:files]))
            for name, files in groups:
                t0 = time.perf_counter()
                ids = []
                for f in files:
                    cid = f["customer_id"]
                    if cid not in dossiers:
                        dossiers[cid] = client.post("/api/v1/dossiers", headers=auth, json={
                            "customer_name": f["customer"], "customer_type": "client"}).get_json()["id"]
                    body, ctype = _multipart({"doc_type": f["doc_type"]}, Path(f["path"]).name,
                                             (SYNTHETIC / f["path"]).read_bytes())
                    r = client.post(f"/api/v1/dossiers/{dossiers[cid]}/documents", data=body,
                                    headers={**auth, "Content-Type": ctype})
                    assert r.status_code == 201, r.get_json()
                    ids.append(r.get_json()["id"])
                uploaded = time.perf_counter() - t0
                _wait_indexed(v, ids)
                total = time.perf_counter() - t0
                pages = sum(f["pages"] or 1 for f in files)
                out[name] = {"docs": len(files), "pages": pages, "upload_s": uploaded, "total_s": total,
                             "docs_per_s": len(files) / total, "s_per_page": total / pages}
        finally:
            worker.stop()
            v.close()
    return out


def _wait_indexed(v: Vault, document_ids: list[int], timeout_s: float = 1800) -> None:
    """Until every document's current version is indexed or failed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with v.session() as s:
            waiting = s.scalar(select(func.count()).select_from(Document)
                               .join(DocumentVersion, Document.current_version_id == DocumentVersion.id)
                               .where(Document.id.in_(document_ids),
                                      DocumentVersion.index_status.not_in((IndexStatus.INDEXED, IndexStatus.FAILED))))
        if not waiting:
            return
        time.sleep(0.05)
    raise TimeoutError("the worker did not index the uploads in time")


def build(sizes: list[int]) -> list[dict[str, Any]]:
    rows = []
    vocab = search_engine.vocabulary()
    for n in sizes:
        docs = search_engine.generate(n, vocab)
        sum(1 for _ in search_engine.analyse(docs[0].content))
        with tempfile.TemporaryDirectory(prefix="dv-bench-build-") as tmp:
            bare = search_engine.index_bare(docs, Path(tmp) / "bare")
            service, _ = search_engine.index_service(docs, Path(tmp) / "service")
            rows.append({"docs": n, "bare_docs_s": n / bare.cpu_s, "service_docs_s": n / service.cpu_s,
                         "ratio": bare.cpu_s / service.cpu_s,
                         "index_mib": search_engine.disk_size(Path(tmp) / "service") / 2**20})
        del docs
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", default="10000,100000", help="index build sizes, comma-separated")
    parser.add_argument("--api-docs", type=int, default=100_000, help="documents behind the API latency run; 0 skips")
    parser.add_argument("--skip-ocr", action="store_true")
    parser.add_argument("--engine", choices=search_engine.ENGINES, default="fts5",
                        help="the engine behind the API latency run (fts5: the production shape's)")
    parser.add_argument("--quick", action="store_true",
                        help="3 text-layer files, one build of 100 documents, no API run: a smoke run")
    args = parser.parse_args(argv)
    files = None
    if args.quick:
        args.skip_ocr, args.sizes, args.api_docs, files = True, "100", 0, 3
    ing = ingest(args.skip_ocr, files)
    for name, f in ing.items():
        print(f"ingest {name:4}: {f['docs']} docs ({f['pages']} pages) uploaded by HTTP and indexed in "
              f"{f['total_s']:.1f} s: {f['docs_per_s']:.2f} docs/s end to end"
              + (f", OCR {f['s_per_page']:.2f} s per page (target <= 5)" if name == "ocr" else " (target >= 10)"))
    for row in build([int(x) for x in args.sizes.split(",") if x]):
        verdict = "ok" if row["ratio"] >= search_engine.TARGET_RATIO else "BELOW TARGET"
        print(f"index build {row['docs']:>7} docs: bare Whoosh {row['bare_docs_s']:.0f} docs/s, WhooshIndex "
              f"{row['service_docs_s']:.0f} docs/s (CPU), ratio {row['ratio']:.2f} (target >= 0.8: {verdict}), "
              f"index {row['index_mib']:.0f} MiB")
    if args.api_docs:
        print(scale.report(scale.run(docs=args.api_docs, engine=args.engine)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
