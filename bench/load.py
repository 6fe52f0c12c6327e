"""Load: simulated users against the production shape on this machine, then a check that nothing was lost.

    .venv/bin/python bench/load.py [--duration 300] [--users 50] [--gunicorn-workers 4] [--think 0.25] [--quick]

PostgreSQL + gunicorn `web.wsgi:app` (several processes, threads) + one `dossier worker`, all on
127.0.0.1 (bench/prodshape.py). Seeded with `dossier import` of the synthetic corpus's text-layer files
only (the scans need minutes of OCR before the run could start), then drained by the worker.

Each user is a thread with its own keep-alive connection, in a closed loop with an exponential think
time (mean --think seconds): 60% search (legal), 20% dossier pages (GET /api/v1/dossiers/<id>,
archivist), 10% content reads (legal, audited), 10% uploads (archivist; a small generated PDF with a
unique phrase). Prints throughput, p50/p95/p99 latency per kind and overall, and errors (any 5xx,
unexpected 4xx, or a broken connection; target 0). Afterwards, with the worker drained: every
accepted upload is present, downloads byte-identical (so it decrypts), and is found by its phrase.

The load generator runs on the same machine as the server (2 cores here, shared): figures are
lower bounds, noisy, and mostly a regression signal. `--quick`: 3 seed files, 3 users for 4 s, one
gunicorn process: a smoke run (errors and losses still count).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import io
import json
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from prodshape import ProductionShape, percentile  # noqa: E402
from reportlab.pdfgen import canvas  # noqa: E402

from tests.corpus import SYNTHETIC, manifest  # noqa: E402

# --quick: a smoke run
QUICK: dict[str, Any] = {"duration_s": 4, "users": 3, "gunicorn_workers": 1, "threads": 2, "seed_files": 3}
MIX = (("search", 0.6), ("dossier", 0.2), ("content", 0.1), ("upload", 0.1))


def corpus_queries() -> list[str]:
    queries = json.loads((SYNTHETIC / "queries.json").read_text(encoding="utf-8"))["queries"]
    return [f'"{q["query"]}"' if q["mode"] == "phrase" else q["query"] for q in queries]


def pdf_with(phrase: str) -> bytes:
    buf = io.BytesIO()
    page = canvas.Canvas(buf)
    page.drawString(72, 720, f"Load test upload {phrase}")
    page.showPage()
    page.save()
    return buf.getvalue()


def multipart(fields: dict[str, str], filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = "----dvload" + hashlib.sha1(data).hexdigest()[:16]
    out = io.BytesIO()
    for k, v in fields.items():
        out.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode())
    out.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
              "Content-Type: application/pdf\r\n\r\n".encode())
    out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


@dataclass
class Upload:
    document_id: int
    phrase: str
    sha256: str


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k, _ in MIX})
    errors: dict[str, int] = field(default_factory=dict)
    uploads: list[Upload] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, what: str) -> None:
        with self.lock:
            self.errors[what] = self.errors.get(what, 0) + 1


class User(threading.Thread):
    """One simulated user: a closed loop of requests on one keep-alive connection until the deadline."""

    def __init__(self, n: int, shape: ProductionShape, world: dict[str, Any], tally: Tally, deadline: float,
                 think_s: float, seed: int) -> None:
        super().__init__(name=f"user-{n}", daemon=True)
        self.n, self.shape, self.world, self.tally, self.deadline = n, shape, world, tally, deadline
        self.think_s = think_s
        self.rng = random.Random(seed * 1000 + n)
        self.conn: http.client.HTTPConnection | None = None
        self.uploaded = 0

    def run(self) -> None:
        kinds = [k for k, _ in MIX]
        weights = [w for _, w in MIX]
        try:
            while time.monotonic() < self.deadline:
                kind = self.rng.choices(kinds, weights)[0]
                start = time.perf_counter()
                ok = self._do(kind)
                took = time.perf_counter() - start
                if ok:
                    with self.tally.lock:
                        self.tally.latencies[kind].append(took)
                if self.think_s:
                    time.sleep(min(self.rng.expovariate(1 / self.think_s), 5 * self.think_s))
        finally:
            if self.conn is not None:
                self.conn.close()

    def _send(self, method: str, path: str, body: bytes | None = None, token: str = "",
              content_type: str | None = None) -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = self.shape.connection()
            try:
                return self.shape.request(method, path, body, token=token, content_type=content_type,
                                          conn=self.conn)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # the server closed an idle keep-alive connection: reconnect once, as any client does
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _do(self, kind: str) -> bool:
        w, rng = self.world, self.rng
        try:
            if kind == "search":
                q = urlencode({"q": rng.choice(w["queries"]), "per_page": 20})
                status, _ = self._send("GET", f"/api/v1/search?{q}", token=w["legal"])
            elif kind == "dossier":
                status, _ = self._send("GET", f"/api/v1/dossiers/{rng.choice(w['dossiers'])}", token=w["arch"])
            elif kind == "content":
                status, _ = self._send("GET", f"/api/v1/documents/{rng.choice(w['documents'])}/content",
                                       token=w["legal"])
            else:
                self.uploaded += 1
                phrase = f"LOADTEST-{self.n:02d}-{self.uploaded:05d}"
                data = pdf_with(phrase)
                body, ctype = multipart({"doc_type": "correspondence", "title": phrase}, f"{phrase}.pdf", data)
                status, answer = self._send("POST", f"/api/v1/dossiers/{rng.choice(w['dossiers'])}/documents",
                                            body, token=w["arch"], content_type=ctype)
                if status == 201:
                    with self.tally.lock:
                        self.tally.uploads.append(Upload(json.loads(answer)["id"], phrase,
                                                         hashlib.sha256(data).hexdigest()))
        except (OSError, http.client.HTTPException) as exc:
            self.tally.error(f"{kind}: {type(exc).__name__}")
            return False
        if status >= 500 or (status >= 400 and status != 404):
            self.tally.error(f"{kind}: HTTP {status}")
            return False
        return True


def seed(shape: ProductionShape, files: int | None = None) -> dict[str, Any]:
    """Import the corpus's text-layer files (the first ``files`` of them), let the worker index them; ids
    and tokens for the users."""
    entries = [e for e in manifest(SYNTHETIC)["files"] if not e["needs_ocr"]][:files]
    text_only = {**manifest(SYNTHETIC), "files": entries}
    path = shape.home / "text-layer-manifest.json"
    path.write_text(json.dumps(text_only, ensure_ascii=False), encoding="utf-8")
    shape.cli("import", str(SYNTHETIC), "--manifest", str(path), "--owner", "bench-arch")
    drained = shape.wait_for_worker()
    arch, legal = shape.token("bench-arch"), shape.token("bench-legal")
    dossiers = [d["id"] for d in shape.json("GET", "/api/v1/dossiers?per_page=200", token=arch)["items"]]
    documents = [doc["id"] for d in dossiers
                 for doc in shape.json("GET", f"/api/v1/dossiers/{d}", token=arch)["documents"]]
    return {"arch": arch, "legal": legal, "dossiers": dossiers, "documents": documents,
            "queries": corpus_queries(), "seed_files": len(entries), "seed_index_s": drained}


def verify(shape: ProductionShape, world: dict[str, Any], uploads: list[Upload]) -> dict[str, int]:
    """Every accepted upload: present, byte-identical on download, found by its phrase."""
    lost = {"missing": 0, "corrupt": 0, "not_indexed": 0, "not_found_by_search": 0}
    conn = shape.connection()
    try:
        for up in uploads:
            status, body = shape.request("GET", f"/api/v1/documents/{up.document_id}", token=world["arch"],
                                         conn=conn)
            if status != 200:
                lost["missing"] += 1
                continue
            if json.loads(body)["index_status"] != "indexed":
                lost["not_indexed"] += 1
            status, content = shape.request("GET", f"/api/v1/documents/{up.document_id}/content",
                                            token=world["arch"], conn=conn)
            if status != 200 or hashlib.sha256(content).hexdigest() != up.sha256:
                lost["corrupt"] += 1
            q = urlencode({"q": f'"{up.phrase}"'})
            status, body = shape.request("GET", f"/api/v1/search?{q}", token=world["legal"], conn=conn)
            if status != 200 or up.document_id not in [i["document_id"] for i in json.loads(body)["items"]]:
                lost["not_found_by_search"] += 1
    finally:
        conn.close()
    return lost


def run(duration_s: float = 300, users: int = 50, gunicorn_workers: int = 4, threads: int = 4,
        think_s: float = 0.25, seed_no: int = 1, engine: str = "fts5", seed_files: int | None = None
        ) -> dict[str, Any]:
    """Run the load and the loss check; figures as a dict (latencies in ms)."""
    with ProductionShape(gunicorn_workers=gunicorn_workers, threads=threads,
                         settings={"search_engine": engine}) as shape:
        world = seed(shape, seed_files)
        tally = Tally()
        start = time.monotonic()
        crowd = [User(n, shape, world, tally, start + duration_s, think_s, seed_no) for n in range(users)]
        for user in crowd:
            user.start()
        for user in crowd:
            user.join(duration_s + 300)
        elapsed = time.monotonic() - start
        drain_s = shape.wait_for_worker()
        lost = verify(shape, world, tally.uploads)
        server_errors = shape.log("gunicorn").count("Traceback") + shape.log("worker").count("Traceback")
    every = [t for values in tally.latencies.values() for t in values]
    figures: dict[str, Any] = {
        "duration_s": round(elapsed, 1), "engine": engine, "users": users, "gunicorn_workers": gunicorn_workers,
        "threads": threads,
        "think_s": think_s, "seed_files": world["seed_files"], "seed_index_s": round(world["seed_index_s"], 1),
        "requests": len(every), "throughput_rps": len(every) / elapsed,
        "p50_ms": percentile(every, 50) * 1000, "p95_ms": percentile(every, 95) * 1000,
        "p99_ms": percentile(every, 99) * 1000, "errors": sum(tally.errors.values()), "error_kinds": tally.errors,
        "uploads_accepted": len(tally.uploads), "worker_drain_s": round(drain_s, 1), "lost": sum(lost.values()),
        "lost_kinds": lost, "server_tracebacks": server_errors,
    }
    for kind, values in tally.latencies.items():
        figures[f"{kind}_count"] = len(values)
        figures[f"{kind}_p50_ms"] = percentile(values, 50) * 1000
        figures[f"{kind}_p95_ms"] = percentile(values, 95) * 1000
        figures[f"{kind}_p99_ms"] = percentile(values, 99) * 1000
    return figures


def report(f: dict[str, Any]) -> str:
    lines = [
        f"load: {f['users']} users for {f['duration_s']} s against gunicorn ({f['gunicorn_workers']} processes x "
        f"{f['threads']} threads, {f['engine']} index) + PostgreSQL + 1 worker, think time {f['think_s']} s; "
        "seeded with "
        f"{f['seed_files']} text-layer corpus files (indexed in {f['seed_index_s']} s)",
        f"  {f['requests']} requests, {f['throughput_rps']:.1f} req/s; latency p50 {f['p50_ms']:.0f} ms, "
        f"p95 {f['p95_ms']:.0f} ms, p99 {f['p99_ms']:.0f} ms",
    ]
    for kind, _ in MIX:
        lines.append(f"  {kind:8s} {f[kind + '_count']:6d}  p50 {f[kind + '_p50_ms']:7.0f} ms  "
                     f"p95 {f[kind + '_p95_ms']:7.0f} ms  p99 {f[kind + '_p99_ms']:7.0f} ms")
    lines.append(f"  errors: {f['errors']} {f['error_kinds'] or ''} (target 0); server tracebacks: "
                 f"{f['server_tracebacks']}")
    lines.append(f"  uploads accepted {f['uploads_accepted']}, worker drained them {f['worker_drain_s']} s after "
                 f"the load; lost: {f['lost']} {f['lost_kinds']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=300, help="seconds of load (default 300)")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn process")
    parser.add_argument("--think", type=float, default=0.25, help="mean think time between requests, seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engine", choices=("whoosh", "fts5"), default="fts5",
                        help="search engine (fts5: docker-compose's)")
    parser.add_argument("--quick", action="store_true", help="3 seed files, 3 users for 4 s: a smoke run")
    args = parser.parse_args(argv)
    sizes = {"duration_s": args.duration, "users": args.users, "gunicorn_workers": args.gunicorn_workers,
             "threads": args.threads}
    figures = run(**(QUICK if args.quick else sizes), think_s=args.think, seed_no=args.seed, engine=args.engine)
    print(report(figures))
    return 0 if figures["errors"] == 0 and figures["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
