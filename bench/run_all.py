"""Run every benchmark in bench/ and print one table of the headline figures.

    .venv/bin/python bench/run_all.py [--quick] [--only crypto,search,load,scale]

Default sizes keep the whole run to roughly 15-25 minutes on a 2-core machine: crypto 256 MiB and a
512 MiB HTTP round trip, search over 10k generated documents, load for 60 s with 50 users, scale with
20k documents. `--quick` runs each at the sizes of its own script's `--quick` (a smoke run of about a
minute whose figures mean nothing; tests/ops/test_bench_smoke.py runs it). For the full figures run
each script on its own with its defaults (load: 300 s; scale: 100k documents). Each benchmark's own
report is printed as it finishes, the table of headline figures at the end.
The machine is shared: figures are noisy; compare runs on the same machine only.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

Row = tuple[str, str, str, str]  # benchmark, figure, value, target / verdict


def crypto(quick: bool) -> list[Row]:
    import crypto_io
    import serve_rss

    f = crypto_io.run(crypto_io.QUICK_MIB if quick else 256, repeat=1 if quick else 2)
    print(crypto_io.report(f), flush=True)
    target = f"≥ {f['target_ratio']}"
    rows: list[Row] = [
        ("crypto_io", "stream encrypt", f"{f['stream_encrypt_mb_s']:.0f} MB/s", ""),
        ("crypto_io", "stream decrypt", f"{f['stream_decrypt_mb_s']:.0f} MB/s", ""),
        ("crypto_io", "encrypt ratio stream/primitives", f"{f['encrypt_ratio']:.2f}", target),
        ("crypto_io", "decrypt ratio stream/primitives", f"{f['decrypt_ratio']:.2f}", target),
    ]
    h = serve_rss.run(serve_rss.QUICK_MIB if quick else 512)
    print(serve_rss.report(h), flush=True)
    rows += [
        ("serve_rss", f"HTTP upload / download, {h['size_mib']} MiB",
         f"{h['upload_mb_s']:.0f} / {h['download_mb_s']:.0f} MB/s", f"identical: {h['roundtrip_ok']}"),
        ("serve_rss", "server peak RSS", f"{h['peak_rss_mb']:.0f} MB", f"< {h['target_mb']} MB"),
    ]
    return rows


def search(quick: bool) -> list[Row]:
    import search_engine

    n = search_engine.QUICK_DOCS if quick else 10_000
    docs = search_engine.generate(n, search_engine.vocabulary())
    workdir = Path(tempfile.mkdtemp(prefix="bench-search-"))
    try:
        bare = search_engine.index_bare(docs, workdir / "bare")
        service, ix = search_engine.index_service(docs, workdir / "service")
        times = search_engine.search_latencies(ix, search_engine.corpus_queries())
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(search_engine.latency_line(f"search_engine: {n} docs, bare Whoosh {bare.rates(n)}; WhooshIndex "
                                     f"{service.rates(n)}; search", times), flush=True)
    return [
        ("search_engine", f"index {n} docs (WhooshIndex)", f"{n / service.cpu_s:.0f} docs/s CPU",
         f"ratio to bare {bare.cpu_s / service.cpu_s:.2f} (≥ {search_engine.TARGET_RATIO})"),
        ("search_engine", "search p50 / p95", f"{search_engine.percentile(times, 50) * 1000:.1f} / "
         f"{search_engine.percentile(times, 95) * 1000:.1f} ms", ""),
    ]


def load(quick: bool) -> list[Row]:
    import load as load_bench

    f = load_bench.run(**load_bench.QUICK) if quick else load_bench.run(duration_s=60, users=50)
    print(load_bench.report(f), flush=True)
    return [
        ("load", f"{f['users']} users, {f['duration_s']:.0f} s: throughput", f"{f['throughput_rps']:.1f} req/s", ""),
        ("load", "latency p50 / p95 / p99", f"{f['p50_ms']:.0f} / {f['p95_ms']:.0f} / {f['p99_ms']:.0f} ms", ""),
        ("load", "errors", str(f["errors"]), "0"),
        ("load", f"uploads accepted / lost (of {f['uploads_accepted']})",
         f"{f['uploads_accepted']} / {f['lost']}", "lost 0"),
    ]


def scale(quick: bool) -> list[Row]:
    import scale as scale_bench

    sizes = scale_bench.QUICK if quick else {"docs": 20_000, "requests": 200}
    f = scale_bench.run(**sizes, engine="fts5")  # (run prints its report as it measures)
    return [
        ("scale", f"{f['docs']} docs: rows / index", f"{f['rows_s']:.0f} / {f['index_s']:.0f} s", ""),
        ("scale", "dossier list p50 / p95", f"{f['list_p50_ms']:.0f} / {f['list_p95_ms']:.0f} ms", ""),
        ("scale", "dossier name filter p50 / p95",
         f"{f['list_filtered_p50_ms']:.0f} / {f['list_filtered_p95_ms']:.0f} ms", ""),
        ("scale", "search p50 / p95 (legal)",
         f"{f['search_legal_p50_ms']:.0f} / {f['search_legal_p95_ms']:.0f} ms", ""),
        ("scale", "errors", str(f["errors"]), "0"),
    ]


BENCHES: dict[str, Callable[[bool], list[Row]]] = {"crypto": crypto, "search": search, "load": load,
                                                   "scale": scale}


def table(rows: list[Row]) -> str:
    head: Row = ("benchmark", "figure", "value", "target")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    line = "  ".join("-" * w for w in widths)
    fmt = "  ".join(f"{{:{w}}}" for w in widths)
    return "\n".join([fmt.format(*head), line, *(fmt.format(*r) for r in rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="each benchmark's --quick sizes: a smoke run")
    parser.add_argument("--only", default=",".join(BENCHES), help="comma-separated subset of " + ",".join(BENCHES))
    args = parser.parse_args(argv)
    rows: list[Row] = []
    failed = []
    for name in args.only.split(","):
        start = time.monotonic()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            rows += BENCHES[name.strip()](args.quick)
        except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
            rows.append((name, "FAILED", "see the traceback above", ""))
        print(f"  {name} took {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)
    print(table(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
