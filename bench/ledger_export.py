"""The customer ledger (客户一览表) of 100,000 dossiers exported as XLSX: time and peak memory.

    .venv/bin/python bench/ledger_export.py [--dossiers 100000] [--quick]

Fills a fresh vault (SQLite in a temporary home) with generated dossiers: Chinese company names from
syllable pools, some Latin names and a few that start like spreadsheet formulas. Then, each in its own
process so its peak RSS is its own:

- the service: `ledgers.export(..., "customers", "xlsx")` as the system account: the clearance query,
  the pinyin sort of every name, rows fetched in chunks, formula neutralisation, openpyxl write-only;
- the baseline: bare openpyxl write-only writing the same columns read with sqlite3, unsorted.

Target: the service's peak RSS < 200 MB (the file is streamed, never held). The time ratio shows
what the sorting by pinyin, the clearance rule and neutralisation cost over writing the cells.

`--quick`: 2,000 dossiers: a smoke run of seconds (figures meaningless, targets not judged).

Run on 2026-12-02 (2 cores shared with other work, load 15-20): 100,000 rows, service 45.0 s, peak
RSS 181 MB (66 MB at start; pypinyin's dictionaries ~55 MB, openpyxl ~22 MB); bare openpyxl 42.4 s,
49 MB; time ratio 1.06; no formula cell in the file.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_MB = 200
QUICK = 2_000
SYLLABLES = "华中国东方长江新世纪金山银河天地恒通宏远信达永安泰和盛兴汇丰瑞祥博雅光明海洋星辰"
SUFFIXES = ("有限公司", "股份有限公司", "集团有限公司", "科技有限公司", "贸易有限公司")
REGIONS = ("北京", "上海", "深圳", "杭州", "成都", "武汉", "西安", "南京")
INDUSTRIES = ("制造", "贸易", "金融", "互联网", "能源", "物流", "通信")


def _peak_mb() -> float:
    """This process's peak RSS: VmHWM (ru_maxrss would carry the parent's peak across fork and exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fill(home: Path, count: int) -> None:
    """A vault under `home` holding `count` dossiers with two owners."""
    from sqlalchemy import insert

    from config import load_settings
    from vault.core import Vault, ensure_home
    from vault.models import CustomerType, Dossier, Grade, Secrecy
    from vault.services import users

    settings = load_settings({"home": str(home)}, environ={})
    ensure_home(settings)
    v = Vault.open(settings, migrate_schema=True)
    rnd = random.Random(14)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    with v.session() as s:
        system = users.system_user(s, v.clock.now())
        owners = [users.create_user(v, s, system, f"owner{i}", "employee", "correct horse battery").id
                  for i in range(2)]
        grades, types, levels = list(Grade), list(CustomerType), [Secrecy.INTERNAL, Secrecy.CONFIDENTIAL]
        batch: list[dict[str, Any]] = []
        for i in range(count):
            roll = rnd.random()
            if roll < 0.85:
                name = "".join(rnd.choice(SYLLABLES) for _ in range(rnd.randint(2, 4))) + rnd.choice(SUFFIXES)
            elif roll < 0.99:
                name = f"{rnd.choice(['Acme', 'Zeta', 'Nordic', 'Pacific'])} Trading {i} Ltd"
            else:
                name = f"=HYPERLINK(\"http://x.example/{i}\")"
            when = start + timedelta(minutes=i)
            batch.append({"archive_no": f"KH-2020-{i + 1:06d}", "customer_name": f"{name}{i}",
                          "customer_type": types[i % len(types)], "grade": grades[i % len(grades)],
                          "industry": rnd.choice(INDUSTRIES), "region": rnd.choice(REGIONS),
                          "owner_id": owners[i % 2], "secrecy": levels[i % 2], "location": "",
                          "created_at": when, "updated_at": when, "created_by_id": system.id})
            if len(batch) == 10_000:
                s.execute(insert(Dossier), batch)
                batch = []
        if batch:
            s.execute(insert(Dossier), batch)
    v.close()


def child_service(home: Path, out: Path) -> dict[str, Any]:
    """Export the customer ledger as XLSX through the service, as the system account."""
    from config import load_settings
    from vault.core import Vault
    from vault.services import ledgers, users

    v = Vault.open(load_settings({"home": str(home)}, environ={}))
    before = _peak_mb()
    started = time.perf_counter()
    with v.session() as s, out.open("wb") as fh:
        result = ledgers.export(v, s, users.system_user(s, v.clock.now()), "customers", "xlsx", {}, fh)
    seconds = time.perf_counter() - started
    v.close()
    return {"seconds": seconds, "rows": result.rows, "peak_mb": _peak_mb(), "before_mb": before,
            "bytes": out.stat().st_size}


def child_baseline(home: Path, out: Path) -> dict[str, Any]:
    """Bare openpyxl write-only: the same columns read with sqlite3, written as they come."""
    import sqlite3

    from openpyxl import Workbook

    before = _peak_mb()
    started = time.perf_counter()
    db = sqlite3.connect(home / "dossier.db")
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("customers")
    ws.append(["no", "customer", "archive no", "industry", "region", "owner", "grade", "type", "status", "updated"])
    rows = db.execute("SELECT d.id, d.customer_name, d.archive_no, d.industry, d.region, u.username, d.grade, "
                      "d.customer_type, d.status, d.updated_at FROM dossiers d JOIN users u ON u.id = d.owner_id")
    n = 0
    for row in rows:
        ws.append(["'" + c if isinstance(c, str) and c[:1] == "=" else c for c in row])
        n += 1
    wb.save(out)
    db.close()
    return {"seconds": time.perf_counter() - started, "rows": n, "peak_mb": _peak_mb(), "before_mb": before,
            "bytes": out.stat().st_size}


def measure(kind: str, home: Path, out: Path) -> dict[str, Any]:
    """Run one export in a fresh process; its figures as a dict."""
    proc = subprocess.run([sys.executable, __file__, "--child", kind, str(home), str(out)], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} export failed:\n{proc.stdout}\n{proc.stderr}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def run(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as tmp:
        home = Path(tmp) / "home"
        started = time.perf_counter()
        fill(home, count)
        filled = time.perf_counter() - started
        baseline = measure("baseline", home, Path(tmp) / "baseline.xlsx")
        service = measure("service", home, Path(tmp) / "service.xlsx")
        from openpyxl import load_workbook

        wb = load_workbook(Path(tmp) / "service.xlsx", read_only=True)
        formulas = sum(1 for row in wb.worksheets[0].iter_rows(values_only=True)
                       for c in row if isinstance(c, str) and c[:1] in "=+-@")
        wb.close()
    return {"dossiers": count, "fill_s": filled, "service": service, "baseline": baseline,
            "formula_cells": formulas, "target_mb": TARGET_MB}


def report(f: dict[str, Any]) -> str:
    s, b = f["service"], f["baseline"]
    return "\n".join([
        f"ledger export: {f['dossiers']} dossiers (filled in {f['fill_s']:.1f} s)",
        f"service XLSX:  {s['rows']} rows in {s['seconds']:.1f} s ({s['rows'] / max(s['seconds'], 1e-9):.0f} rows/s), "
        f"peak RSS {s['peak_mb']:.0f} MB (at start {s['before_mb']:.0f} MB), {s['bytes'] / 1e6:.1f} MB file",
        f"bare openpyxl: {b['rows']} rows in {b['seconds']:.1f} s ({b['rows'] / max(b['seconds'], 1e-9):.0f} rows/s), "
        f"peak RSS {b['peak_mb']:.0f} MB (at start {b['before_mb']:.0f} MB), {b['bytes'] / 1e6:.1f} MB file",
        f"time ratio service/bare: {s['seconds'] / max(b['seconds'], 1e-9):.2f}",
        f"formula cells in the service's file: {f['formula_cells']}",
        f"peak RSS target < {f['target_mb']} MB: {'met' if s['peak_mb'] < f['target_mb'] else 'NOT met'}",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dossiers", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK} dossiers: a smoke run of seconds")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "HOME", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, home, out = args.child
        fn = child_service if kind == "service" else child_baseline
        print(json.dumps(fn(Path(home), Path(out))))
        return 0
    count = QUICK if args.quick else args.dossiers
    figures = run(count)
    print(report(figures), flush=True)
    if args.quick:
        print("quick run: a smoke test of the benchmark; its figures are not judged")
        return 0
    ok = figures["service"]["peak_mb"] < TARGET_MB and figures["formula_cells"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
