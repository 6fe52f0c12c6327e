"""Scanning intake: a scanned stack split at its separator sheets and filed, against reading the codes alone.

    .venv/bin/python bench/intake.py [--pages 200] [--separators 20] [--dpi 150] [--quick]

Builds a stack as a scanner returns it (every page a greyscale image with noise and a slight rotation;
one separator sheet with the archive's QR code before each dossier's pages), opens a fresh vault with one
dossier per separator, and measures in the same run:

* reading the codes alone: zxing-cpp on the pages already rendered (pdfium's share left out);
* rendering and reading in this process: pdfium + zxing-cpp, page by page, no sandbox;
* detection and splitting: the sandboxed child (`indexer.intake_child`) rendering, reading, planning
  and writing the parts, as intake runs it;
* the whole intake: splitting plus encrypting and filing every part through the normal upload path
  (the OCR that follows in the worker is not counted).

Each as pages per second; the ratio split/read-alone says what detection and splitting cost on top of
the library. It checks that every part landed in its dossier with the right page count.

`--quick`: 20 pages, 2 separators, 100 dpi: a smoke run of seconds (figures meaningless).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pypdfium2  # noqa: E402
import zxingcpp  # noqa: E402
from sqlalchemy import select  # noqa: E402

from config import load_settings  # noqa: E402
from indexer import intake, sandbox  # noqa: E402
from indexer.intake_child import RENDER_DPI, scan_pages  # noqa: E402
from tests.support.paper_stack import content, scanned, separator, stack_pdf  # noqa: E402
from vault.core import Vault, ensure_home  # noqa: E402
from vault.models import Document, User  # noqa: E402
from vault.services.dossiers import create_dossier  # noqa: E402
from vault.services.users import create_user, system_user  # noqa: E402


def build_stack(v: Vault, pages: int, separators: int, dpi: int) -> tuple[bytes, dict[int, int]]:
    """The scanned stack and, per dossier id, how many content pages belong to it."""
    per = pages // separators - 1  # content pages after each separator
    sheets, expected = [], {}
    with v.session() as s:
        actor = system_user(s, v.clock.now())
        create_user(v, s, actor, "bench", "archivist", "bench password 12345", clearance="secret")
        dossiers = [create_dossier(v, s, actor, {"customer_name": f"基准客户{n:03d}", "customer_type": "client",
                                                 "owner": "bench"}) for n in range(separators)]
        numbers = [(d.id, d.archive_no) for d in dossiers]
    for n, (dossier_id, archive_no) in enumerate(numbers):
        sheets.append(separator(archive_no, "contract" if n % 2 else None))
        sheets.extend(content(f"{archive_no} page {p + 1}\n合同条款 第{p + 1}页") for p in range(per))
        expected[dossier_id] = per
    return scanned(stack_pdf(sheets), noise=0.01, max_angle=1.0, dpi=dpi), expected


def read_alone(path: Path) -> tuple[float, float, int]:
    """(seconds for zxing on pre-rendered pages, seconds for render+read in-process, codes found)."""
    pdf = pypdfium2.PdfDocument(str(path))
    started = time.perf_counter()
    images = [pdf[i].render(scale=RENDER_DPI / 72, grayscale=True, no_smoothimage=True).to_numpy()
              for i in range(len(pdf))]
    started = time.perf_counter()
    found = 0
    qr = zxingcpp.barcode_formats_from_str("QRCode")
    for image in images:
        found += bool(zxingcpp.read_barcodes(image, formats=qr))
    read_s = time.perf_counter() - started
    pdf.close()
    started = time.perf_counter()
    scan_pages(path)  # what the sandbox child does, page by page, here in this process
    return read_s, time.perf_counter() - started, found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--separators", type=int, default=20)
    parser.add_argument("--dpi", type=int, default=150, help="resolution of the simulated scan")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.pages, args.separators, args.dpi = 20, 2, 100
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
        settings = load_settings({"home": str(Path(tmp) / "home")}, environ={})
        ensure_home(settings)
        v = Vault.open(settings, migrate_schema=True)
        started = time.perf_counter()
        data, expected = build_stack(v, args.pages, args.separators, args.dpi)
        stack = Path(tmp) / "stack.pdf"
        stack.write_bytes(data)
        pages = args.pages
        print(f"stack: {pages} pages, {args.separators} separators, {len(data) / 1e6:.1f} MB scanned at {args.dpi} dpi "
              f"(built in {time.perf_counter() - started:.1f} s)")
        sandbox.prewarm(1)
        read_s, inproc_s, found = read_alone(stack)
        with intake.private_tmpdir() as out:
            started = time.perf_counter()
            plan = intake.split(v, stack, out)
            split_s = time.perf_counter() - started
        with v.session() as s:
            actor = s.scalar(select(User).where(User.username == "bench"))
            assert actor is not None
            s.expunge(actor)
        started = time.perf_counter()
        result = intake.process_stack(v, actor, stack, "stack.pdf", source="cli")
        full_s = time.perf_counter() - started
        with v.session() as s:
            got = {f["dossier_id"]: s.get(Document, f["document_id"]) is not None and f["pages"]
                   for f in result["filed"]}
        v.close()
    rate = pages / max(read_s, 1e-9)
    print(f"read codes alone (zxing-cpp on rendered pages): {rate:8.1f} pages/s  ({found} pages with a code)")
    print(f"render + read in-process (pdfium + zxing-cpp):  {pages / inproc_s:8.1f} pages/s")
    print(f"detect + split in the sandbox:                  {pages / split_s:8.1f} pages/s  "
          f"({len(plan['parts'])} parts)")
    print(f"whole intake (split + encrypt + file):          {pages / full_s:8.1f} pages/s  "
          f"({len(result['filed'])} filed, {len(result['unfiled'])} unfiled)")
    print(f"ratio detect+split / read alone: {read_s / split_s:.2f}  (split takes {split_s / read_s:.1f}x the reading)")
    ok = got == expected and not result["unfiled"] and found == args.separators
    print(f"every part filed in its dossier with the right page count: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
