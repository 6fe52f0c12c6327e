"""Long atheris runs of the upload validator and the extractors (issue 6); the bounded CI run is
tests/ops/test_fuzz.py, and the targets live in tests/ops/fuzz_targets.py.

    .venv/bin/python bench/fuzz.py --seconds 600 [--only validator|extractor] [--keep DIR] [--quick]

The time is split between the targets (validator 2/3, extractor 1/3, as the extractor spawns a
sandboxed child per accepted input). Prints executions, executions per second, coverage, and any
crash (the input is kept under the output folder, `crash-*`) or unexpected exception in the child.
Exit status 1 when a crash was found. `--quick`: 6 seconds in all, a smoke run of the harness.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.ops.fuzz_targets import build_seed_corpus  # noqa: E402

SHARE = {"validator": 2 / 3, "extractor": 1 / 3}
SETTINGS = {  # max_len, per-input timeout, bombs among the seeds
    "validator": (262144, 20, True),
    "extractor": (131072, 60, False),
}


def run(target: str, seconds: int, workdir: Path) -> dict[str, object]:
    max_len, timeout, bombs = SETTINGS[target]
    corpus = workdir / target / "corpus"
    artifacts = workdir / target / "artifacts"
    scratch = workdir / target / "scratch"
    for folder in (artifacts, scratch):
        folder.mkdir(parents=True, exist_ok=True)
    seeds = len(build_seed_corpus(corpus, bombs=bombs, max_len=max_len))
    cmd = [
        sys.executable, "-m", "tests.ops.fuzz_targets", target, str(corpus), f"-max_len={max_len}",
        f"-max_total_time={seconds}", f"-timeout={timeout}", f"-artifact_prefix={artifacts}/",
        "-print_final_stats=1",
    ]
    env = {**os.environ, "TMPDIR": str(scratch), "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=seconds + 300)
    elapsed = time.monotonic() - started
    output = proc.stdout + proc.stderr
    execs = re.search(r"stat::number_of_executed_units:\s*(\d+)", output)
    cov = re.findall(r"cov: (\d+) ft: (\d+) corp: (\d+)", output)
    crashes = sorted(str(p) for p in artifacts.iterdir())
    unexpected = sorted({line for line in output.splitlines() if line.startswith("UNEXPECTED-IN-CHILD")})
    n = int(execs.group(1)) if execs else 0
    return {
        "target": target,
        "seconds": elapsed,
        "seeds": seeds,
        "execs": n,
        "exec_per_s": n / elapsed if elapsed else 0.0,
        "coverage": cov[-1] if cov else ("?", "?", "?"),
        "exit": proc.returncode,
        "crashes": crashes,
        "unexpected": unexpected,
        "tail": _crash_report(output) if proc.returncode or crashes else [],
    }


def _crash_report(output: str) -> list[str]:
    """atheris' traceback of the crashing input when there is one, else the last lines."""
    at = output.find("Uncaught Python exception")
    return output[at:].splitlines()[:80] if at >= 0 else output.splitlines()[-40:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=600, help="total fuzzing time (default 600)")
    parser.add_argument("--only", choices=sorted(SHARE), help="fuzz one target with the whole time")
    parser.add_argument("--keep", type=Path, help="keep corpora and crash inputs in this folder")
    parser.add_argument("--quick", action="store_true", help="6 seconds in all: a smoke run of the harness")
    args = parser.parse_args()
    least = 10
    if args.quick:
        args.seconds, least = 6, 2
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="vault-fuzz-"))
    targets = [args.only] if args.only else list(SHARE)
    failed = False
    try:
        for target in targets:
            seconds = args.seconds if args.only else max(least, round(args.seconds * SHARE[target]))
            r = run(target, seconds, workdir)
            blocks, features, units = r["coverage"]
            print(
                f"{target:9s}  {r['execs']:>9,} execs in {r['seconds']:6.0f} s  {r['exec_per_s']:8.1f} exec/s  "
                f"cov {blocks} ft {features} corpus {units} (from {r['seeds']} seeds)  exit {r['exit']}"
            )
            for line in r["unexpected"]:
                print(f"  {line}")
            if r["exit"] or r["crashes"]:
                failed = True
                print(f"  CRASH: {r['crashes'] or 'no artifact written'}")
                print("\n".join(f"  | {line}" for line in r["tail"]))
            else:
                print("  no crash: every input ended as an acceptance, a 4xx refusal or `failed`")
    finally:
        if failed and not args.keep:
            print(f"crash inputs kept in {workdir}")
        elif not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
