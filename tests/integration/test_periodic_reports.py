"""The periodic reports (统计报表): figures of a month with rows in every state, PDF with charts and XLSX
read back, the clearance matrix, the scheduled story (a worker tick generates, managers are notified,
earlier reports stay downloadable) and `dossier report --period`."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_string
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import update

from indexer.periodic import generate_periodic_reports
from tests.conftest import Api, People
from tests.support.ledger_scene import SECRET_NAME, Scene, shared_archive
from tests.support.smtp_sink import SmtpSink, smtp_sink
from tests.support.workflow_fixtures import run_cli
from vault.clock import FixedClock
from vault.core import Vault
from vault.models import User
from web.deps import runtime_of

Shared = tuple[Api, People, FixedClock, Scene]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    with shared_archive(tmp_path_factory.mktemp("reports") / "home") as built:
        yield built


def _report(api: Api, user: Any, period: str, fmt: str) -> Any:
    return api.get(user, f"/api/v1/reports/periodic?period={period}&format={fmt}")


def _pdf_text(data: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).replace("\n", "")


def test_the_month_report_counts_every_kind_of_row(shared: Shared) -> None:
    api, people, _clock, scene = shared
    r = _report(api, people.manager, "2026-01", "json")
    assert r.status_code == 200, r.get_json()
    rep = r.get_json()
    assert [c["customer_name"] for c in rep["new_customers"]][:1] == ["华为技术有限公司"]
    assert len(rep["new_customers"]) == 4
    assert [(c["archive_no"], c["new"]) for c in rep["lost_customers"]] == [(scene.zeta["archive_no"], "closed")]
    assert [(c["archive_no"], c["old"], c["new"]) for c in rep["grade_changes"]] == [
        (scene.huawei["archive_no"], "A", "B")]
    assert rep["completeness"] == {"dossiers": 4, "complete": 1, "rate": 0.25}  # huawei holds all three types
    assert rep["checkouts"] == {"total": 3, "by_department": {"employee": 2, "manager": 1},
                                "by_person": {"employee": 2, "manager": 1}}
    assert [o["checkout_id"] for o in rep["overdue_checkouts"]] == [scene.overdue]
    assert rep["overdue_checkouts"][0]["days_late"] == 23 and rep["overdue_checkouts"][0]["returned_at"] is None
    assert rep["documents"]["received"] == 9 and rep["documents"]["destroyed"] == 1
    assert rep["documents"]["destroyed_by_type"] == {"invoice": 1}
    assert [d["archive_no"] for d in rep["reviews"]["due"]] == [scene.alibaba["archive_no"]]
    assert rep["reviews"]["done"] == []  # a review date edited by hand is no review done (card_reviews)
    before = _report(api, people.manager, "2025-12", "json").get_json()
    assert before["new_customers"] == [] and before["checkouts"]["total"] == 0
    for fmt in ("pdf", "xlsx"):  # an empty month still gives its files, charts and all
        assert _report(api, people.manager, "2025-12", fmt).status_code == 200


def test_the_pdf_has_charts_and_every_list_and_the_xlsx_reads_back(shared: Shared) -> None:
    api, people, _clock, scene = shared
    r = _report(api, people.archivist, "2026-01", "pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.headers["Content-Disposition"] == 'attachment; filename="report-2026-01.pdf"'
    text = _pdf_text(r.data)
    for expected in ("统计报表 2026-01", "按人员借阅", "按部门（角色）借阅", "逾期借阅 (1)", "25.0% (1/4)",
                     scene.huawei["archive_no"], scene.zeta["archive_no"]):
        assert expected in text, expected
    drawn = b"".join(page.get_contents().get_data() for page in PdfReader(io.BytesIO(r.data)).pages)
    assert drawn.count(b".309804 .505882 .741176 rg") >= 3  # the charts' bars (#4f81bd) are drawn
    wb = load_workbook(io.BytesIO(_report(api, people.archivist, "2026-01", "xlsx").data), read_only=True)
    summary = {row[0]: row[1] for row in wb.worksheets[0].iter_rows(min_row=2, values_only=True)}
    assert summary["新增客户"] == 4 and summary["逾期借阅"] == 1 and summary["销毁文件"] == 1
    assert summary["档案完整率"] == "25.0% (1/4)"
    assert {ws.title for ws in wb.worksheets} >= {"新增客户", "流失客户（关闭）", "等级变动", "逾期借阅"}
    english = api.client.get("/api/v1/reports/periodic?period=2026-01&format=xlsx",
                             headers={**api.headers(people.archivist), "Accept-Language": "en"})
    en = load_workbook(io.BytesIO(english.data), read_only=True)
    assert en.worksheets[0]["A2"].value == "New customers"


def test_a_manager_below_secret_finds_no_secret_dossier_in_the_report_nor_in_its_totals(shared: Shared) -> None:
    api, people, _clock, scene = shared
    low = _report(api, people.manager, "2026-01", "json").get_json()
    high = _report(api, people.make("top_mgr", "manager", "secret"), "2026-01", "json").get_json()
    assert len(high["new_customers"]) == len(low["new_customers"]) + 1
    assert len(high["grade_changes"]) == 2 and high["checkouts"]["total"] == 4
    assert high["documents"]["destroyed"] == 2 and low["documents"]["destroyed"] == 1
    for fmt in ("pdf", "xlsx", "json"):
        data = _report(api, people.manager, "2026-01", fmt).data
        if fmt == "pdf":
            content = _pdf_text(data)
        elif fmt == "xlsx":
            wb = load_workbook(io.BytesIO(data), read_only=True)
            content = "".join(str(c) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for c in row)
        else:
            content = data.decode()
        assert SECRET_NAME not in content and scene.secret["archive_no"] not in content, fmt
        assert "top_legal" not in content  # the secret checkout's borrower is not counted by person either
    assert SECRET_NAME in _pdf_text(_report(api, people.make("top_mgr", "manager", "secret"), "2026-01", "pdf").data)


def test_only_managers_and_archivists_get_reports_and_bad_periods_say_what_to_send(shared: Shared) -> None:
    api, people, _clock, _scene = shared
    for user in (people.legal, people.employee, people.admin):
        assert _report(api, user, "2026-01", "pdf").status_code == 403
    for period, words in (("2026-13", "2026-Q3"), ("2026", "quarter"), ("2026-Q5", "2026-Q3"), ("", "2026-11"),
                          ("2027-Q1", "not begun")):
        r = _report(api, people.manager, period, "pdf")
        assert r.status_code == 422 and words in r.get_json()["error"]["message"], (period, r.get_json())
    r = _report(api, people.manager, "2026-01", "docx")
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "format"
    zh = api.client.get("/api/v1/reports/periodic?period=2026-13&format=pdf",
                        headers={**api.headers(people.manager), "Accept-Language": "zh-CN"})
    assert "季度" in zh.get_json()["error"]["message"]


def test_the_worker_generates_the_reports_of_ended_periods_notifies_managers_and_they_stay_downloadable(
        shared: Shared) -> None:
    api, people, clock, _scene = shared
    vault: Vault = runtime_of(api.client.application).vault
    first_pdf = _report(api, people.manager, "2026-01", "pdf").data
    clock.advance(days=12)  # 2026-02-01: January has ended (2025 ended before the archive's first event)
    assert clock.now() >= datetime(2026, 2, 1, tzinfo=UTC)
    generate_periodic_reports(vault)  # one worker tick
    generate_periodic_reports(vault)  # the next one generates nothing twice
    for manager in (people.manager, people.make("top_mgr", "manager", "secret")):
        notes = [n for n in api.get(manager, "/api/v1/notifications").get_json()["items"]
                 if n["kind"] == "periodic_report"]
        assert [n["subject"].split()[1] for n in notes] == ["2026-01"]
        assert "/api/v1/reports/periodic?period=2026-01" in next(n["body"] for n in notes if "2026-01" in n["subject"])
    assert not [n for n in api.get(people.archivist, "/api/v1/notifications").get_json()["items"]
                if n["kind"] == "periodic_report"]
    listed = api.get(people.archivist, "/api/v1/reports/periodic/generated").get_json()["items"]
    assert [x["period"] for x in listed] == ["2026-01"]
    clock.advance(days=60)  # April, the worker was down since: it catches up; January is still there
    generate_periodic_reports(vault)
    listed = api.get(people.manager, "/api/v1/reports/periodic/generated").get_json()["items"]
    assert [x["period"] for x in listed] == ["2026-Q1", "2026-03", "2026-02", "2026-01"]
    again = _report(api, people.manager, "2026-01", "pdf").data
    assert hashlib.sha256(again).hexdigest() == hashlib.sha256(first_pdf).hexdigest()
    events = api.get(people.legal, "/api/v1/audit?action=report.periodic.*").get_json()["items"]
    assert {e["action"] for e in events} == {"report.periodic.generated", "report.periodic.read"}


def test_dossier_report_period_prints_the_figures_and_writes_the_file(shared: Shared, tmp_path: Path) -> None:
    api, _people, _clock, scene = shared
    vault: Vault = runtime_of(api.client.application).vault
    out = tmp_path / "q1.xlsx"
    result = run_cli(vault, "report", "--period", "2026-Q1", "--format", "xlsx", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert "Periodic report 2026-Q1" in result.output and "新增客户: 5" in result.output  # the CLI sees all
    wb = load_workbook(out, read_only=True)
    names = [row[1] for row in wb["新增客户"].iter_rows(min_row=2, values_only=True)]
    assert SECRET_NAME in names and scene.huawei["customer_name"] in names
    bad = run_cli(vault, "report", "--period", "2026-14")
    assert bad.exit_code != 0 and "2026-Q3" in bad.output


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as s:
        yield s


@pytest.fixture
def settings_overrides(sink: SmtpSink) -> dict[str, Any]:
    return {"smtp_host": "127.0.0.1", "smtp_port": sink.port, "token_ttl_hours": 24 * 365 * 50}


def test_the_scheduled_report_is_mailed_to_managers_with_an_address(
        vault: Vault, api: Api, people: People, clock: FixedClock, sink: SmtpSink) -> None:
    manager = people.make("li.manager", "manager")
    with vault.session() as s:
        s.execute(update(User).where(User.id == manager.id).values(email="li.manager@example.test"))
    api.new_dossier(people.archivist, customer_name="上海明远贸易有限公司")
    clock.advance(days=27)  # 2026-02-01
    generate_periodic_reports(vault)
    assert len(sink.messages) == 1
    mail = message_from_string(sink.messages[0], policy=default)
    assert mail["To"] == "li.manager@example.test" and "2026-01" in str(mail["Subject"])
    body = mail.get_body().get_content()  # type: ignore[union-attr]
    assert "/api/v1/reports/periodic?period=2026-01" in body and "上海明远" not in body  # no names in mail
