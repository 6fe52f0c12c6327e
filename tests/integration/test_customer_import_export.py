"""Customer import (dry run, real run, second run) and export through the API: per-row refusals naming the
field, files that are not spreadsheets, the XLSX zip bomb, formula neutralisation read back with openpyxl,
masking by who may read, clearance."""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from tests.conftest import Api, People
from tests.corpus import SYNTHETIC, manifest
from tests.support.multipart import post_file
from vault.core import Vault
from vault.models import Job, JobKind

CODES = [c["credit_code"] for c in manifest(SYNTHETIC)["customers"]]
ID_A = "11010519491231002X"
ACCOUNT = "6222020200000123"
HEAD = ["客户名称", "统一社会信用代码", "身份证号码", "类型", "等级", "行业", "负责人", "法定代表人", "注册资本",
        "成立日期", "银行账号"]


def csv_bytes(rows: list[list[str]], head: list[str] = HEAD) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(head)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8-sig")


def xlsx_bytes(rows: list[list[Any]], head: list[str] = HEAD) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(head)
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


GOOD = [["甲公司", CODES[0], "", "client", "A", "制造", "employee", "王一", "1000000", "2001-05-01", ""],
        ["张三", "", ID_A, "client", "B", "", "employee", "", "", "", ACCOUNT]]


def do_import(api: Api, people: People, data: bytes, *, dry_run: bool, filename: str = "客户一览表.csv",
              lang: str = "en", who: Any = None) -> Any:
    people.employee  # noqa: B018 - the owner named in the rows must exist
    headers = {**api.headers(who or people.archivist), "Accept-Language": lang}
    return post_file(api.client, "/api/v1/imports/customers", headers,
                     {"dry_run": "true" if dry_run else "false"}, filename, data)


def total(api: Api, people: People) -> int:
    return int(api.get(people.archivist, "/api/v1/dossiers").get_json()["total"])


def test_a_dry_run_reports_each_row_and_writes_nothing(api: Api, people: People) -> None:
    r = do_import(api, people, csv_bytes(GOOD), dry_run=True)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert [x["action"] for x in body["rows"]] == ["create", "create"]
    assert (body["created"], body["updated"], body["refused"]) == (2, 0, 0)
    assert total(api, people) == 0
    events = api.get(people.legal, "/api/v1/audit?action=dossier.created").get_json()["items"]
    assert events == []


def test_the_real_run_creates_then_a_second_run_updates_the_same_dossiers(api: Api, people: People) -> None:
    first = do_import(api, people, xlsx_bytes(GOOD), dry_run=False, filename="ledger.xlsx").get_json()
    assert (first["created"], first["updated"], first["refused"]) == (2, 0, 0)
    assert total(api, people) == 2
    ids = [x["dossier_id"] for x in first["rows"]]
    # the list's card filters follow rows written in bulk: the person is found as an individual, both lack documents
    listed = api.get(people.archivist, "/api/v1/dossiers?customer_kind=individual&incomplete=true").get_json()
    assert [d["id"] for d in listed["items"]] == [ids[1]] and listed["total"] == 1
    card = api.get(people.archivist, f"/api/v1/dossiers/{ids[0]}/card").get_json()["fields"]
    assert card["legal_representative"] == "王一" and card["registered_capital"] == "1000000.00"
    person = api.get(people.archivist, f"/api/v1/dossiers/{ids[1]}/card").get_json()["fields"]
    assert person["id_number"] == ID_A and person["bank_account"] == ACCOUNT
    changed = [row[:] for row in GOOD]
    changed[0][7] = "王二"
    second = do_import(api, people, xlsx_bytes(changed), dry_run=False, filename="ledger.xlsx").get_json()
    assert (second["created"], second["updated"], second["refused"]) == (0, 2, 0)
    assert [x["dossier_id"] for x in second["rows"]] == ids and total(api, people) == 2
    history = api.get(people.archivist, f"/api/v1/dossiers/{ids[0]}/history").get_json()["items"]
    line = [h for h in history if h["field"] == "legal_representative" and h["new"] == "王二"]
    assert line and line[0]["reason"] == "import ledger.xlsx" and line[0]["old"] == "王一"
    events = api.get(people.legal, "/api/v1/audit?action=customers.imported").get_json()["items"]
    assert len(events) == 2
    assert ID_A not in str(api.get(people.legal, "/api/v1/audit").get_json())


def test_each_bad_row_is_refused_naming_its_field_and_the_good_rows_go_in(api: Api, people: People) -> None:
    rows = [
        ["坏代码公司", "913307828124158691", "", "client", "A", "", "employee", "", "", "", ""],
        ["坏身份证", "", "110105194912310021", "client", "A", "", "employee", "", "", "", ""],
        ["金额公司", CODES[1], "", "client", "A", "", "employee", "", "一百万", "", ""],
        ["未来公司", CODES[2], "", "client", "A", "", "employee", "", "", "2999-01-01", ""],
        ["类型公司", CODES[3], "", "robot", "A", "", "employee", "", "", "", ""],
        ["长公司", CODES[4], "", "client", "A", "", "employee", "名" * 101, "", "", ""],
        ["甲公司", CODES[0], "", "client", "A", "", "employee", "", "", "", ""],
        ["甲公司again", CODES[0], "", "client", "A", "", "employee", "", "", "", ""],
        ["公式公司", CODES[5], "", "client", "A", "", "employee", "=1+2", "", "", ""],
    ]
    r = do_import(api, people, csv_bytes(rows), dry_run=False)
    body = r.get_json()
    got = {x["row"]: (x["action"], x.get("field")) for x in body["rows"]}
    assert got == {2: ("refuse", "credit_code"), 3: ("refuse", "id_number"), 4: ("refuse", "registered_capital"),
                   5: ("refuse", "founded_on"), 6: ("refuse", "relationship"), 7: ("refuse", "legal_representative"),
                   8: ("create", None), 9: ("refuse", "credit_code"), 10: ("refuse", "legal_representative")}
    reasons = {x["row"]: x["reason"] for x in body["rows"] if x["action"] == "refuse"}
    assert "row 8" in reasons[9] and "formula" in reasons[10] and "future" in reasons[5]
    assert "110105194912310021" not in r.get_data(as_text=True)
    assert total(api, people) == 1
    zh = do_import(api, people, csv_bytes(rows[:1]), dry_run=True, lang="zh").get_json()
    assert zh["rows"][0]["action"] == "refuse" and "统一社会信用代码" in zh["rows"][0]["reason"]


def test_a_file_that_is_not_a_spreadsheet_is_refused_and_nothing_is_written(api: Api, people: People) -> None:
    for name, data in (("scan.pdf", b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n\x00\x01"), ("x.xlsx", b"not a zip"),
                       ("img.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")):
        r = do_import(api, people, data, dry_run=False, filename=name)
        assert r.status_code == 422, (name, r.get_json())
        assert r.get_json()["error"]["field"] == "file"
    r = do_import(api, people, csv_bytes(GOOD, head=["客户名称", "神秘列"]), dry_run=False)
    assert r.status_code == 422 and "神秘列" in r.get_json()["error"]["message"]
    assert total(api, people) == 0


def test_an_xlsx_zip_bomb_is_refused_before_it_is_opened(api: Api, people: People) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"\0" * (300 * 1024 * 1024))
    r = do_import(api, people, buf.getvalue(), dry_run=False, filename="bomb.xlsx")
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "unsafe_xlsx"
    assert "ZIP bomb" in r.get_json()["error"]["message"] or "MiB" in r.get_json()["error"]["message"]
    assert total(api, people) == 0


def test_too_many_rows_and_an_import_by_an_employee_are_refused(api: Api, people: People,
                                                                monkeypatch: Any) -> None:
    from vault.services import sheet_reader

    monkeypatch.setattr(sheet_reader, "MAX_ROWS", 1)  # a smaller limit than 20,000 rows, for speed
    r = do_import(api, people, csv_bytes(GOOD), dry_run=True)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "too_many_rows"
    r = do_import(api, people, csv_bytes(GOOD[:1]), dry_run=False, who=people.employee)
    assert r.status_code == 403 and total(api, people) == 0


def export(api: Api, who: Any, fmt: str = "xlsx", **args: str) -> Any:
    query = "&".join(f"{k}={v}" for k, v in {"format": fmt, **args}.items())
    return api.get(who, f"/api/v1/exports/customers?{query}")


def rows_of(data: bytes) -> list[dict[str, Any]]:
    ws = load_workbook(io.BytesIO(data)).worksheets[0]
    values = list(ws.iter_rows(values_only=True))
    return [dict(zip(values[0], r, strict=True)) for r in values[1:]]


def test_formula_cells_are_neutralised_in_both_formats(api: Api, people: People) -> None:
    api.new_dossier(people.archivist, customer_name="=HYPERLINK(\"http://x\")", credit_code=CODES[0])
    r = export(api, people.archivist, "xlsx", lang="en")
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.data)).worksheets[0]
    cells = [c for row in ws.iter_rows() for c in row if c.value and "HYPERLINK" in str(c.value)]
    assert cells and all(c.data_type != "f" and str(c.value).startswith("'=") for c in cells)
    text = export(api, people.archivist, "csv").get_data(as_text=True)
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text


def test_an_employee_gets_masked_values_and_legal_reads_them_in_full(api: Api, people: People) -> None:
    d = api.new_dossier(people.archivist, customer_name="张三", customer_kind="individual", id_number=ID_A,
                        owner="archivist")
    api.patch(people.archivist, f"/api/v1/dossiers/{d['id']}/card",
              json={"fields": {"bank_account": ACCOUNT}, "reason": "资料"})
    masked = rows_of(export(api, people.employee, lang="en").data)
    assert masked[0]["ID number"] == "110105********002X" and masked[0]["Bank account"] == "6222 **** **** 0123"
    full = rows_of(export(api, people.legal, lang="en").data)
    assert full[0]["ID number"] == ID_A and full[0]["Bank account"] == ACCOUNT
    reads = api.get(people.legal, f"/api/v1/audit?dossier_id={d['id']}&action=card.read").get_json()["items"]
    assert [e["actor"] for e in reads if e["actor"] == "legal"]


def test_a_secret_dossier_is_not_exported_to_a_reader_below_its_clearance(api: Api, people: People) -> None:
    boss = people.make("boss", "archivist", clearance="secret")
    api.new_dossier(boss, customer_name="机密客户", credit_code=CODES[0], secrecy="secret")
    api.new_dossier(people.archivist, customer_name="普通客户", credit_code=CODES[1])
    names = [r["客户名称"] for r in rows_of(export(api, people.legal).data)]
    assert names == ["普通客户"]
    assert sorted(r["客户名称"] for r in rows_of(export(api, boss).data)) == ["普通客户", "机密客户"]
    r = export(api, people.legal, "pdf")
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "format"


def test_an_archivists_export_imports_back_as_updates_that_change_nothing(api: Api, people: People) -> None:
    first = do_import(api, people, csv_bytes(GOOD), dry_run=False).get_json()
    assert first["created"] == 2
    exported = export(api, people.archivist, "xlsx").data
    back = do_import(api, people, exported, dry_run=False, filename="export.xlsx").get_json()
    assert (back["created"], back["updated"], back["refused"]) == (0, 2, 0), back
    for item in first["rows"]:
        history = api.get(people.archivist, f"/api/v1/dossiers/{item['dossier_id']}/history").get_json()["items"]
        assert not [h for h in history if h["reason"] == "import export.xlsx"]


CONTACT_HEAD = ["统一社会信用代码", "身份证号码", "联系人", "职务", "联系电话", "电子邮箱", "决策角色", "主要联系人"]
RECORD_HEAD = ["统一社会信用代码", "身份证号码", "记录类型", "发生时间", "摘要", "详情", "金额", "币种"]


def sheet_import(api: Api, people: People, sheet: str, data: bytes, *, dry_run: bool, lang: str = "en") -> Any:
    headers = {**api.headers(people.archivist), "Accept-Language": lang}
    return post_file(api.client, f"/api/v1/imports/{sheet}", headers, {"dry_run": "true" if dry_run else "false"},
                     f"{sheet}.csv", data)


def test_contacts_and_records_import_idempotently_by_their_natural_keys_and_refuse_bad_rows(
        api: Api, people: People) -> None:
    ids = [x["dossier_id"] for x in do_import(api, people, csv_bytes(GOOD), dry_run=False).get_json()["rows"]]
    contacts = [[CODES[0], "", "李经理", "采购经理", "010-6552 8888", "li@example.com", "采购", "是"],
                ["", ID_A, "张三本人", "", "13800138000", "", "", "否"],
                [CODES[1], "", "无客户", "", "", "", "", ""],            # no such customer
                ["913307828124158691", "", "坏代码", "", "", "", "", ""],  # invalid credit code
                [CODES[0], "", "李经理", "", "", "", "", ""],            # the same contact twice in the file
                [CODES[0], "", "公式", "=1+2", "", "", "", ""],          # a formula cell
                [CODES[0], "", "长职务", "职" * 101, "", "", "", ""],     # over the field's limit
                [CODES[0], "", "角色", "", "", "", "老板", ""]]          # unknown decision role
    dry = sheet_import(api, people, "contacts", csv_bytes(contacts, CONTACT_HEAD), dry_run=True).get_json()
    got = {x["row"]: (x["action"], x.get("field")) for x in dry["rows"]}
    assert got == {2: ("create", None), 3: ("create", None), 4: ("refuse", "credit_code"),
                   5: ("refuse", "credit_code"), 6: ("refuse", "name"), 7: ("refuse", "position"),
                   8: ("refuse", "position"), 9: ("refuse", "decision_role")}, dry
    reasons = {x["row"]: x["reason"] for x in dry["rows"] if x["action"] == "refuse"}
    assert "first" in reasons[4] and "row 2" in reasons[6] and "formula" in reasons[7]
    assert api.get(people.archivist, f"/api/v1/dossiers/{ids[0]}/contacts").get_json()["items"] == []
    zh = sheet_import(api, people, "contacts", csv_bytes(contacts[2:3], CONTACT_HEAD), dry_run=True, lang="zh")
    assert "请先导入该客户" in zh.get_json()["rows"][0]["reason"]
    for expected in ((2, 0), (0, 2)):  # the second run finds both contacts again: no duplicates
        real = sheet_import(api, people, "contacts", csv_bytes(contacts[:2], CONTACT_HEAD), dry_run=False).get_json()
        assert (real["created"], real["updated"], real["refused"]) == (*expected, 0), real
    items = api.get(people.archivist, f"/api/v1/dossiers/{ids[0]}/contacts").get_json()["items"]
    assert [(c["name"], c["primary"], c["decision_role"]) for c in items] == [("李经理", True, "purchasing")]

    records = [[CODES[0], "", "拜访", "2025-03-09T10:00", "+1 到访沟通续约", "谈及新的付款条件", "", ""],
               [CODES[0], "", "交易", "2025-03-10", "三月订单", "", "12000.50", "cny"],
               [CODES[0], "", "闲聊", "2025-03-11", "未知类型", "", "", ""],
               [CODES[0], "", "交易", "2025-03-12", "金额不对", "", "一万", "CNY"],
               [CODES[0], "", "拜访", "2999-01-01", "未来的拜访", "", "", ""]]
    first = sheet_import(api, people, "records", csv_bytes(records, RECORD_HEAD), dry_run=False).get_json()
    got = {x["row"]: (x["action"], x.get("field")) for x in first["rows"]}
    assert got == {2: ("create", None), 3: ("create", None), 4: ("refuse", "kind"), 5: ("refuse", "amount"),
                   6: ("refuse", "occurred_at")}, first
    again = sheet_import(api, people, "records", csv_bytes(records[:2], RECORD_HEAD), dry_run=False).get_json()
    assert (again["created"], again["updated"]) == (0, 2) and "never edited" in again["rows"][0]["reason"]
    listed = api.get(people.archivist, f"/api/v1/dossiers/{ids[0]}/records").get_json()["items"]
    assert sorted(r["summary"] for r in listed) == ["+1 到访沟通续约", "三月订单"]
    events = api.get(people.legal, "/api/v1/audit?action=records.imported").get_json()["items"]
    assert len(events) == 2

    # the export: the import's columns, masked for who may not read, formulas neutralised, and it imports back
    r = api.get(people.archivist, "/api/v1/exports/records?format=csv")
    assert r.status_code == 200 and r.headers["X-Rows"] == "2"
    assert "'+1 到访沟通续约" in r.get_data(as_text=True)
    back = post_file(api.client, "/api/v1/imports/records", api.headers(people.archivist), {"dry_run": "false"},
                     "records.csv", r.data).get_json()
    assert (back["created"], back["updated"], back["refused"]) == (0, 2, 0), back
    clerk = people.make("clerk", "employee")  # sees the dossiers, may not read their content
    masked = rows_of(api.get(clerk, "/api/v1/exports/contacts?format=xlsx&lang=en").data)
    assert masked and all(row["Contact"] is None and row["Phone"] is None for row in masked)
    assert {row["ID number"] for row in masked} >= {"110105********002X"}
    # the customer's ID number as the customer export gives it: in full to who may read it, the read audited
    full = rows_of(api.get(people.legal, "/api/v1/exports/contacts?format=xlsx&lang=en").data)
    assert {row["Contact"] for row in full} == {"李经理", "张三本人"}
    assert {row["ID number"] for row in full} >= {ID_A}
    reads = api.get(people.legal, f"/api/v1/audit?dossier_id={ids[1]}&action=card.read").get_json()["items"]
    assert reads and reads[-1]["details"]["fields"] == ["id_number"] and ID_A not in str(reads)
    r = sheet_import(api, people, "contacts", b"%PDF-1.7\n\x00", dry_run=False)
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "file"


def test_an_import_of_several_batches_is_audited_in_one_chain_and_idempotent(
        api: Api, people: People, vault: Any, monkeypatch: Any) -> None:
    from sqlalchemy import func, select

    from vault.models import Job, JobKind
    from vault.services import import_rows

    monkeypatch.setattr(import_rows, "BATCH_ROWS", 2)  # GOOD and three more customers: three batches
    rows = [*GOOD, *[[f"批次{i}公司", CODES[6 + i], "", "supplier", "C", "", "employee", "赵四", "", "", ""]
                     for i in range(3)]]
    first = do_import(api, people, xlsx_bytes(rows), dry_run=False, filename="batches.xlsx").get_json()
    assert (first["created"], first["updated"], first["refused"]) == (5, 0, 0), first
    created = api.get(people.legal, "/api/v1/audit?action=dossier.created").get_json()["items"]
    assert sorted(e["dossier_id"] for e in created) == sorted(x["dossier_id"] for x in first["rows"])
    assert api.get(people.legal, "/api/v1/audit/verify").get_json()["ok"] is True
    with vault.session() as s:
        jobs = s.scalar(select(func.count()).select_from(Job).where(Job.kind == JobKind.REINDEX_CUSTOMER))
    assert jobs == 3  # one search job per batch
    updated = api.get(people.legal, "/api/v1/audit?action=card.updated").get_json()["items"]
    assert len(updated) == 5 and ACCOUNT not in str(updated)  # the card's fields, a sensitive one as "changed"
    assert do_import(api, people, xlsx_bytes(rows), dry_run=False).get_json()["updated"] == 5  # changes nothing
    assert len(api.get(people.legal, "/api/v1/audit?action=card.updated").get_json()["items"]) == 5
    # met again, in one batch: a change, and a bad cell refused alone (its batch's other change stays)
    rows[2][7], rows[3][7], rows[3][8] = "钱五", "孙六", "一百万"
    again = do_import(api, people, xlsx_bytes(rows), dry_run=False, filename="batches.xlsx").get_json()
    assert [(x["action"], x.get("field")) for x in again["rows"]] == [("update", None)] * 3 + [
        ("refuse", "registered_capital"), ("update", None)], again
    assert [x.get("dossier_id") for x in again["rows"]] == [x["dossier_id"] for x in first["rows"][:3]] + [
        None, first["rows"][4]["dossier_id"]]
    for row, name in ((2, "钱五"), (3, "赵四")):
        card = api.get(people.archivist, f"/api/v1/dossiers/{first['rows'][row]['dossier_id']}/card").get_json()
        assert card["fields"]["legal_representative"] == name
    assert len(api.get(people.legal, "/api/v1/audit?action=dossier.created").get_json()["items"]) == 5
    assert len(api.get(people.legal, "/api/v1/audit?action=card.updated").get_json()["items"]) == 6
    assert api.get(people.legal, "/api/v1/audit/verify").get_json()["ok"] is True


def test_the_imports_search_job_names_the_created_customers_and_not_a_refused_rows_rolled_back_one(
        api: Api, people: People, vault: Vault) -> None:
    rows = [["甲公司", CODES[0], "", "client", "A", "", "employee", "", "", "", ""],
            ["金额公司", CODES[1], "", "client", "A", "", "employee", "", "一百万", "", ""]]  # refused once created
    body = do_import(api, people, csv_bytes(rows), dry_run=False).get_json()
    assert [x["action"] for x in body["rows"]] == ["create", "refuse"]
    with vault.session() as s:
        jobs = s.scalars(select(Job).where(Job.kind == JobKind.REINDEX_CUSTOMER)).all()
    assert [j.payload["dossier_ids"] for j in jobs] == [[body["rows"][0]["dossier_id"]]]
