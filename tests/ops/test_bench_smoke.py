"""Every benchmark still runs: each script in bench/ with `--quick` (tiny sizes), as a user runs it.

The scripts run side by side, each in its own process (their figures mean nothing in a smoke run;
that each finishes, exits 0 and prints its figures is what is checked), so the whole test takes
about a minute on two cores. `bench/prodshape.py` is the library load and scale share, not a script.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"

# script -> lines (fragments) its report must print
FIGURES: dict[str, list[str]] = {
    "crypto_io.py": ["stream encrypt (AES-GCM", "encrypt ratio stream/primitives", "bytes identical: True",
                     "server RSS"],
    "serve_rss.py": ["bytes identical: True", "server RSS"],
    "search_engine.py": ["bare Whoosh:", "WhooshIndex / bare", "in batches of 50", "search over 100 docs"],
    "search.py": ["ingest text: 3 docs", "index build     100 docs"],
    "customers_scale.py": ["GET /api/v1/dossiers filtered, as archivist", "POST /api/v1/lookup id_number",
                           "bare SQL, same filters", "bare SQL, same digest lookup", "errors: 0"],
    "scale.py": ["GET /api/v1/dossiers (page of 50)", "GET /api/v1/search as legal", "errors: 0"],
    "load.py": ["req/s; latency p50", "errors: 0", "lost: 0"],
    "fuzz.py": ["validator", "extractor", "no crash"],
    "ledger_export.py": ["service XLSX:", "bare openpyxl:", "time ratio service/bare", "peak RSS target < 200 MB: met",
                         "formula cells in the service's file: 0"],
    "customer_import.py": ["service, first run:", "service, second run:", "bare openpyxl + INSERT:",
                           "ratio bare/service (first run):"],
    "ocr_robustness.py": ["originals: recall", "all sets:", "CPU s/page"],
    "intake.py": ["read codes alone (zxing-cpp", "detect + split in the sandbox:", "whole intake (split + encrypt",
                  "ratio detect+split / read alone", "right page count: True"],
    "pg_groups.py": ["one GIN scan ORing 16 groups:", "scans of 8 groups (STEP_GROUPS):", "same rows: True"],
    "ingest.py": ["ingest: 10 DOCX documents", "sqlite-whoosh  bare", "CPU ms/doc: bare", ", sandbox ", "CPU ratio"],
    "run_all.py": ["search_engine: 100 docs", "benchmark      figure", "search_engine  search p50 / p95"],
}
# run_all.py runs the other scripts' own functions: in the smoke run it runs one of them (each script already
# ran above), so what is checked is its dispatch and its table, not the same benchmarks a second time
OPTIONS: dict[str, tuple[str, ...]] = {"run_all.py": ("--only", "search")}
# further runs of a script with other options: (script, options) -> lines its report must print
VARIANTS: dict[tuple[str, tuple[str, ...]], list[str]] = {
    ("scale.py", ("--engine", "pg", "--gin-after")): ["indexed (pg)", "the GIN indexes in one pass",
                                                       "GET /api/v1/search as employee", "errors: 0"],
    # PostgreSQL, one worker and two: the CPU of the database side, and the queue drained a core per worker
    ("ingest.py", ("--setup", "pg-pg,pg-pg-2")): ["pg-pg          bare", ", db ", "2 workers / 1 worker:",
                                                   "queue drained, a core per worker:", "cores busy)"],
}
LIMIT_S = 600  # a hung benchmark fails the test instead of holding it forever


def test_every_benchmark_script_is_in_the_smoke_run() -> None:
    scripts = {p.name for p in BENCH.glob("*.py")} - {"prodshape.py"}
    assert scripts == set(FIGURES), "a new benchmark script needs its smoke run here"


@pytest.mark.slow
def test_every_benchmark_runs_with_quick_exits_0_and_prints_its_figures(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
    env["PYTHONPATH"] = str(ROOT)
    started = time.monotonic()
    runs = {(script, OPTIONS.get(script, ())): lines for script, lines in FIGURES.items()} | VARIANTS
    procs = {}
    for n, (script, options) in enumerate(runs):
        out = (tmp_path / f"{n}-{script}.out").open("w")
        procs[(script, options)] = (n, subprocess.Popen(
            [sys.executable, str(BENCH / script), "--quick", *options], cwd=ROOT, env=env,
            stdout=out, stderr=subprocess.STDOUT, text=True))
        out.close()
    failures = []
    for (script, options), (n, proc) in procs.items():
        name = " ".join([script, "--quick", *options])
        try:
            code = proc.wait(max(1.0, started + LIMIT_S - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
            failures.append(f"{name} did not finish in {LIMIT_S} s")
        output = (tmp_path / f"{n}-{script}.out").read_text(errors="replace")
        missing = [line for line in runs[(script, options)] if line not in output]
        if code != 0 or missing or "Traceback" in output or "FAILED" in output:
            failures.append(f"{name}: exit {code}, missing {missing}\n{output[-3000:]}")
    assert not failures, "\n\n".join(failures)
