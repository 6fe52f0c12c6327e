"""The export writers, the ledger's pinyin order and report periods, without a vault."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from vault.errors import Invalid
from vault.services.exports import Column, neutralise, write_csv, write_pdf, write_xlsx
from vault.services.ledgers import sort_key
from vault.services.periodic_reports import due_periods
from vault.services.periods import parse_period

COLUMNS = (Column("name", "名称", "Name"), Column("n", "数量", "Count"))
DANGEROUS = ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"]


@pytest.mark.parametrize("value", DANGEROUS)
def test_every_formula_lead_is_neutralised_in_csv_and_xlsx(value: str) -> None:
    rows = [{"name": value, "n": 3}]
    out = io.BytesIO()
    write_csv(out, COLUMNS, rows)
    parsed = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"), newline="")))
    assert parsed[1] == ["'" + value, "3"]
    book = io.BytesIO()
    write_xlsx(book, [("表", COLUMNS, rows)])
    ws = load_workbook(book).active
    assert ws["A2"].value == "'" + value and ws["A2"].data_type == "s" and ws["B2"].value == 3


def test_harmless_text_and_numbers_are_left_alone() -> None:
    assert neutralise("华为 = 好") == "华为 = 好" and neutralise(-5) == -5 and neutralise("a-1") == "a-1"


def test_the_pdf_writer_pages_a_long_table_and_keeps_the_text() -> None:
    out = io.BytesIO()
    n = write_pdf(out, "客户一览表", COLUMNS, ({"name": f"客户{i}", "n": i} for i in range(1200)), "zh")
    reader = PdfReader(io.BytesIO(out.getvalue()))
    text = "".join(p.extract_text() for p in reader.pages)
    assert n == 1200 and len(reader.pages) > 10 and "客户1199" in text and "=1" not in text


def test_chinese_names_sort_by_their_reading_among_latin_ones() -> None:
    names = ["Zeta Ltd", "中国工商银行", "阿里巴巴", "Bosch", "重庆钢铁", "长城汽车"]
    assert sorted(names, key=sort_key) == ["阿里巴巴", "Bosch", "长城汽车", "重庆钢铁", "Zeta Ltd", "中国工商银行"]
    assert sort_key("中国工商银行")[:2] == ("zhong guo gong shang yin hang", "ZGGSYH")  # 银行 reads yin hang
    assert sort_key("Zeta Ltd")[1] == ""


@pytest.mark.parametrize(("text", "start", "end"), [
    ("2026-11", datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
    ("2026-12", datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    ("2026-q3", datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)),
    ("2026", datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
])
def test_periods_are_half_open_utc_ranges(text: str, start: datetime, end: datetime) -> None:
    period = parse_period(text)
    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize("text", ["2026-13", "2026-Q0", "26-01", "2026-1", "Q3", "", "2026-11-01"])
def test_a_bad_period_names_the_forms_accepted(text: str) -> None:
    with pytest.raises(Invalid, match="2026-Q3"):
        parse_period(text)


def test_reports_are_due_for_ended_periods_the_archive_lived_in() -> None:
    now = datetime(2026, 4, 2, tzinfo=UTC)
    names = [p.name for p in due_periods(now, datetime(2026, 2, 15, tzinfo=UTC))]
    assert names == ["2026-02", "2026-03", "2026-Q1"]
    assert [p.name for p in due_periods(now, None)] == []
