"""The import form on the dossier list: a check that writes nothing, its report, the confirm button; the
export button; as an archivist and as an employee, in Chinese and English."""

from __future__ import annotations

import io
import re
import time
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook

from tests.conftest import Api, People
from tests.integration.test_customer_import_export import GOOD, csv_bytes
from tests.integration.test_pages import as_user, csrf_of


def dossier_count(api: Api, people: People) -> int:
    return int(api.get(people.archivist, "/api/v1/dossiers").get_json()["total"])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_archivist_checks_a_file_then_confirms_the_import(app: Flask, api: Api, people: People,
                                                             lang: str) -> None:
    people.employee  # noqa: B018 - the rows' owner
    c = as_user(app, people.archivist)
    h = {"Accept-Language": lang}
    listing = c.get("/dossiers", headers=h).get_data(as_text=True)
    assert 'id="import-customers"' in listing and 'id="export-customers"' in listing
    form = c.get("/dossiers/import", headers=h).get_data(as_text=True)
    bad = ["坏公司", "913307828124158691", "", "client", "A", "", "employee", "", "", "", ""]
    data = {"csrf_token": csrf_of(form), "file": (io.BytesIO(csv_bytes([*GOOD, bad])), "客户一览表.csv")}
    checked = c.post("/dossiers/import", data=data, content_type="multipart/form-data", headers=h)
    html = checked.get_data(as_text=True)
    assert checked.status_code == 200
    assert html.count('class="import-create"') == 2 and html.count('class="import-refuse"') == 1
    assert ("统一社会信用代码无效" if lang == "zh" else "invalid credit code") in html
    assert ("2 个待新建" if lang == "zh" else "2 to create") in html
    assert dossier_count(api, people) == 0
    token = re.search(r'name="token" value="([0-9a-f]+)"', html)
    key = re.search(r'name="key" value="([^"]+)"', html)
    assert token and key
    done = c.post("/dossiers/import", data={"csrf_token": csrf_of(html), "token": token.group(1),
                                            "key": key.group(1), "filename": "客户一览表.csv"}, headers=h)
    assert done.status_code == 200 and dossier_count(api, people) == 2
    again = c.post("/dossiers/import", data={"csrf_token": csrf_of(html), "token": token.group(1),
                                             "key": key.group(1)}, headers=h)
    assert again.status_code == 422 and dossier_count(api, people) == 2


def test_a_page_upload_that_is_not_a_spreadsheet_says_so_and_writes_nothing(app: Flask, api: Api,
                                                                           people: People) -> None:
    c = as_user(app, people.archivist)
    form = c.get("/dossiers/import", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    r = c.post("/dossiers/import", data={"csrf_token": csrf_of(form), "file": (io.BytesIO(b"%PDF-1.7\x00"), "a.pdf")},
               content_type="multipart/form-data", headers={"Accept-Language": "zh"})
    assert r.status_code == 422 and "不是电子表格" in r.get_data(as_text=True)
    assert dossier_count(api, people) == 0


def test_an_employee_has_no_import_but_exports_what_they_see(app: Flask, api: Api, people: People) -> None:
    api.new_dossier(people.archivist, customer_name="乙公司")
    c = as_user(app, people.employee)
    listing = c.get("/dossiers").get_data(as_text=True)
    assert 'id="import-customers"' not in listing
    assert c.get("/dossiers/import").status_code == 403
    r = c.get("/dossiers/export?format=xlsx")
    assert r.status_code == 200
    rows = list(load_workbook(io.BytesIO(r.data)).worksheets[0].iter_rows(values_only=True))
    assert [row[1] for row in rows[1:]] == ["乙公司"]


def test_an_archivist_imports_contacts_on_the_same_page_and_exports_them(app: Flask, api: Api,
                                                                          people: People) -> None:
    from tests.integration.test_customer_import_export import CODES, CONTACT_HEAD, do_import

    do_import(api, people, csv_bytes(GOOD), dry_run=False)
    c = as_user(app, people.archivist)
    form = c.get("/dossiers/import", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert 'name="sheet"' in form and "往来记录" in form
    rows = [[CODES[0], "", "欧阳经理", "总经理", "010-6552 8888", "", "决策人", "是"]]
    data = {"csrf_token": csrf_of(form), "sheet": "contacts",
            "file": (io.BytesIO(csv_bytes(rows, CONTACT_HEAD)), "联系人.csv")}
    html = c.post("/dossiers/import", data=data, content_type="multipart/form-data",
                  headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert html.count('class="import-create"') == 1 and 'name="sheet" value="contacts"' in html
    token = re.search(r'name="token" value="([0-9a-f]+)"', html)
    key = re.search(r'name="key" value="([^"]+)"', html)
    assert token and key
    done = c.post("/dossiers/import", data={"csrf_token": csrf_of(html), "token": token.group(1), "sheet": "contacts",
                                            "key": key.group(1), "filename": "联系人.csv"})
    assert done.status_code == 200
    r = c.get("/dossiers/export?format=xlsx&sheet=contacts")
    rows_out = list(load_workbook(io.BytesIO(r.data)).worksheets[0].iter_rows(values_only=True))
    assert [row[4] for row in rows_out[1:]] == ["欧阳经理"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_long_import_has_its_own_page_that_shows_the_rows_done_then_the_report(
        app: Flask, api: Api, people: People, monkeypatch: pytest.MonkeyPatch, lang: str) -> None:
    from openpyxl import Workbook

    from vault.creditcode import check_char

    people.employee  # noqa: B018 - the rows' owner
    monkeypatch.setitem(app.config, "IMPORT_WAIT_S", 0)  # every import is "long": answered by its own page
    wb = Workbook()
    ws = wb.active
    ws.append(["客户名称", "统一社会信用代码", "类型", "负责人", "法定代表人"])
    for i in range(60):
        first17 = f"91110000{i:09d}"
        ws.append([f"长表{i}公司", first17 + check_char(first17), "client", "employee", "王一"])
    buf = io.BytesIO()
    wb.save(buf)
    c = as_user(app, people.archivist)
    h = {"Accept-Language": lang}
    zh = lang == "zh"
    form = c.get("/dossiers/import", headers=h).get_data(as_text=True)

    def follow(answer: Any) -> str:
        assert answer.status_code == 303, answer.get_data(as_text=True)
        page_url = answer.headers["Location"]
        page = c.get(page_url, headers=h).get_data(as_text=True)
        if 'id="import-running"' in page:  # what the page shows while it runs: a bar and the rows done
            assert 'id="import-progress"' in page and ("行" if zh else "rows done") in page and "import.js" in page
        for other in (people.employee, people.manager):  # someone else's import: neither its page nor its figures
            peer = as_user(app, other)
            assert peer.get(page_url, headers=h).status_code in (403, 404)
            assert peer.get(page_url + "/progress").status_code in (403, 404)
        for _ in range(600):
            progress = c.get(page_url + "/progress").get_json()
            if progress["state"] != "running":
                break
            time.sleep(0.05)
        assert progress == {"state": "finished", "done": 60, "total": 60}
        return str(c.get(page_url, headers=h).get_data(as_text=True))

    upload = {"csrf_token": csrf_of(form), "file": (io.BytesIO(buf.getvalue()), "长表.xlsx")}
    html = follow(c.post("/dossiers/import", data=upload, content_type="multipart/form-data", headers=h))
    assert html.count('class="import-create"') == 60
    assert ("60 个待新建，0 个待更新" if zh else "60 to create, 0 to update") in html
    assert dossier_count(api, people) == 0
    token = re.search(r'name="token" value="([0-9a-f]+)"', html)
    key = re.search(r'name="key" value="([^"]+)"', html)
    assert token and key
    done = follow(c.post("/dossiers/import", data={"csrf_token": csrf_of(html), "token": token.group(1),
                                                   "key": key.group(1), "filename": "长表.xlsx"}, headers=h))
    assert ("导入完成" if zh else "Import done") in done and dossier_count(api, people) == 60
    assert api.get(people.employee, f"/dossiers/import/{'0' * 32}/progress").status_code in (401, 403, 404)
