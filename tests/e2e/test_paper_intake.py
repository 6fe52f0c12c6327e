"""Scanning intake and a stock-take in a real browser: a scanned stack sent from the intake page, its result,
an unfiled part filed by hand, then the cabinet's stock-take by scanned code and by tick, in Chinese."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import PASSWORD
from tests.support.paper_stack import content, separator, stack_pdf
from vault import paper_codes

pytestmark = pytest.mark.e2e


@pytest.fixture
def archivist(browser: Any, server: str) -> Iterator[Any]:
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}, base_url=server)
    page = ctx.new_page()
    page.set_default_timeout(20000)
    page.goto("/login")
    page.fill("#username", "archivist")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))
    yield page
    ctx.close()


def _new_dossier(page: Any, name: str, location: str) -> dict[str, Any]:
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")  # the page's own scripts do so
    r = page.request.post("/api/v1/dossiers", headers={"X-CSRFToken": csrf},
                          data={"customer_name": name, "customer_type": "client", "owner": "archivist",
                                "location": location})
    assert r.status == 201, r.text()
    return dict(r.json())


def test_a_scanned_stack_is_filed_from_the_page_and_the_cabinet_is_checked(archivist: Any, tmp_path: Path,
                                                                           shots: Any) -> None:
    d1 = _new_dossier(archivist, "纸质一号客户", "A室/5柜/01")
    d2 = _new_dossier(archivist, "纸质二号客户", "A室/5柜/02")
    stack = tmp_path / "扫描批次.pdf"
    stack.write_bytes(stack_pdf([separator(d1["archive_no"], "contract"), content("contract p1"),
                                 content("contract p2"), separator(d2["archive_no"]), content("letter"),
                                 separator("KH-2099-000777"), content("stray page")]))

    archivist.click("nav a[href='/intake']")
    archivist.set_input_files("#intake-file", str(stack))
    archivist.click("#intake-start")
    archivist.wait_for_url(re.compile(r".*/intake/\d+$"))
    archivist.wait_for_selector("#stack-status[data-status=done]")
    filed = archivist.locator("#filed tbody tr")
    assert filed.count() == 2
    assert d1["archive_no"] in filed.nth(0).inner_text() and "2–3" in filed.nth(0).inner_text()
    assert d2["archive_no"] in filed.nth(1).inner_text()
    assert "二维码所指的档案不存在" in archivist.locator("#unfiled").inner_text()
    shots(archivist, "20_intake_result")

    archivist.goto("/intake")
    row = archivist.locator("#unfiled tbody tr").first
    row.locator("input[name=archive_no]").fill(d2["archive_no"])
    row.locator("select[name=doc_type]").select_option("correspondence")
    row.locator("button[type=submit]").first.click()
    archivist.wait_for_selector(".flash-success")
    assert f"已归入 {d2['archive_no']}" in archivist.locator(".flash-success").inner_text()

    archivist.click("nav a[href='/stocktakes']")
    archivist.fill("#st-scope", "A室/5柜")
    archivist.click("form button.primary")
    archivist.wait_for_url(re.compile(r".*/stocktakes/\d+.*"))
    archivist.fill("#st-code", paper_codes.encode(d1["archive_no"]))
    archivist.press("#st-code", "Enter")  # as a hand scanner ends its code
    archivist.wait_for_selector(".flash-success")
    archivist.fill("#st-code", "DVA1:KH-2099-000777")
    archivist.press("#st-code", "Enter")
    archivist.wait_for_selector(".flash-error")
    assert "KH-2099-000777" in archivist.locator(".flash-error").inner_text()
    assert archivist.locator("[data-count=present]").inner_text() == "1"
    assert d2["archive_no"] in archivist.locator("#list-missing").inner_text()
    archivist.locator("#list-missing button[type=submit]").first.click()
    archivist.wait_for_selector(".flash-success")
    assert archivist.locator("[data-count=present]").inner_text() == "2"
    archivist.click("button:has-text('结束盘点')")
    archivist.wait_for_selector("#stocktake-status[data-status=closed]")
    shots(archivist, "21_stocktake_closed")
