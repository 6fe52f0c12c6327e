"""Reading an uploaded customer spreadsheet: headings in Chinese or English, GB18030 CSV from Chinese Excel,
numbers and dates as text, and what is not a spreadsheet refused by name."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from openpyxl import Workbook

from vault.errors import Invalid
from vault.services.customer_columns import column_of
from vault.services.sheet_reader import read_sheet


def test_headings_in_chinese_english_or_the_key_name_the_same_column() -> None:
    assert column_of("统一社会信用代码") == column_of("Credit code") == column_of("credit_code") == "credit_code"
    assert column_of(" Legal  Representative ") == "legal_representative"
    assert column_of("类型") == "relationship" and column_of("神秘列") is None


def test_a_gb18030_csv_from_chinese_excel_reads_as_text() -> None:
    data = "客户名称,统一社会信用代码\r\n甲公司,913307828124158690\r\n".encode("gb18030")
    sheet = read_sheet("ledger.csv", data)
    assert sheet.headings == ["客户名称", "统一社会信用代码"] and sheet.rows == [(2, ["甲公司", "913307828124158690"])]


def test_xlsx_numbers_and_dates_come_back_as_the_text_people_typed() -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["客户名称", "注册资本", "成立日期"])
    ws.append(["甲公司", 1000000, datetime(2001, 5, 1)])
    ws.append([None, None, None])  # a blank row is skipped
    out = io.BytesIO()
    wb.save(out)
    sheet = read_sheet("ledger.xlsx", out.getvalue())
    assert sheet.rows == [(2, ["甲公司", "1000000", "2001-05-01"])]


@pytest.mark.parametrize("name,data", [("a.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64),
                                       ("a.csv", b""), ("a.csv", b"only-one-column\n"),
                                       ("a.xlsx", b"PK\x03\x04broken")])
def test_what_is_not_a_spreadsheet_is_refused_naming_the_file(name: str, data: bytes) -> None:
    with pytest.raises(Invalid) as err:
        read_sheet(name, data)
    assert err.value.field == "file"
