"""The card's story in headless Chromium: the owner fills the card on its form, a colleague who is not the
owner sees it masked, and a review changes the grade with a reason that the history shows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from tests.conftest import PASSWORD, Api, People
from tests.support.chromium import sign_in
from tests.support.serve import app_in_thread

ACCOUNT = "6222020200000123"


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    """The test app on a local port (werkzeug in a thread), for the browser."""
    with app_in_thread(app) as url:
        yield url


def _signed_in(browser: Any, served: str, username: str, lang: str) -> Any:
    ctx = browser.new_context(locale="zh-CN" if lang == "zh" else "en-US", base_url=served)
    page = sign_in(ctx, username, PASSWORD)
    page.goto(f"/?lang={lang}")
    return ctx, page


@pytest.mark.e2e
def test_an_owner_fills_the_card_a_colleague_sees_it_masked_and_a_review_changes_the_grade(
        api: Api, people: People, served: str, browser: Any) -> None:
    people.make("emp2", "employee")
    d = api.new_dossier(people.archivist, customer_name="张三", customer_kind="individual",
                        id_number="11010519491231002X", owner="employee", grade="B")
    ctx, page = _signed_in(browser, served, "employee", "zh")
    try:
        page.goto(f"/dossiers/{d['id']}/card/edit")
        page.fill("#phone", "13800138000")
        page.fill("#bank_account", "6222 0202 0000 0123")
        page.fill("#address", "北京市朝阳区建国路88号")
        page.fill("#reason", "客户首次登记")
        page.click("main form button[type=submit]")
        page.wait_for_url(re.compile(rf".*/dossiers/{d['id']}#card$"))
        assert page.inner_text("[data-field=bank_account]") == ACCOUNT
        page.select_option("#rv-grade", "A")
        page.fill("#rv-reason", "年采购额上升")
        page.click("#review button[type=submit]")
        page.wait_for_url(re.compile(r".*#review$"))
        history = page.inner_text("#history")
        assert "年采购额上升" in history and "客户首次登记" in history and "已更改" in history
        assert ACCOUNT not in history
    finally:
        ctx.close()
    ctx, page = _signed_in(browser, served, "emp2", "en")
    try:
        page.goto(f"/dossiers/{d['id']}")
        assert page.inner_text("[data-field=bank_account]") == "6222 **** **** 0123"
        assert page.inner_text("[data-field=id_number]") == "110105********002X"
        assert page.inner_text("[data-field=phone]") == "138****8000"
        assert page.locator("a[href$='/card/edit']").count() == 0
        rows = page.locator("#history tbody tr").all_inner_texts()
        assert any("Grade" in r and "B" in r and "A" in r and "年采购额上升" in r for r in rows), rows
    finally:
        ctx.close()
