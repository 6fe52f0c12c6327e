"""Find the archive's QR codes in a scanned stack and split it there: the sandboxed half of intake.

Everything here parses an untrusted upload (pdfium renders each page, zxing-cpp reads the codes, pypdf
writes the parts), so it runs only in the extraction sandbox's forked child (`indexer.sandbox`), under its
time and memory limits. The parent side calls `scan_stack`, which sends the job there and gets back the
plan: which pages carry which code, and one PDF file per part in the directory it named.

A page whose code is ours (`vault.paper_codes`) is a separator: it starts a part for the dossier the code
names and is left out of the parts. A QR code that zxing finds but cannot decode (torn, smudged) also
starts a part, one that goes to the unfiled inbox with the page kept, so nothing is filed on a guess.
Barcodes of other systems (a product code on a scanned invoice) are ordinary page content.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pypdf
import pypdfium2
import zxingcpp

from vault import paper_codes
from vault.errors import phrase

RENDER_DPI = 110  # a separator's QR is centimetres wide: ~9 px per module here, enough after noise and skew
MAX_RENDER_PIXELS = 40_000_000  # a page larger than this (a poster, a bomb) is not rendered, just kept
_QR = zxingcpp.barcode_formats_from_str("QRCode")


@dataclass
class PageScan:
    """What one page carries: our code's text, or a QR code that could not be read."""

    page: int  # 1-based
    code: str | None = None
    damaged: bool = False


@dataclass
class Part:
    """A run of pages between separators, and what the separator before it said."""

    index: int
    pages: list[int] = field(default_factory=list)  # 1-based pages of the stack
    code: str | None = None  # our code's text from the separator, None when there was none
    separator_page: int | None = None
    problem: str | None = None  # "before_first_separator", "no_codes", "damaged_code"
    path: str | None = None  # the part's PDF, written by the child


def plan_parts(scans: list[PageScan]) -> list[Part]:
    """Split the stack's pages into parts at the code pages; separators are dropped, empty parts too."""
    any_code = any(s.code or s.damaged for s in scans)
    parts: list[Part] = []
    current = Part(index=0, problem="before_first_separator" if any_code else "no_codes")
    for scan in scans:
        if scan.code is not None:
            parts.append(current)
            current = Part(index=0, code=scan.code, separator_page=scan.page)
        elif scan.damaged:
            parts.append(current)
            current = Part(index=0, separator_page=scan.page, problem="damaged_code", pages=[scan.page])
        else:
            current.pages.append(scan.page)
    parts.append(current)
    kept = [p for p in parts if p.pages]
    for number, part in enumerate(kept):
        part.index = number
    return kept


# -- inside the sandbox child -------------------------------------------------------------------


def _read_codes(image: Any) -> tuple[str | None, bool]:
    """Our code on one rendered page (the first), and whether a QR code was there but unreadable."""
    found = zxingcpp.read_barcodes(image, formats=_QR, return_errors=True)
    damaged = False
    for barcode in found:
        if not barcode.valid:
            damaged = True
            continue
        if paper_codes.decode(barcode.text) is not None:
            return barcode.text.strip(), False
    return None, damaged


def scan_pages(path: Path, dpi: int = RENDER_DPI, deadline: float | None = None) -> list[PageScan]:
    """Render each page in greyscale and read its QR codes (in the sandbox child only)."""
    pdf = pypdfium2.PdfDocument(str(path))
    try:
        scans: list[PageScan] = []
        for number in range(len(pdf)):
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError("the time limit ran out while reading the codes")
            page = pdf[number]
            try:
                width, height = page.get_size()
                scale = dpi / 72
                if width * height * scale * scale > MAX_RENDER_PIXELS:
                    scans.append(PageScan(page=number + 1))
                    continue
                bitmap = page.render(scale=scale, grayscale=True, no_smoothimage=True, may_draw_forms=False)
                code, damaged = _read_codes(bitmap.to_numpy())
                bitmap.close()
            finally:
                page.close()
            scans.append(PageScan(page=number + 1, code=code, damaged=damaged))
        return scans
    finally:
        pdf.close()


def write_parts(path: Path, parts: list[Part], out_dir: Path) -> None:
    """Write each part's pages as its own PDF into out_dir (the same bytes for the same stack every time)."""
    reader = pypdf.PdfReader(str(path))
    for part in parts:
        writer = pypdf.PdfWriter()
        for page in part.pages:
            writer.add_page(reader.pages[page - 1])
        writer._info = None  # no producer/date: a part's bytes depend on the stack alone (duplicates)
        writer._ID = None
        target = out_dir / f"part-{part.index:04d}.pdf"
        with target.open("wb") as fh:
            writer.write(fh)
        part.path = str(target)


def split_here(job: dict[str, Any]) -> dict[str, Any]:
    """The child's work: scan, plan and write the parts; a JSON-able answer."""
    path = Path(job["path"])
    deadline = float(job.get("deadline") or time.monotonic() + float(job.get("timeout_s", 120)))
    scans = scan_pages(path, int(job.get("dpi") or RENDER_DPI), deadline)
    if not scans:
        raise ValueError(str(phrase("the stack has no pages")))
    parts = plan_parts(scans)
    if job.get("out_dir"):
        write_parts(path, parts, Path(job["out_dir"]))
    return {"pages": len(scans), "codes": [asdict(s) for s in scans if s.code or s.damaged],
            "parts": [asdict(p) for p in parts]}
