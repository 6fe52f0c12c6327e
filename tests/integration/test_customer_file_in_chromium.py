"""In headless Chromium: the owner adds a contact and a visit through the dossier page's forms, records a complaint
and moves it on with the status form; on a 390-pixel phone the contacts and records sections do not scroll
sideways; read in English the page shows the same contact and records; once the complaint's deadline has passed
unresolved, a manager downloads January's report in English and finds it among the overdue complaints."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from flask import Flask

from tests.conftest import PASSWORD, Api, People
from tests.support.chromium import sign_in
from tests.support.serve import app_in_thread
from vault.clock import FixedClock


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    with app_in_thread(app) as url:
        yield url


def test_the_owner_adds_a_contact_a_visit_and_a_complaint_and_moves_it_on_in_the_browser(
        api: Api, people: People, served: str, browser: Any, clock: FixedClock,
        tmp_path: Path) -> None:
    d = api.new_dossier(people.archivist, owner="employee")
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 800}, base_url=served)
    try:
        page = sign_in(ctx, "employee", PASSWORD)
        page.goto(f"/dossiers/{d['id']}")
        page.click("#contacts summary")
        page.fill("#c-name", "Quenby赵")
        page.fill("#c-position", "质量部经理")
        page.fill("#c-phone", "021-5555 0101")
        page.click("#contact-form button[type=submit]")
        page.wait_for_url(re.compile(r".*#contacts$"))
        assert page.locator("#contacts tr.contact").inner_text().count("Quenby赵") == 1
        page.click("#records summary")
        page.select_option("#r-kind", "visit")
        page.fill("#r-when", "2026-01-02T10:00")
        page.fill("#r-summary", "Orsolya上门拜访，商谈年度框架合同")
        page.click("#record-form button[type=submit]")
        page.wait_for_url(re.compile(r".*#records$"))
        assert "Orsolya上门拜访" in page.locator("tr.record.kind-visit").inner_text()
        page.click("#records summary")
        page.select_option("#r-kind", "complaint")
        page.fill("#r-when", "2026-01-04T15:30")
        page.fill("#r-summary", "Halvard批次包装破损")
        page.fill("#r-details", "客户要求三日内补发")
        page.fill("#r-deadline", "2026-01-09")
        page.click("#record-form button[type=submit]")
        page.wait_for_url(re.compile(r".*#records$"))
        row = page.locator("tr.record.kind-complaint")
        assert "Halvard批次包装破损" in row.inner_text() and "已受理" in row.inner_text()
        row.locator("form.status-form button").click()
        page.wait_for_url(re.compile(r".*#records$"))
        assert "处理中" in page.locator("tr.record.kind-complaint").inner_text()
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= 390, f"the dossier page is {wide}px wide on a 390px phone"
        page.goto(f"/dossiers/{d['id']}?lang=en")  # the same file in English, in the same signed-in browser
        assert "Quenby赵" in page.locator("#contacts tr.contact").inner_text()
        assert "visit" in page.locator("tr.record.kind-visit").inner_text().lower()
        assert "handling" in page.locator("tr.record.kind-complaint").inner_text().lower()
    finally:
        ctx.close()
    people.make("manager", "manager")
    clock.advance(days=30)  # the deadline (9 January) passes with the complaint still being handled
    ctx = browser.new_context(locale="en-US", base_url=served, accept_downloads=True)
    try:
        page = sign_in(ctx, "manager", PASSWORD)
        page.goto("/reports?lang=en")
        with page.expect_download() as download:
            page.click("a[href*='period=2026-01'][href*='format=xlsx']")
        download.value.save_as(tmp_path / "report.xlsx")
        book = openpyxl.load_workbook(tmp_path / "report.xlsx", read_only=True)
        cells = [str(c) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for c in row if c]
        assert "Complaints overdue" in cells and d["archive_no"] in cells, "January's report lists the complaint"
        assert "Halvard批次包装破损" not in cells  # the report names the complaint, never what it says
    finally:
        ctx.close()
