"""Ingest: 2 KB DOCX documents from upload to searchable, against a bare pipeline measured in the same run.

    .venv/bin/python bench/ingest.py [--docs 300] [--setup sqlite-whoosh,pg-pg,pg-pg-2] [--clients 4]
                                     [--profile DIR] [--quick]

Each setup is ``<database>-<engine>[-<workers>]``: ``sqlite-whoosh``, ``sqlite-fts5``, ``pg-whoosh``,
``pg-pg``, ``pg-pg-2`` (two `dossier worker` processes). For each, bench/prodshape.py starts the real
thing on 127.0.0.1 (gunicorn `web.wsgi:app`, 2 processes x 4 threads, and the worker(s), warmed up and
idle), then:

* bare: the least a pipeline must do for the same documents, in this process: python-docx parses each
  DOCX, and the same engine (a fresh Whoosh or FTS5 index in a temporary directory; for ``pg`` the
  same tables, under document ids far above the real ones, deleted afterwards) adds them in batches of
  the worker's ``BATCH_DOCS``, with the same analyzer.
* ingest: ``--clients`` threads upload the N documents through ``POST /api/v1/dossiers/<id>/documents``
  (multipart, keep-alive connections); the clock runs from the first upload until every version is
  ``indexed`` (polled in the database every 20 ms). For Whoosh and FTS5 the index is committed before
  the version is marked indexed, for ``pg`` in the same transaction: indexed means searchable.
  A search through the API then checks that the last document is found by its unique phrase.

Prints docs/s of both and the ratio ingest / bare (target >= 0.5), and for the two-worker setup the
ratio to the one-worker setup of the same run. With the web and PostgreSQL on the same two cores, one
worker's pipeline fills them already, so for ``pg`` a second figure shows what workers add where the cores
allow it: the documents are uploaded again into a second dossier while the workers are paused, each worker
pinned to a core of its own (`taskset`, its sandboxes with it, the case of one core per worker host), and
the queue's drain is timed, with its CPU per document and how many cores were busy.

The machine is shared (2 cores): the load average is printed with each figure, and beside the wall-clock
rates the CPU time per document of each side (read from /proc for the process trees: gunicorn, the workers,
their sandboxes, PostgreSQL; the bare pipeline's own, plus PostgreSQL's for ``pg``), which other processes
on the machine disturb far less: on a busy machine the CPU ratio says more than the wall-clock one.
``--profile DIR`` runs each worker under cProfile (written to DIR when it stops). ``--quick``: 10 documents,
sqlite-whoosh unless ``--setup`` names others: a smoke run.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import docx  # noqa: E402
import search_engine  # noqa: E402
from load import multipart  # noqa: E402
from prodshape import ProductionShape  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402

from indexer.search_index import IndexDoc, SearchIndex  # noqa: E402
from indexer.service import open_index  # noqa: E402
from indexer.worker import BATCH_DOCS  # noqa: E402

TARGET_RATIO = 0.5
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
BARE_ID_OFFSET = 1_000_000_000  # the bare pipeline's ids in the pg tables: far above the real ones
QUICK: dict[str, Any] = {"docs": 10, "setups": ["sqlite-whoosh"]}
DEFAULT_SETUPS = ["sqlite-whoosh", "pg-pg", "pg-pg-2"]
RETRIES_503 = 20


@dataclass(frozen=True)
class Setup:
    database: str  # sqlite | pg
    engine: str  # whoosh | fts5 | pg
    workers: int

    @classmethod
    def parse(cls, name: str) -> Setup:
        database, engine, *rest = name.split("-")
        return cls(database, engine, int(rest[0]) if rest else 1)

    def __str__(self) -> str:
        return f"{self.database}-{self.engine}" + (f"-{self.workers}" if self.workers != 1 else "")


@dataclass
class Figures:
    setup: Setup
    docs: int
    bare_s: float
    bare_load: str
    upload_s: float  # first upload sent .. last upload answered
    ingest_s: float  # first upload sent .. every version indexed
    ingest_load: str
    found: bool
    bare_cpu_s: float  # this process's, plus PostgreSQL's for pg
    ingest_cpu_s: dict[str, float]  # per side: web, worker, sandbox, db
    retried: int  # uploads answered 503 (database busy) and sent again
    drain_s: float | None = None  # pg: a queue of `docs` jobs drained by the workers, each pinned to a core of its own
    drain_cpu_s: float = 0.0  # CPU of that: the workers, their sandboxes and PostgreSQL

    @property
    def cpu_ratio(self) -> float:
        """Bare CPU per document over the served pipeline's (web + workers + database)."""
        return self.bare_cpu_s / sum(self.ingest_cpu_s.values())

    @property
    def bare_rate(self) -> float:
        return self.docs / self.bare_s

    @property
    def ingest_rate(self) -> float:
        return self.docs / self.ingest_s

    @property
    def ratio(self) -> float:
        return self.ingest_rate / self.bare_rate


def tree_cpu(pid: int, apart: set[int] | None = None) -> float:
    """CPU seconds of a process, its live descendants and the children they have reaped (Linux /proc); the
    trees of the processes in ``apart`` are left out."""
    total, stack = 0, [pid]
    while stack:
        proc = Path(f"/proc/{stack.pop()}")
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
            for task in (proc / "task").iterdir():
                stack.extend(c for c in map(int, (task / "children").read_text().split()) if c not in (apart or ()))
        except OSError:  # it ended meanwhile
            continue
    return total / os.sysconf("SC_CLK_TCK")


def sandbox_zygotes(pid: int) -> set[int]:
    """The extraction zygotes a worker started (`python -m indexer.sandbox`, indexer/sandbox.py): the forked
    child of every extraction is theirs."""
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in map(int, (task / "children").read_text().split()):
            try:
                if b"indexer.sandbox" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.add(child)
            except OSError:
                continue
    return found


def database_cpu(shape: ProductionShape) -> float:
    """CPU seconds so far of PostgreSQL: the postmaster and the backends it forked."""
    assert shape.pg is not None
    return tree_cpu(int((shape.pg.data_dir / "postmaster.pid").read_text().split()[0]))


def cpu_by_side(shape: ProductionShape) -> dict[str, float]:
    """CPU seconds so far of the web processes, the workers, their extraction sandboxes (zygotes and the
    child forked for each document) and PostgreSQL."""
    workers = [p.pid for name, p in shape.procs.items() if name.startswith("worker")]
    zygotes = {z for w in workers for z in sandbox_zygotes(w)}
    out = {"web": tree_cpu(shape.procs["gunicorn"].pid),
           "worker": sum(tree_cpu(w, zygotes) for w in workers),
           "sandbox": sum(tree_cpu(z) for z in zygotes)}
    if shape.pg is not None:
        out["db"] = database_cpu(shape)
    return out


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def make_docx(doc: IndexDoc) -> bytes:
    """A DOCX holding the document's title and text, one paragraph per line."""
    document = docx.Document()
    document.add_heading(doc.title, level=1)
    for line in doc.content.splitlines():
        document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def documents(n: int) -> list[tuple[IndexDoc, bytes]]:
    """``n`` generated 2 KB texts (bench/search_engine.py's), each with a unique phrase, and their DOCX."""
    out = []
    for doc in search_engine.generate(n, search_engine.vocabulary()):
        doc = replace(doc, content=f"{doc.content}\n唯一标记 ingestmark{doc.document_id:06d}")
        out.append((doc, make_docx(doc)))
    return out


# -- the bare pipeline ---------------------------------------------------------------------------


def docx_text(data: bytes) -> str:
    return "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)


def bare(setup: Setup, docs: Sequence[tuple[IndexDoc, bytes]], shape: ProductionShape) -> tuple[float, float]:
    """Seconds (wall, CPU) for python-docx + the engine's ``add`` (batches of BATCH_DOCS) over ``docs``."""
    with tempfile.TemporaryDirectory(prefix="dv-bench-bare-") as tmp:
        engine = create_engine(shape.database_url) if setup.engine == "pg" else None
        index: SearchIndex = open_index(setup.engine, Path(tmp) / "index", engine)
        offset = BARE_ID_OFFSET if setup.engine == "pg" else 0
        db_before = cpu_by_side(shape).get("db", 0.0)
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(docs), BATCH_DOCS):
            index.add([replace(doc, document_id=doc.document_id + offset, content=docx_text(data))
                       for doc, data in docs[i:i + BATCH_DOCS]])
        took = time.perf_counter() - start
        took_cpu = time.process_time() - cpu + cpu_by_side(shape).get("db", 0.0) - db_before
        if engine is not None:
            index.delete([doc.document_id + offset for doc, _ in docs])
            engine.dispose()
    return took, took_cpu


# -- the real thing ------------------------------------------------------------------------------


def upload_all(shape: ProductionShape, token: str, dossier_id: int, docs: Sequence[tuple[IndexDoc, bytes]],
               clients: int) -> int:
    """Upload every document, ``clients`` at a time, each client on its own keep-alive connection; how many
    uploads were answered 503 (busy) and sent again."""
    todo = list(reversed(docs))
    lock = threading.Lock()
    errors: list[str] = []
    retried = [0]

    def client() -> None:
        conn = shape.connection()
        try:
            while True:
                with lock:
                    if not todo or errors:
                        return
                    doc, data = todo.pop()
                body, ctype = multipart({"doc_type": doc.doc_type, "title": doc.title}, f"{doc.document_id}.docx",
                                        data)
                body = body.replace(b"Content-Type: application/pdf", f"Content-Type: {DOCX_MIME}".encode())
                for attempt in range(RETRIES_503 + 1):
                    status, answer = shape.request("POST", f"/api/v1/dossiers/{dossier_id}/documents", body,
                                                   token=token, content_type=ctype, conn=conn)
                    if status != 503 or attempt == RETRIES_503:
                        break
                    with lock:  # "the database is busy; try again in a moment", as a client would
                        retried[0] += 1
                    time.sleep(0.5)
                if status != 201:
                    errors.append(f"upload {doc.document_id}: {status} {answer[:300]!r}")
        except (OSError, http.client.HTTPException) as exc:
            errors.append(f"upload: {exc!r}")
        finally:
            conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError("; ".join(errors[:3]))
    return retried[0]


def wait_indexed(shape: ProductionShape, n: int, timeout_s: float = 1800) -> None:
    deadline = time.monotonic() + timeout_s
    while shape.scalar("SELECT count(*) FROM document_versions WHERE index_status = 'indexed'") < n:
        failed = shape.scalar("SELECT count(*) FROM document_versions WHERE index_status = 'failed'")
        if failed:
            raise RuntimeError(f"{failed} versions failed to index: " + shape.log("worker")[-2000:])
        for name, proc in shape.procs.items():
            if name != "gunicorn" and proc.poll() is not None:
                raise RuntimeError(f"{name} exited: " + shape.log(name)[-2000:])
        if time.monotonic() > deadline:
            raise RuntimeError(f"not indexed after {timeout_s:.0f} s")
        time.sleep(0.02)


def run_setup(setup: Setup, docs: Sequence[tuple[IndexDoc, bytes]], clients: int,
              profile: Path | None = None) -> Figures:
    settings = {"search_engine": setup.engine, "worker_poll_interval_s": "1.0"}
    with ProductionShape(gunicorn_workers=2, threads=4, worker=False, settings=settings,
                         postgres=setup.database == "pg") as shape:
        for w in range(setup.workers):
            name = "worker" if w == 0 else f"worker{w + 1}"
            prefix = () if profile is None else (sys.executable, "-m", "cProfile", "-o",
                                                 str(profile / f"{setup}-{name}.prof"))
            shape.start_worker(name, *prefix)
        token = shape.token("bench-arch")
        dossier_id = shape.json("POST", "/api/v1/dossiers", {"customer_name": f"Ingest {uuid.uuid4().hex[:8]}",
                                                             "customer_type": "client"}, token=token)["id"]
        time.sleep(3)  # the workers' sandboxes warm up, the gunicorn processes are up
        bare_s, bare_cpu_s = bare(setup, docs, shape)
        bare_load = load_average()
        before = cpu_by_side(shape)
        start = time.perf_counter()
        retried = upload_all(shape, token, dossier_id, docs, clients)
        upload_s = time.perf_counter() - start
        wait_indexed(shape, len(docs))
        ingest_s = time.perf_counter() - start
        ingest_load = load_average()
        ingest_cpu_s = {side: used - before[side] for side, used in cpu_by_side(shape).items()}
        last = docs[-1][0]
        status, body = shape.request("GET", "/api/v1/search?" + urlencode({"q": f"ingestmark{last.document_id:06d}"}),
                                     token=shape.token("bench-legal"))
        found = status == 200 and json.loads(body)["total"] == 1
        drain_s, drain_cpu_s = drain(shape, setup, token, docs, clients) if setup.engine == "pg" else (None, 0.0)
    return Figures(setup, len(docs), bare_s, bare_load, upload_s, ingest_s, ingest_load, found, bare_cpu_s,
                   ingest_cpu_s, retried, drain_s, drain_cpu_s)


def drain(shape: ProductionShape, setup: Setup, token: str, docs: Sequence[tuple[IndexDoc, bytes]],
          clients: int) -> tuple[float, float]:
    """Seconds the workers take to index a queue of the documents uploaded again (into a second dossier), each
    worker and its sandboxes pinned to a core of their own (`taskset`): the case of one core per worker host,
    so that two workers can show what they add where the cores allow it. The workers start, warm up, are
    paused (SIGSTOP) while the queue fills, and the clock runs from SIGCONT until every version is indexed.
    Seconds, and the CPU seconds of the workers' trees and PostgreSQL meanwhile."""
    for name in [name for name in shape.procs if name.startswith("worker")]:
        shape.stop(name)
    cores = sorted(os.sched_getaffinity(0))
    names = []
    for w in range(setup.workers):
        names.append(f"drain{w + 1}")
        shape.start_worker(names[-1], "taskset", "-c", str(cores[w % len(cores)]))
    time.sleep(3)  # imports done, sandboxes warm, idle
    for name in names:
        shape.procs[name].send_signal(signal.SIGSTOP)
    dossier_id = shape.json("POST", "/api/v1/dossiers", {"customer_name": f"Drain {uuid.uuid4().hex[:8]}",
                                                         "customer_type": "client"}, token=token)["id"]
    upload_all(shape, token, dossier_id, docs, clients)

    def cpu() -> float:
        return sum(tree_cpu(shape.procs[name].pid) for name in names) + database_cpu(shape)

    before, start = cpu(), time.perf_counter()
    for name in names:
        shape.procs[name].send_signal(signal.SIGCONT)
    wait_indexed(shape, 2 * len(docs))
    return time.perf_counter() - start, cpu() - before


def report(all_figures: Sequence[Figures]) -> str:
    lines = [f"ingest: {all_figures[0].docs} DOCX documents of ~2 KB text, upload -> searchable (target: ingest >= "
             f"{TARGET_RATIO}x bare)"]
    one_worker = {(f.setup.database, f.setup.engine): f for f in all_figures if f.setup.workers == 1}
    for f in all_figures:
        lines.append(
            f"  {str(f.setup):14s} bare {f.bare_rate:6.1f} docs/s ({f.bare_s:5.1f} s, load {f.bare_load})   "
            f"ingest {f.ingest_rate:6.1f} docs/s ({f.ingest_s:5.1f} s; uploads done at {f.upload_s:5.1f} s; "
            f"load {f.ingest_load})   ratio {f.ratio:.2f}{'' if f.found else '   LAST DOCUMENT NOT FOUND'}"
            + (f"   ({f.retried} uploads retried after 503 busy)" if f.retried else ""))
        per_doc = ", ".join(f"{side} {used / f.docs * 1000:.0f}" for side, used in f.ingest_cpu_s.items())
        lines.append(f"  {'':14s} CPU ms/doc: bare {f.bare_cpu_s / f.docs * 1000:.0f}; ingest "
                     f"{sum(f.ingest_cpu_s.values()) / f.docs * 1000:.0f} ({per_doc})   CPU ratio {f.cpu_ratio:.2f}")
        single = one_worker.get((f.setup.database, f.setup.engine))
        if f.setup.workers > 1 and single is not None:
            lines.append(f"  {'':14s} {f.setup.workers} workers / 1 worker: {f.ingest_rate / single.ingest_rate:.2f}x")
        if f.drain_s is not None:
            line = (f"  {'':14s} queue drained, a core per worker: {f.docs / f.drain_s:6.1f} docs/s "
                    f"({f.drain_s:5.1f} s; CPU {f.drain_cpu_s / f.docs * 1000:.0f} ms/doc, "
                    f"{f.drain_cpu_s / f.drain_s:.2f} of {len(os.sched_getaffinity(0))} cores busy)")
            if f.setup.workers > 1 and single is not None and single.drain_s is not None:
                line += f"   {f.setup.workers} workers / 1 worker: {single.drain_s / f.drain_s:.2f}x"
            lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--setup", default=None,
                        help="comma-separated <database>-<engine>[-<workers>] (default: "
                             f"{','.join(DEFAULT_SETUPS)}; with --quick: {','.join(QUICK['setups'])})")
    parser.add_argument("--clients", type=int, default=4, help="uploading threads")
    parser.add_argument("--profile", type=Path, default=None, help="write each worker's cProfile data here")
    parser.add_argument("--quick", action="store_true",
                        help="10 documents, sqlite-whoosh unless --setup says otherwise: a smoke run")
    args = parser.parse_args(argv)
    n = QUICK["docs"] if args.quick else args.docs
    names = args.setup.split(",") if args.setup else QUICK["setups"] if args.quick else DEFAULT_SETUPS
    setups = [Setup.parse(s) for s in names]
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    docs = documents(n)
    figures = []
    for setup in setups:
        figures.append(run_setup(setup, docs, args.clients, args.profile))
        print("\n".join(report(figures[-1:]).splitlines()[1:]), flush=True)
    print(report(figures))
    return 0 if all(f.found for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
