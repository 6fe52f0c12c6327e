"""The transfer story in headless Chromium: the sender fills in the list on the page, the archivist ticks each
item as present or missing and registers the receipt; the dossier page then shows the new item numbers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from tests.conftest import PASSWORD, Api, People
from tests.support.chromium import sign_in
from tests.support.serve import app_in_thread


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"token_ttl_hours": 24 * 365 * 50}


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    with app_in_thread(app) as url:
        yield url


def _signed_in(browser: Any, served: str, username: str) -> Any:
    ctx = browser.new_context(locale="zh-CN", base_url=served)
    return sign_in(ctx, username, PASSWORD)


@pytest.mark.e2e
def test_a_transfer_is_listed_received_and_numbered_through_the_browser(
        browser: Any, served: str, api: Api, people: People) -> None:
    d = api.new_dossier(people.archivist, owner="employee")
    sender = _signed_in(browser, served, people.employee.username)
    try:
        sender.goto(f"/dossiers/{d['id']}")
        sender.click("#paper a.button")  # 移交纸质文件
        assert sender.input_value("#archive_no") == d["archive_no"]
        sender.fill("input[name=title-0]", "采购合同原件")
        sender.fill("input[name=pages-0]", "6")
        sender.fill("input[name=title-1]", "发票")
        sender.select_option("select[name=doc_type-1]", "invoice")
        sender.fill("input[name=pages-1]", "2")
        sender.click("main button.primary[type=submit]")
        sender.wait_for_url(re.compile(r".*/transfers/\d+$"))
        transfer_url = sender.url
        assert "已移交" in sender.inner_text("main")
    finally:
        sender.context.close()

    archivist = _signed_in(browser, served, people.archivist.username)
    try:
        archivist.goto(transfer_url)
        archivist.check("input[name=state-2][value=missing]")
        archivist.fill("#note-2", "未见原件")
        archivist.click("#receive-form button.primary")
        archivist.wait_for_selector(".receipt-no")
        main = archivist.inner_text("main")
        assert "已接收" in main and re.search(r"JS-\d{4}-000001", main)
        assert f"{d['archive_no']}-001" in main and "缺失" in main
        archivist.goto(f"/dossiers/{d['id']}")
        codes = archivist.locator("#documents td.item-code").all_inner_texts()
        assert codes == [f"{d['archive_no']}-001"]
    finally:
        archivist.context.close()
