"""The ledgers and periodic reports pages, as each role and in both languages, over an archive with rows
in every state: the menu entries, the filters and their messages, the downloads and what they hold."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook

from tests.conftest import Api, People
from tests.integration.test_pages import sign_in
from tests.support.ledger_scene import SECRET_NAME, Scene, shared_archive
from vault.clock import FixedClock
from vault.models import User

Shared = tuple[Api, People, FixedClock, Scene]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    with shared_archive(tmp_path_factory.mktemp("pages-registers") / "home") as built:
        yield built


def _browser(api: Api, user: User, lang: str) -> FlaskClient:
    client = api.client.application.test_client()
    r = sign_in(client, user.username)
    assert r.status_code == 302
    client.get(f"/?lang={lang}")
    return client


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_ledgers_page_offers_each_ledger_the_role_may_download(shared: Shared, lang: str) -> None:
    api, people, _clock, scene = shared
    words = {"zh": ("台帐", "客户一览表（档案总目录）", "审计摘录"),
             "en": ("Ledgers", "Customer ledger", "Audit extract")}
    for user, audit_too in ((people.manager, True), (people.legal, True), (people.archivist, False)):
        c = _browser(api, user, lang)
        home = c.get("/").get_data(as_text=True)
        assert 'href="/ledgers"' in home
        assert ('href="/reports"' in home) is (user is not people.legal)
        page = c.get("/ledgers")
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert all(w in text for w in words[lang][:2]) and (words[lang][2] in text) is audit_too
        assert "/ledgers/customers/download?format=xlsx" in text
        got = c.get("/ledgers/customers/download?format=csv&industry=通信")
        assert got.status_code == 200 and got.mimetype == "text/csv"
        rows = list(csv.reader(io.StringIO(got.data.decode("utf-8-sig"))))
        assert [r[2] for r in rows[1:]] == ["华为技术有限公司"]
        assert (rows[0][2] == "客户名称") is (lang == "zh")
    for user in (people.employee, people.admin):
        c = _browser(api, user, lang)
        assert 'href="/ledgers"' not in c.get("/").get_data(as_text=True)
        assert c.get("/ledgers").status_code == 403 and c.get("/reports").status_code == 403
        assert c.get("/ledgers/customers/download?format=csv").status_code == 403


def test_bad_filters_are_explained_on_the_page_in_the_readers_language(shared: Shared) -> None:
    api, people, _clock, _scene = shared
    zh = _browser(api, people.manager, "zh")
    page = zh.get("/ledgers?period=2026-13").get_data(as_text=True)
    assert "须为月份（如 2026-11）" in page and 'aria-invalid="true"' in page and "/download" not in page
    en = _browser(api, people.manager, "en")
    assert "must be a month like 2026-11" in en.get("/ledgers?period=2026-13").get_data(as_text=True)
    back = en.get("/ledgers/customers/download?format=docx&region=杭州", follow_redirects=True)
    assert back.status_code == 200 and "format must be one of: csv, xlsx, pdf" in back.get_data(as_text=True)
    assert zh.get("/ledgers/no-such-ledger/download?format=csv").status_code == 404


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_reports_page_lists_periods_and_downloads_them(shared: Shared, lang: str) -> None:
    api, people, _clock, scene = shared
    c = _browser(api, people.archivist, lang)
    page = c.get("/reports")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    expected = ("统计报表", "季报") if lang == "zh" else ("Periodic reports", "Quarterly")
    assert all(word in text for word in expected)
    for name in ("2026-01", "2025-12", "2026-Q1", "2025-Q4"):
        assert f"period={name}&amp;format=pdf" in text, name
    pdf = c.get("/reports/download?period=2026-01&format=pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    xlsx = c.get("/reports/download?period=2026-01&format=xlsx")
    wb = load_workbook(io.BytesIO(xlsx.data), read_only=True)
    values = [c for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for c in row]
    assert scene.huawei["customer_name"] in values and SECRET_NAME not in values
    bad = c.get("/reports/download?period=2031-01&format=pdf", follow_redirects=True)
    assert ("尚未开始" if lang == "zh" else "has not begun") in bad.get_data(as_text=True)
