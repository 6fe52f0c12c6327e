"""The transfer story in headless Chromium: the sender fills in the list on the page, the archivist ticks each
item as present or missing and registers the receipt; the dossier page then shows the new item numbers. Then
the papers of a customer not in the archive yet: the archivist fills the "New customer" section, a bad credit
code is refused in the page's language with nothing created, and the corrected form opens the dossier with the
transfer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.conftest import PASSWORD, Api, People
from tests.support.chromium import sign_in
from tests.support.serve import app_in_thread
from vault.core import Vault
from vault.models import Dossier
from vault.paper_models import Transfer


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
def test_a_transfer_is_listed_received_and_numbered_and_a_new_customers_papers_open_its_dossier_in_the_browser(
        browser: Any, served: str, api: Api, people: People, vault: Vault) -> None:
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

    # one server, one archivist session more: a new customer's papers (the form keeps what was typed)
    archivist = _signed_in(browser, served, people.archivist.username)
    try:
        archivist.goto("/transfers/new")
        archivist.click("#new-customer summary")  # 新客户
        archivist.fill("#customer_name", "滨江新材料有限公司")
        archivist.select_option("#customer_type", "supplier")
        archivist.fill("#credit_code", "91330106MA2H1Y0X1B")  # a wrong check character
        archivist.fill("input[name=title-0]", "合作协议原件")
        archivist.fill("input[name=pages-0]", "3")
        archivist.click("main button.primary[type=submit]")
        archivist.wait_for_selector("#credit_code[aria-invalid=true]")
        assert "统一社会信用代码无效" in archivist.inner_text("#new-customer")
        assert archivist.input_value("#customer_name") == "滨江新材料有限公司"
        with vault.session() as s:
            assert s.scalar(select(func.count()).select_from(Dossier)) == 1  # `d` only
            assert s.scalar(select(func.count()).select_from(Transfer)) == 1  # the first story's
        archivist.fill("#credit_code", "91330106MA2H1Y0X1W")
        archivist.click("main button.primary[type=submit]")
        archivist.wait_for_url(re.compile(r".*/transfers/\d+$"))
        main = archivist.inner_text("main")
        assert "滨江新材料有限公司" in main and "合作协议原件" in main and "已移交" in main
    finally:
        archivist.context.close()
    made = api.get(people.archivist, "/api/v1/dossiers", query_string={"q": "滨江新材料"}).get_json()["items"]
    assert [(x["customer_name"], x["credit_code"]) for x in made] == [("滨江新材料有限公司", "91330106MA2H1Y0X1W")]
    assert made[0]["archive_no"] in main
