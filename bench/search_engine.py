"""Indexing speed of `WhooshIndex` against bare Whoosh with the same analyzer, and search latency.

    .venv/bin/python bench/search_engine.py [--docs 10000] [--seed 1] [--batch 100] [--keep DIR]
                                            [--engine whoosh|fts5] [--quick]

Generates N documents of about 2 KB (Chinese with some English: company names, contract clauses,
amounts, dates and numbers) from the text of the synthetic corpus, deterministically for a seed.
Indexes them with a plain Whoosh writer (same schema and analyzer, one writer, one commit) and with
`WhooshIndex.add` in one call, and reports docs/s for both and their ratio (target >= 0.8; on CPU
time, which other processes on a shared machine disturb far less than wall time), the index size on
disk, and the latency (p50/p95, wall time) of the corpus queries over the service index.
With ``--batch N`` it also times `WhooshIndex.add` in batches of N (one commit each), the way a
worker catches up on a backlog. With ``--engine fts5`` the service index is `Fts5Index` (SQLite FTS5)
and there is no bare baseline. Latency is reported for a full scope (legal) and for an employee's
(the dossiers it owns: every 10th, as bench/scale.py makes them).
`--quick`: 100 documents, also in batches of 50: a smoke run of seconds.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from whoosh import index as whoosh_index  # noqa: E402

from config.doctypes import DocType  # noqa: E402
from indexer.analyzer import analyse  # noqa: E402
from indexer.query import parse_query  # noqa: E402
from indexer.search_index import IndexDoc, SearchFilters, SearchIndex  # noqa: E402
from indexer.service import open_index  # noqa: E402
from indexer.whoosh_index import fields_of, schema  # noqa: E402
from tests.corpus import SYNTHETIC, text_layer  # noqa: E402
from vault.policy import Scope  # noqa: E402

TARGET_RATIO = 0.8
QUICK_DOCS = 100  # --quick: a smoke run
DOC_BYTES = 2048
DOC_TYPES = tuple(t.value for t in DocType)
SECRECY = ("public", "internal", "confidential", "secret")
ENGINES = ("whoosh", "fts5")
PER_DOSSIER = 7  # documents per dossier, as `generate` numbers them
_NUMBERS = re.compile(r"\d[\d,]*(?:\.\d+)?")


# -- corpus ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vocabulary:
    """What generated documents are made of, drawn from the synthetic corpus."""

    lines: tuple[str, ...]  # clauses and sentences, as extracted
    companies: tuple[str, ...]
    people: tuple[str, ...]
    addresses: tuple[str, ...]
    terms: tuple[str, ...]  # the manifest's distinctive phrases (products, amounts, English)


def vocabulary(folder: Path = SYNTHETIC) -> Vocabulary:
    """Lines of every text-layer file plus names, addresses and terms from the manifest."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    lines: dict[str, None] = {}
    for f in manifest["files"]:
        if f["has_text_layer"]:
            for line in text_layer(folder / f["path"]).splitlines():
                line = line.strip()
                if len(line) >= 6 and not line.startswith("第 "):  # page footers say little
                    lines[line] = None
    customers = manifest["customers"]
    return Vocabulary(
        lines=tuple(lines),
        companies=tuple(c["name"] for c in customers) + tuple(c["name_en"] for c in customers),
        people=tuple(c["legal_rep"] for c in customers),
        addresses=tuple(c["address"] for c in customers),
        terms=tuple(dict.fromkeys(t for f in manifest["files"] for t in f["terms"])),
    )


def generate(n: int, vocab: Vocabulary, seed: int = 1) -> list[IndexDoc]:
    """``n`` documents of about 2 KB each, the same for the same seed and corpus."""
    return list(iter_documents(n, vocab, seed))


def iter_documents(n: int, vocab: Vocabulary, seed: int = 1, first: int = 1) -> Iterator[IndexDoc]:
    """`generate`'s documents one at a time (a million of them do not fit in memory at once); from ``first``
    on, other documents of the same kind (their own random sequence), so that processes can share the work."""
    rng = random.Random(seed if first == 1 else f"{seed}:{first}")
    for i in range(first, first + n):
        yield _document(i, vocab, rng)


def _document(i: int, vocab: Vocabulary, rng: random.Random) -> IndexDoc:
    day = date(2019, 1, 1) + timedelta(days=rng.randrange(2200))
    number = f"HYGL-{rng.choice(('CG', 'JG', 'KJ'))}-{day:%Y%m%d}-{rng.randrange(1000):03d}"
    company = rng.choice(vocab.companies)
    parts = [
        f"{company} 合同编号：{number} 签订日期：{day.year}年{day.month}月{day.day}日 ({day.isoformat()})",
        f"法定代表人：{rng.choice(vocab.people)} 住所：{rng.choice(vocab.addresses)}",
    ]
    size = sum(len(p.encode()) for p in parts)
    while size < DOC_BYTES:
        if rng.random() < 0.15:
            part = rng.choice(vocab.terms)
        else:  # a clause with its figures changed, so amounts and numbers vary between documents
            part = _NUMBERS.sub(lambda m: _reshape(m.group(), rng), rng.choice(vocab.lines))
        parts.append(part)
        size += len(part.encode()) + 1
    return IndexDoc(
        document_id=i,
        dossier_id=1 + i // 7,
        archive_no=f"KH-{day.year}-{i:06d}",
        doc_type=rng.choice(DOC_TYPES),
        doc_date=day,
        secrecy=rng.choice(SECRECY),
        title=f"{company} {number}",
        content="\n".join(parts),
    )


def _reshape(figure: str, rng: random.Random) -> str:
    digits = "".join(rng.choice("0123456789") for ch in figure if ch.isdigit())
    it = iter(digits)
    return "".join(next(it) if ch.isdigit() else ch for ch in figure)


def corpus_queries(folder: Path = SYNTHETIC) -> list[str]:
    """The corpus queries in our query syntax (phrase-mode queries quoted)."""
    queries = json.loads((folder / "queries.json").read_text(encoding="utf-8"))["queries"]
    return [f'"{q["query"]}"' if q["mode"] == "phrase" else q["query"] for q in queries]


# -- measurements ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Took:
    """Wall-clock and CPU seconds of one run; CPU time is what to compare on a shared machine."""

    wall_s: float
    cpu_s: float

    def rates(self, n: int) -> str:
        return f"{n / self.cpu_s:7.1f} docs/s CPU, {n / self.wall_s:7.1f} docs/s wall ({self.wall_s:.1f} s)"


@contextmanager
def timed() -> Iterator[list[Took]]:
    """Time the block: the list it yields holds a `Took` afterwards."""
    out: list[Took] = []
    wall, cpu = time.perf_counter(), time.process_time()
    yield out
    out.append(Took(time.perf_counter() - wall, time.process_time() - cpu))


def index_bare(docs: Sequence[IndexDoc], path: Path) -> Took:
    """Index ``docs`` with one plain Whoosh writer and one commit."""
    path.mkdir(parents=True)
    with timed() as took:
        ix = whoosh_index.create_in(str(path), schema())
        writer = ix.writer(procs=1, limitmb=256)
        for doc in docs:
            writer.add_document(**fields_of(doc))
        writer.commit()
    return took[0]


def index_service(
    docs: Sequence[IndexDoc], path: Path, batch: int | None = None, engine: str = "whoosh"
) -> tuple[Took, SearchIndex]:
    """Index ``docs`` through the engine's ``add`` (in one call, or in batches)."""
    with timed() as took:
        ix = open_index(engine, path)
        step = batch or len(docs)
        for i in range(0, len(docs), step):
            ix.add(docs[i : i + step])
    return took[0], ix


def employee_scope(n: int) -> Scope:
    """What an employee owning every 10th dossier of ``n`` generated documents reads."""
    dossiers = frozenset(i for i in range(1, n // PER_DOSSIER + 2) if i % 10 == 0)
    return Scope(all_dossiers_up_to=None, dossier_ids=dossiers, document_ids=frozenset())


def search_latencies(
    ix: SearchIndex, queries: Sequence[str], repeat: int = 3, scope: Scope | None = None
) -> list[float]:
    """Seconds per search (page 1 of 20, full scope unless given), each query ``repeat`` times."""
    if scope is None:
        scope = Scope(all_dossiers_up_to=SECRECY, dossier_ids=frozenset(), document_ids=frozenset())
    parsed = [parse_query(q) for q in queries]
    times = []
    for _ in range(repeat):
        for q in parsed:
            start = time.perf_counter()
            ix.search(q, scope, SearchFilters(), page=1, per_page=20)
            times.append(time.perf_counter() - start)
    return times


def disk_size(path: Path) -> int:
    """Bytes of all files under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100), nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def latency_line(label: str, times: Sequence[float]) -> str:
    """p50/p95/max of ``times`` in milliseconds."""
    return (
        f"{label}: p50 {percentile(times, 50) * 1000:.1f} ms, p95 {percentile(times, 95) * 1000:.1f} ms, "
        f"max {max(times) * 1000:.1f} ms"
    )


def run(n: int, seed: int, batch: int | None, workdir: Path, engine: str = "whoosh") -> Iterator[str]:
    """Run the benchmark, yielding report lines as results come in."""
    start = time.perf_counter()
    docs = generate(n, vocabulary(), seed)
    mean_bytes = statistics.mean(len(d.content.encode()) for d in docs)
    took = time.perf_counter() - start
    yield f"generated {n} documents, {mean_bytes:.0f} bytes of content each on average, in {took:.1f} s"
    sum(1 for _ in analyse(docs[0].content))  # load jieba's dictionary before timing

    name = {"whoosh": "WhooshIndex", "fts5": "Fts5Index"}[engine]
    if engine == "whoosh":
        bare = index_bare(docs, workdir / "bare")
        bare_mib = disk_size(workdir / "bare") / 2**20
        yield f"bare Whoosh:  {bare.rates(n)}, index {bare_mib:.1f} MiB"
    service, ix = index_service(docs, workdir / "service", engine=engine)
    service_mib = disk_size(workdir / "service") / 2**20
    yield f"{name}:  {service.rates(n)}, index {service_mib:.1f} MiB"
    if engine == "whoosh":
        ratio = bare.cpu_s / service.cpu_s
        verdict = "ok" if ratio >= TARGET_RATIO else "BELOW TARGET"
        yield (
            f"WhooshIndex / bare: {ratio:.2f} on CPU time (target >= {TARGET_RATIO}: {verdict}), "
            f"{bare.wall_s / service.wall_s:.2f} on wall time"
        )
    if batch:
        batched, _ = index_service(docs, workdir / "batched", batch, engine=engine)
        yield f"{name} in batches of {batch}: {batched.rates(n)}"

    queries = corpus_queries()
    times = search_latencies(ix, queries)
    yield latency_line(
        f"search over {ix.doc_count()} docs, {len(times)} runs of the {len(queries)} corpus queries, full scope", times
    )
    yield latency_line("  the same as an employee owning every 10th dossier", search_latencies(
        ix, queries, scope=employee_scope(n)))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--docs", type=int, default=10_000, help="documents to generate (default 10000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=0, help="also time the engine's add in batches of N")
    parser.add_argument("--engine", choices=ENGINES, default="whoosh", help="the search engine (default whoosh)")
    parser.add_argument(
        "--keep", type=Path, help="build the indexes here and keep them (default: a temp dir)"
    )
    parser.add_argument("--quick", action="store_true", help="100 documents, batches of 50: a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.docs, args.batch = QUICK_DOCS, QUICK_DOCS // 2
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="bench-search-"))
    try:
        for line in run(args.docs, args.seed, args.batch or None, workdir, args.engine):
            print(line, flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
