"""The receipt register (接收登记) as a ledger: received transfers only, within the reader's clearance."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import load_workbook

from tests.conftest import Api, People


def _send_and_receive(api: Api, sender: Any, archivist: Any, dossier_id: int, states: list[str]) -> dict[str, Any]:
    items = [{"title": f"合同附件{i}", "doc_type": "contract", "pages": 3 + i, "doc_date": "2026-01-05"}
             for i in range(len(states))]
    t = api.post(sender, "/api/v1/transfers", json={"dossier_id": dossier_id, "items": items}).get_json()
    r = api.post(archivist, f"/api/v1/transfers/{t['id']}/receive", json={"items": [
        {"index": i + 1, "state": st, **({"note": "页数不符"} if st == "differs" else {})}
        for i, st in enumerate(states)]})
    assert r.status_code == 200, r.get_json()
    return dict(r.get_json())


def _csv_rows(api: Api, user: Any) -> list[list[str]]:
    r = api.get(user, "/api/v1/ledgers/receipts?format=csv")
    assert r.status_code == 200, r.get_json()
    return list(csv.reader(io.StringIO(r.data.decode("utf-8").lstrip("\ufeff"))))


def test_received_transfers_are_listed_with_their_counts_and_a_secret_one_only_to_the_cleared(
        api: Api, people: People) -> None:
    top = people.make("top_archivist", "archivist", "secret")
    top_sender = people.make("top_employee", "employee", "secret")
    plain = api.new_dossier(people.archivist, customer_name="华东机械制造有限公司", owner="employee")
    secret = api.new_dossier(top, customer_name="绝密矿业集团", secrecy="secret")
    received = _send_and_receive(api, people.employee, people.archivist, plain["id"], ["present", "differs", "missing"])
    _send_and_receive(api, top_sender, top, secret["id"], ["present"])
    # a transfer still on its way is not in the register
    api.post(people.employee, "/api/v1/transfers", json={"dossier_id": plain["id"], "items": [
        {"title": "未接收的函件", "doc_type": "correspondence", "pages": 1}]})

    rows = _csv_rows(api, people.manager)  # cleared to confidential
    head, body = rows[0], rows[1:]
    assert head[:4] == ["接收编号", "接收时间", "档案号", "客户名称"]
    assert [r[2] for r in body] == [plain["archive_no"]]
    row = dict(zip(head, body[0], strict=True))
    assert row["接收编号"] == received["receipt_no"]
    assert (row["移交人"], row["件数"], row["相符"], row["不符"], row["缺失"], row["页数"]) == (
        "employee", "3", "1", "1", "1", str(3 + 4))
    assert "绝密矿业集团" not in api.get(people.manager, "/api/v1/ledgers/receipts?format=csv").data.decode()

    cleared = people.make("top_manager", "manager", "secret")
    names = sorted(r[3] for r in _csv_rows(api, cleared)[1:])
    assert names == sorted(["华东机械制造有限公司", "绝密矿业集团"])
    sheet = load_workbook(io.BytesIO(api.get(cleared, "/api/v1/ledgers/receipts?format=xlsx").data), read_only=True)
    assert len(list(sheet.worksheets[0].iter_rows(values_only=True))) == 3


def test_employees_get_no_receipt_register(api: Api, people: People) -> None:
    assert api.get(people.employee, "/api/v1/ledgers/receipts?format=csv").status_code == 403
