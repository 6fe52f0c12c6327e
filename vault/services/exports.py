"""Tabular exports as CSV, XLSX and PDF, written row by row into a file the caller streams out.

Shared by the ledgers, the periodic reports and (later) the customer export. Every writer takes the
columns and an iterator of rows, so 100,000 rows never sit in memory at once: CSV is written as it
comes, XLSX through openpyxl's write-only mode (rows go to a temporary file), PDF in pages of rows.

Spreadsheet programs run a cell that starts with =, +, -, @ (or a tab or carriage return, which some
of them strip first) as a formula: `neutralise` puts an apostrophe in front of such text in CSV and
XLSX, so a customer called "=HYPERLINK(...)" stays text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO, Any
from xml.sax.saxutils import escape

FORMATS = ("csv", "xlsx", "pdf")
MIME = {"csv": "text/csv; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pdf": "application/pdf"}
PDF_MAX_ROWS = 5_000  # a PDF is for printing; larger tables go out as CSV or XLSX
_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
_PDF_CHUNK = 500


@dataclass(frozen=True)
class Column:
    """One column: the row's key and its heading in Chinese and English."""

    key: str
    zh: str
    en: str
    width: float = 1.0  # relative width in the PDF

    def heading(self, lang: str) -> str:
        return self.zh if lang.startswith("zh") else self.en


def neutralise(value: Any) -> Any:
    """The cell value a spreadsheet will not run: text starting with a formula character gets a leading '."""
    if isinstance(value, str) and value.startswith(_FORMULA_LEADS):
        return "'" + value
    return value


def _text(value: Any) -> str:
    """A cell as plain text: dates in ISO form, None as empty."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "value"):  # enums
        return str(value.value)
    return str(value)


def _cell(value: Any) -> Any:
    """A cell for XLSX: numbers stay numbers, dates become text (no time-zone guessing), text is neutralised."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value).lower()
    if isinstance(value, int | float):
        return value
    return neutralise(_text(value))


def write_csv(out: IO[bytes], columns: Sequence[Column], rows: Iterable[dict[str, Any]], lang: str = "zh") -> int:
    """CSV in UTF-8 with a BOM (so Excel reads Chinese right), one heading line; returns the row count."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    out.write("\ufeff".encode())
    writer.writerow([neutralise(c.heading(lang)) for c in columns])
    n = 0
    for row in rows:
        writer.writerow([neutralise(_text(row.get(c.key))) for c in columns])
        n += 1
        if buf.tell() > 64 * 1024:
            out.write(buf.getvalue().encode("utf-8"))
            buf.seek(0)
            buf.truncate()
    out.write(buf.getvalue().encode("utf-8"))
    return n


def write_xlsx(out: IO[bytes], sheets: Sequence[tuple[str, Sequence[Column], Iterable[dict[str, Any]]]],
               lang: str = "zh") -> int:
    """An XLSX workbook, one write-only sheet per (title, columns, rows); returns the rows written in all."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    n = 0
    for title, columns, rows in sheets:
        ws = wb.create_sheet(title=_sheet_title(title))
        ws.append([neutralise(c.heading(lang)) for c in columns])
        for row in rows:
            ws.append([_cell(row.get(c.key)) for c in columns])
            n += 1
    if not sheets:
        wb.create_sheet(title="-")
    wb.save(out)
    return n


def _sheet_title(title: str) -> str:
    """A valid sheet name: at most 31 characters, none of []:*?/\\."""
    cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in title).strip("'")
    return cleaned[:31] or "-"


def write_pdf(out: IO[bytes], title: str, columns: Sequence[Column], rows: Iterable[dict[str, Any]],
              lang: str = "zh", *, subtitle: str = "") -> int:
    """A landscape A4 table with the CJK font, headings repeated on each page; returns the row count.

    PDF text is not executed, so cells are written as they are."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from vault.services.stamping import cjk_font

    font = cjk_font()
    head = ParagraphStyle("head", fontName=font, fontSize=14, leading=20, spaceAfter=4)
    small = ParagraphStyle("small", fontName=font, fontSize=7, leading=9, wordWrap="CJK")
    doc = SimpleDocTemplate(out, pagesize=landscape(A4), leftMargin=10 * mm, rightMargin=10 * mm,
                            topMargin=10 * mm, bottomMargin=10 * mm, title=title, author="Dossier Vault",
                            invariant=1)
    total_w = landscape(A4)[0] - 20 * mm
    weights = sum(c.width for c in columns) or 1
    widths = [total_w * c.width / weights for c in columns]

    def p(text: str) -> Paragraph:
        return Paragraph(escape(text), small)

    style = TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke)])
    story: list[Any] = [Paragraph(escape(title), head)]
    if subtitle:
        story += [p(subtitle), Spacer(1, 3 * mm)]
    n = 0
    chunk: list[list[Any]] = []
    for row in _chain_end(rows):
        if row is not None:
            chunk.append([p(_text(row.get(c.key))) for c in columns])
            n += 1
        if chunk and (row is None or len(chunk) >= _PDF_CHUNK):
            table = Table([[p(c.heading(lang)) for c in columns], *chunk], colWidths=widths, repeatRows=1)
            table.setStyle(style)
            story.append(table)
            chunk = []
    if n == 0:
        table = Table([[p(c.heading(lang)) for c in columns], [p("—") for _ in columns]], colWidths=widths)
        table.setStyle(style)
        story.append(table)
    doc.build(story)
    return n


def _chain_end(rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any] | None]:
    """The rows, then None as an end marker."""
    yield from rows
    yield None
