"""The periodic report counts complaints (received, resolved, overdue, mean satisfaction) and the periodic
reviews done from the customer records and review rows themselves, within the reader's clearance, in the
JSON, the PDF and the XLSX."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from tests.conftest import Api, People
from tests.integration.test_customer_records import add
from vault.clock import FixedClock


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"token_ttl_hours": 24 * 365}  # the clock runs on by weeks


def _complaint(api: Api, user: Any, dossier_id: int, occurred: str, deadline: str) -> int:
    r = add(api, user, dossier_id, kind="complaint", occurred_at=occurred, summary="Grimbold投诉内容",
            details="不该出现在报表里", handler="handler", deadline=deadline)
    assert r.status_code == 201, r.get_json()
    return int(r.get_json()["id"])


def _resolve(api: Api, people: People, record_id: int, satisfaction: int) -> None:
    url = f"/api/v1/records/{record_id}/status"
    assert api.post(people.manager, url, json={"status": "handling"}).status_code == 200
    r = api.post(people.manager, url, json={"status": "resolved", "result": "已处理", "satisfaction": satisfaction})
    assert r.status_code == 200, r.get_json()


def test_the_month_report_counts_complaints_and_reviews_from_the_records_within_clearance(
        api: Api, people: People, clock: FixedClock) -> None:
    people.make("handler", "employee", "secret")
    people.employee  # noqa: B018 - the owner
    d = api.new_dossier(people.archivist, owner="employee", grade="A")
    other = api.new_dossier(people.archivist, owner="employee", grade="B")
    top = people.make("top_arch", "archivist", "secret")
    secret = api.new_dossier(top, owner="handler", secrecy="secret")
    on_time = _complaint(api, people.employee, d["id"], "2026-01-04T10:00", "2026-01-10")
    late = _complaint(api, people.employee, d["id"], "2026-01-04T11:00", "2026-01-06")
    still_open = _complaint(api, people.employee, other["id"], "2026-01-05T08:00", "2026-01-15")
    _complaint(api, top, secret["id"], "2026-01-05T08:30", "2026-01-07")
    clock.advance(days=3)  # 2026-01-08
    _resolve(api, people, on_time, 4)
    r = api.post(people.employee, f"/api/v1/dossiers/{d['id']}/reviews", json={"result": "confirmed", "reason": "年审"})
    assert r.status_code == 201, r.get_json()
    # a review date edited by hand is no review done
    assert api.patch(people.archivist, f"/api/v1/dossiers/{other['id']}",
                     json={"next_review_date": "2026-06-30"}).status_code == 200
    clock.advance(days=4)  # 2026-01-12: six days after its deadline
    _resolve(api, people, late, 2)
    clock.advance(days=30)  # February: January has ended

    rep = api.get(people.manager, "/api/v1/reports/periodic?period=2026-01&format=json").get_json()
    c = rep["complaints"]
    assert (c["received"], c["resolved"], c["satisfaction"], c["satisfaction_count"]) == (3, 2, 3.0, 2)
    assert [(o["record_id"], o["archive_no"]) for o in c["overdue"]] == [(late, d["archive_no"]),
                                                                         (still_open, other["archive_no"])]
    assert c["overdue"][0]["days_late"] == 6 and c["overdue"][1]["resolved_at"] is None
    assert [(x["archive_no"], x["result"], x["by"]) for x in rep["reviews"]["done"]] == [
        (d["archive_no"], "confirmed", "employee")]
    assert "Grimbold" not in str(rep) and "不该出现" not in str(rep), "no complaint's content in a report"
    high = api.get(people.make("top_mgr", "manager", "secret"),
                   "/api/v1/reports/periodic?period=2026-01&format=json").get_json()["complaints"]
    assert high["received"] == 4 and len(high["overdue"]) == 3
    assert secret["archive_no"] not in str(rep)

    pdf = api.get(people.manager, "/api/v1/reports/periodic?period=2026-01&format=pdf")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages).replace("\n", "")
    for expected in ("收到投诉", "逾期投诉 (2)", "已完成复审 (1)", "3.00 (n=2)", other["archive_no"]):
        assert expected in text, expected
    xlsx = api.client.get("/api/v1/reports/periodic?period=2026-01&format=xlsx",
                          headers={**api.headers(people.manager), "Accept-Language": "en"})
    wb = load_workbook(io.BytesIO(xlsx.data), read_only=True)
    summary = {row[0]: row[1] for row in wb.worksheets[0].iter_rows(min_row=2, values_only=True)}
    assert summary["Complaints received"] == 3 and summary["Complaints resolved"] == 2
    assert summary["Complaints overdue"] == 2 and summary["Mean satisfaction (1-5)"] == "3.00 (n=2)"
    assert summary["Reviews done"] == 1
