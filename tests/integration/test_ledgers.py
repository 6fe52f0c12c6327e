"""The ledgers (台帐) through the API: CSV parsed, XLSX read back with openpyxl, PDF text read with pypdf;
formula cells neutralised in every format; the clearance matrix of every ledger in every format."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from tests.conftest import Api, People
from tests.support.ledger_scene import FORMULA_NAME, FORMULA_PURPOSE, SECRET_NAME, Scene, shared_archive
from vault.clock import FixedClock

LEDGERS = ("customers", "checkouts", "destructions", "audit")


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, People, FixedClock, Scene]]:
    with shared_archive(tmp_path_factory.mktemp("ledgers") / "home") as built:
        yield built


@pytest.fixture
def api(shared: tuple[Api, People, FixedClock, Scene]) -> Api:
    return shared[0]


@pytest.fixture
def people(shared: tuple[Api, People, FixedClock, Scene]) -> People:
    return shared[1]


@pytest.fixture
def scene(shared: tuple[Api, People, FixedClock, Scene]) -> Scene:
    return shared[3]


def _get(api: Api, user: Any, name: str, fmt: str, **filters: str) -> Any:
    query = "&".join(f"{k}={v}" for k, v in {"format": fmt, **filters}.items())
    return api.get(user, f"/api/v1/ledgers/{name}?{query}")


def _csv(r: Any) -> list[list[str]]:
    text = r.data.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def _xlsx(r: Any) -> list[list[Any]]:
    wb = load_workbook(io.BytesIO(r.data), read_only=True)
    return [list(row) for row in wb.worksheets[0].iter_rows(values_only=True)]


def _pdf_text(r: Any) -> str:
    """The PDF's text with line breaks removed (narrow columns wrap archive numbers and names)."""
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(r.data)).pages).replace("\n", "")


def test_the_customer_ledger_is_sorted_by_pinyin_with_initials_in_every_format(
        api: Api, people: People, scene: Scene) -> None:
    rows = _csv(_get(api, people.manager, "customers", "csv"))
    head, body = rows[0], rows[1:]
    assert head[:4] == ["序号", "拼音首字母", "客户名称", "档案号"]
    names = [r[2] for r in body]
    # 阿里巴巴 (ali...) < 华为 (hua...) < Zeta; the formula name sorts by its text, first
    assert names == ["'" + FORMULA_NAME, "阿里巴巴网络技术有限公司", "华为技术有限公司", "Zeta Trading Ltd"]
    by_name = {r[2]: r for r in body}
    assert by_name["华为技术有限公司"][1] == "HWJSYXGS"
    assert by_name["华为技术有限公司"][3] == scene.huawei["archive_no"]
    assert by_name["华为技术有限公司"][4:8] == ["通信", "深圳", "employee", "B"]  # grade after its change
    assert by_name["Zeta Trading Ltd"][1] == "" and by_name["Zeta Trading Ltd"][9] == "closed"
    sheet = _xlsx(_get(api, people.manager, "customers", "xlsx"))
    assert [r[2] for r in sheet[1:]] == names
    text = _pdf_text(_get(api, people.manager, "customers", "pdf"))
    assert "客户一览表" in text and "华为技术有限公司" in text and scene.alibaba["archive_no"] in text


def test_english_headings_follow_the_callers_language(api: Api, people: People, scene: Scene) -> None:
    r = api.client.get("/api/v1/ledgers/customers?format=csv",
                       headers={**api.headers(people.manager), "Accept-Language": "en"})
    assert _csv(r)[0][:3] == ["No.", "Initials", "Customer"]


def test_filters_narrow_the_customer_ledger(api: Api, people: People, scene: Scene) -> None:
    def names(**f: str) -> list[str]:
        return [r[2] for r in _csv(_get(api, people.archivist, "customers", "csv", **f))[1:]]

    assert names(industry="通信") == ["华为技术有限公司"]
    assert names(region="杭州") == ["阿里巴巴网络技术有限公司"]
    assert names(grade="D") == ["'" + FORMULA_NAME]
    assert names(owner="employee") == ["华为技术有限公司"]
    assert names(status="closed") == ["Zeta Trading Ltd"]
    assert names(period="2026-01") == names() and names(period="2025-Q4") == []


def test_the_checkout_register_shows_pending_overdue_and_returned_rows(api: Api, people: People, scene: Scene) -> None:
    body = _csv(_get(api, people.legal, "checkouts", "csv"))
    head, rows = body[0], {int(r[0]): dict(zip(body[0], r, strict=True)) for r in body[1:]}
    assert head == ["编号", "申请时间", "借阅人", "档案号", "客户名称", "方式", "借阅文件", "用途", "批准人", "借出",
                    "应还", "归还", "状态"]
    assert set(rows) == {scene.pending, scene.overdue, scene.returned}
    assert rows[scene.pending]["状态"] == "pending" and rows[scene.pending]["批准人"] == ""
    late = rows[scene.overdue]
    assert late["状态"] == "overdue" and late["批准人"] == "archivist" and late["借阅人"] == "employee"
    assert late["借出"].startswith("2026-01-05") and late["应还"].startswith("2026-01-08") and late["归还"] == ""
    assert rows[scene.returned]["状态"] == "returned" and rows[scene.returned]["归还"].startswith("2026-01-05")
    only = _csv(_get(api, people.legal, "checkouts", "csv", status="overdue"))
    assert [int(r[0]) for r in only[1:]] == [scene.overdue]


def test_the_destruction_register_lists_executed_and_proposed_batches(api: Api, people: People, scene: Scene) -> None:
    sheet = _xlsx(_get(api, people.manager, "destructions", "xlsx"))
    rows = {(r[0], r[1]) for r in sheet[1:]}
    assert rows == {(scene.batch, "executed"), (scene.proposed, "proposed")}
    executed = next(r for r in sheet[1:] if r[0] == scene.batch)
    assert executed[2] == scene.zeta["archive_no"] and executed[13] == "archivist" and executed[11] == "manager"
    text = _pdf_text(_get(api, people.manager, "destructions", "pdf", status="executed"))
    assert "销毁清册" in text and scene.zeta["archive_no"] in text and scene.alibaba["archive_no"] not in text


def test_the_audit_extract_is_for_managers_and_legal_and_is_itself_audited(
        api: Api, people: People, scene: Scene) -> None:
    assert _get(api, people.archivist, "audit", "csv").status_code == 403  # as the audit list
    rows = _csv(_get(api, people.legal, "audit", "csv", action="checkout.*"))
    assert rows[1:] and all(r[3].startswith("checkout.") for r in rows[1:])
    events = api.get(people.legal, "/api/v1/audit?action=ledger.exported").get_json()["items"]
    assert events[0]["details"]["ledger"] == "audit" and events[0]["details"]["format"] == "csv"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_formula_cells_are_neutralised(api: Api, people: People, scene: Scene, fmt: str) -> None:
    customers = _get(api, people.manager, "customers", fmt)
    checkouts = _get(api, people.manager, "checkouts", fmt)
    cells = [c for r in (_csv(customers) + _csv(checkouts) if fmt == "csv" else _xlsx(customers) + _xlsx(checkouts))
             for c in r if isinstance(c, str)]
    assert "'" + FORMULA_NAME in cells and "'-2+3" in cells and "'+86" in cells and "'" + FORMULA_PURPOSE in cells
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    if fmt == "xlsx":  # no cell is stored as a formula
        wb = load_workbook(io.BytesIO(customers.data))
        assert all(cell.data_type != "f" for row in wb.active.iter_rows() for cell in row)


def test_pdf_cells_show_the_text_as_it_is(api: Api, people: People, scene: Scene) -> None:
    text = _pdf_text(_get(api, people.manager, "customers", "pdf"))
    assert "=HYPERLINK(" in text  # a PDF runs nothing: shown as stored, no apostrophe
    assert "'=HYPERLINK(" not in text


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "pdf"])
def test_a_caller_below_secret_finds_no_secret_dossier_in_any_ledger_nor_in_its_count(
        api: Api, people: People, scene: Scene, fmt: str) -> None:
    secret_marks = (SECRET_NAME, scene.secret["archive_no"], "绝密借阅")
    visible_counts = {"customers": 4, "checkouts": 3, "destructions": 2}
    for user in (people.manager, people.legal, people.archivist):
        for name in LEDGERS:
            r = _get(api, user, name, fmt)
            if name == "audit" and user is people.archivist:
                assert r.status_code == 403
                continue
            assert r.status_code == 200, (user.username, name, r.get_json())
            if fmt == "csv":
                content = r.data.decode("utf-8")
            elif fmt == "xlsx":
                content = "\n".join(str(c) for row in _xlsx(r) for c in row)
            else:
                content = _pdf_text(r)
            for mark in secret_marks:
                assert mark not in content, (user.username, name, fmt, mark)
            if name in visible_counts:
                assert r.headers["X-Rows"] == str(visible_counts[name]), (user.username, name)
    for user in (people.make("top_mgr", "manager", "secret"), people.make("top_legal", "legal", "secret")):
        r = _get(api, user, "customers", fmt)
        assert r.headers["X-Rows"] == "5"
        assert _get(api, user, "destructions", fmt).headers["X-Rows"] == "3"


def test_employees_and_admins_get_no_ledger(api: Api, people: People, scene: Scene) -> None:
    for user in (people.employee, people.admin, people.make("emp_secret", "employee", "secret")):
        for name in LEDGERS:
            assert _get(api, user, name, "csv").status_code == 403


def test_bad_names_formats_and_filters_say_what_to_send(api: Api, people: People, scene: Scene) -> None:
    r = _get(api, people.manager, "ledger-of-nothing", "csv")
    assert r.status_code == 404
    assert "customers, checkouts, destructions, receipts, audit" in r.get_json()["error"]["message"]
    r = _get(api, people.manager, "customers", "docx")
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "format"
    r = _get(api, people.manager, "customers", "csv", period="2026-13")
    assert r.status_code == 422 and "2026-Q3" in r.get_json()["error"]["message"]
    r = _get(api, people.manager, "checkouts", "csv", status="lost")
    assert r.status_code == 422 and "overdue" in r.get_json()["error"]["message"]
    r = api.client.get("/api/v1/ledgers/customers?format=csv&grade=Z",
                       headers={**api.headers(people.manager), "Accept-Language": "zh-CN"})
    assert r.status_code == 422 and "A, B, C, D" in r.get_json()["error"]["message"]
