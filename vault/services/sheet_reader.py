"""Reading an uploaded spreadsheet (CSV or XLSX) into rows of text, refusing what is not one.

An XLSX is a ZIP archive: before openpyxl opens it, its central directory is checked (entry count,
declared uncompressed size, compression ratio), so a ZIP bomb is refused without inflating it. A CSV
is UTF-8 (with or without a BOM) or GB18030 (what Excel writes in Chinese Windows). Anything else
(a PDF, an image, a binary) is refused with what to do.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from vault.errors import Invalid, Phrase, TooLarge, phrase

MiB = 1024 * 1024
MAX_BYTES = 20 * MiB
MAX_ROWS = 20_000
MAX_XLSX_UNCOMPRESSED = 200 * MiB
MAX_XLSX_RATIO = 100
MAX_XLSX_ENTRIES = 2_000
_RATIO_FLOOR = 1 * MiB
_WHAT = phrase("save it as .xlsx or as CSV (UTF-8) from your spreadsheet program and upload that file")


@dataclass(frozen=True)
class Sheet:
    """The headings and the data rows (sheet row number, cells as text or None) of the first sheet."""

    headings: list[str]
    rows: list[tuple[int, list[str | None]]]
    formulas: set[tuple[int, int]]  # (row number, column index) of cells that held a formula


def _not_sheet(problem: Phrase) -> Invalid:
    return Invalid("file", "{problem}; {what_to_do}", params={"problem": problem, "what_to_do": _WHAT},
                   code="not_a_spreadsheet")


def _text(value: object) -> str | None:
    """A cell as text: dates in ISO form, whole numbers without a decimal point, blanks as None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = str(value).strip()
    return text or None


def check_xlsx_zip(data: bytes) -> None:
    """Refuse an XLSX whose directory is not a workbook's, or that would inflate too far (a ZIP bomb)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, NotImplementedError, OSError):
        raise _not_sheet(phrase("the file is a damaged ZIP archive, not a workbook")) from None
    if len(infos) > MAX_XLSX_ENTRIES:
        raise Invalid("file", "the workbook holds {parts} parts (at most {max_parts}); {what_to_do}",
                      params={"parts": len(infos), "max_parts": MAX_XLSX_ENTRIES, "what_to_do": _WHAT},
                      code="unsafe_xlsx")
    names = {i.filename for i in infos}
    if "xl/workbook.xml" not in names:
        raise _not_sheet(phrase("the ZIP archive is not an Excel workbook (no xl/workbook.xml)"))
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise Invalid("file", "the workbook is encrypted; remove its password and {what_to_do}",
                          params={"what_to_do": _WHAT}, code="unsafe_xlsx")
        total += info.file_size
        if info.file_size > _RATIO_FLOOR and info.file_size > MAX_XLSX_RATIO * max(info.compress_size, 1):
            raise Invalid("file", "the workbook expands {ratio} times (a ZIP bomb; at most {max_ratio} times "
                          "is allowed); {what_to_do}",
                          params={"ratio": info.file_size // max(info.compress_size, 1),
                                  "max_ratio": MAX_XLSX_RATIO, "what_to_do": _WHAT}, code="unsafe_xlsx")
    if total > MAX_XLSX_UNCOMPRESSED:
        raise Invalid("file", "the workbook expands to {size_mib} MiB (at most {max_mib} MiB); split it and "
                      "import the parts one by one",
                      params={"size_mib": total // MiB, "max_mib": MAX_XLSX_UNCOMPRESSED // MiB}, code="unsafe_xlsx")


def _too_many(n: int) -> Invalid:
    return Invalid("file", "the file has more than {max_rows} rows; split it and import the parts one by one",
                   params={"max_rows": MAX_ROWS}, code="too_many_rows", rows=n)


def _read_xlsx(data: bytes) -> Sheet:
    from openpyxl import load_workbook

    check_xlsx_zip(data)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:  # openpyxl raises many kinds for a damaged workbook
        raise _not_sheet(phrase("the workbook cannot be read")) from None
    try:
        ws = wb.worksheets[0] if wb.worksheets else None
        if ws is None:
            raise _not_sheet(phrase("the workbook has no sheet"))
        rows: list[tuple[int, list[str | None]]] = []
        formulas: set[tuple[int, int]] = set()
        headings: list[str] | None = None
        for n, cells in enumerate(ws.iter_rows(), start=1):
            values: list[str | None] = []
            for i, cell in enumerate(cells):
                if getattr(cell, "data_type", None) == "f":
                    formulas.add((n, i))
                values.append(_text(cell.value))
            if headings is None:
                if any(values):
                    headings = [v or "" for v in values]
                continue
            if any(values):
                rows.append((n, values))
                if len(rows) > MAX_ROWS:
                    raise _too_many(len(rows))
    finally:
        wb.close()
    if headings is None:
        raise _not_sheet(phrase("the sheet is empty: the first row must name the columns"))
    return Sheet(headings, rows, formulas)


def _decode(data: bytes) -> str:
    if b"\x00" in data[:65536]:
        raise _not_sheet(phrase("the file is not a spreadsheet (it holds binary data)"))
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _not_sheet(phrase("the CSV file is neither UTF-8 nor GB18030 text"))


def _read_csv(data: bytes) -> Sheet:
    text = _decode(data)
    if text.lstrip().startswith("%PDF") or text.lstrip().lower().startswith(("<html", "<!doctype", "<?xml")):
        raise _not_sheet(phrase("the file is not a spreadsheet"))
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader: Iterator[list[str]] = csv.reader(io.StringIO(text), dialect)
    headings: list[str] | None = None
    rows: list[tuple[int, list[str | None]]] = []
    try:
        for n, cells in enumerate(reader, start=1):
            values = [_text(c) for c in cells]
            if headings is None:
                if any(values):
                    headings = [v or "" for v in values]
                continue
            if any(values):
                rows.append((n, values))
                if len(rows) > MAX_ROWS:
                    raise _too_many(len(rows))
    except csv.Error:
        raise _not_sheet(phrase("the CSV file is malformed")) from None
    if headings is None or len(headings) < 2:
        raise _not_sheet(phrase("the file has no heading row of columns"))
    return Sheet(headings, rows, set())


def read_sheet(filename: str, data: bytes) -> Sheet:
    """The rows of an uploaded CSV or XLSX; Invalid/TooLarge (nothing read further) for anything else."""
    if len(data) > MAX_BYTES:
        raise TooLarge("the file is larger than the limit of {limit_mib} MiB; split it and import the parts "
                       "one by one", params={"limit_mib": MAX_BYTES // MiB}, limit=MAX_BYTES)
    if not data:
        raise _not_sheet(phrase("the file is empty"))
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith((".xlsx", ".xlsm")):
        if data[:4] != b"PK\x03\x04":
            raise _not_sheet(phrase("the file is named .xlsx but is not an Excel workbook"))
        return _read_xlsx(data)
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise _not_sheet(phrase("old Excel files (.xls) are not read"))
    return _read_csv(data)
