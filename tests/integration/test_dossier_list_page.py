"""The dossiers page's filters and sort links, with real rows in every stage and grade, as each role, in
Chinese and English: the controls are there and labelled, a filter narrows the table, a sort link orders it
in pinyin order, a bad value is a 422 page message in the reader's language, nothing above clearance shows."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from tests.conftest import Api, People
from tests.integration.test_pages import as_user

STAGES = ("prospect", "target", "potential", "inactive", "customer", "lost")
NAMES = ("重庆丁公司", "Apple Trading", "北京甲公司", "上海乙公司", "张三商行", "安徽戊公司")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"token_ttl_hours": 24 * 365 * 50}


@pytest.fixture
def rows(api: Api, people: People) -> None:
    people.manager  # noqa: B018 - every role exists
    people.legal  # noqa: B018
    for n, (name, stage) in enumerate(zip(NAMES, STAGES, strict=True)):
        d = api.new_dossier(people.archivist, customer_name=name, grade="ABCD"[n % 4], owner="employee",
                            region="北京" if n % 2 else "上海")
        r = api.patch(people.archivist, f"/api/v1/dossiers/{d['id']}/card",
                      json={"fields": {"stage": stage}, "reason": "登记"})
        assert r.status_code == 200, r.get_json()
    api.new_dossier(people.make("arch_secret", "archivist", "secret"), customer_name="绝密客户", secrecy="secret",
                    owner="arch_secret")


def _customers(html: str) -> list[str]:
    return re.findall(r'data-label="(?:Customer|客户)">([^<]*)</td>', html)


@pytest.mark.parametrize("role", ["archivist", "employee", "legal", "manager"])
@pytest.mark.parametrize(("lang", "words"), [("zh", ("客户阶段", "复核到期", "名称（拼音）", "资料不全")),
                                             ("en", ("Stage", "Review due", "Name (pinyin)", "Incomplete"))])
def test_every_role_filters_by_stage_and_sorts_by_pinyin_name_in_both_languages(
        app: Flask, people: People, rows: None, role: str, lang: str, words: tuple[str, ...]) -> None:
    c = as_user(app, getattr(people, role))
    html = c.get(f"/dossiers?lang={lang}").get_data(as_text=True)
    for word in words:
        assert word in html
    assert "绝密客户" not in html
    for stage, name in zip(STAGES, NAMES, strict=True):
        r = c.get(f"/dossiers?stage={stage}&lang={lang}")
        assert r.status_code == 200 and _customers(r.get_data(as_text=True)) == [name]
    ordered = _customers(c.get(f"/dossiers?sort=name&lang={lang}").get_data(as_text=True))
    assert ordered == ["安徽戊公司", "Apple Trading", "北京甲公司", "重庆丁公司", "上海乙公司", "张三商行"]
    html = c.get(f"/dossiers?grade=A&region=上海&sort=-name&lang={lang}").get_data(as_text=True)
    assert _customers(html) == ["张三商行", "重庆丁公司"]
    assert 'data-sort="name"' in html and "sort=name" in html and "region=" in html


@pytest.mark.parametrize(("lang", "text"), [("zh", "排序"), ("en", "sort must be one of")])
def test_a_bad_sort_or_stage_on_the_page_is_a_422_saying_what_is_allowed(app: Flask, people: People, rows: None,
                                                                        lang: str, text: str) -> None:
    c = as_user(app, people.employee)
    for query in ("sort=colour", "stage=vip"):
        r = c.get(f"/dossiers?{query}&lang={lang}")
        assert r.status_code == 422
        html = r.get_data(as_text=True)
        allowed = "prospect, target" if "stage" in query else "name, -name, archive_no, -archive_no, updated, -updated"
        assert allowed in html and (text in html if "sort" in query else True)
        if lang == "zh":
            assert "以下之一" in html


def test_a_secret_archivist_sees_the_secret_row_under_the_same_filters(app: Flask, people: People,
                                                                       rows: None) -> None:
    c = as_user(app, people.make("arch_secret", "archivist", "secret"))
    assert "绝密客户" in _customers(c.get("/dossiers?stage=prospect&sort=name").get_data(as_text=True))
    low = as_user(app, people.employee)
    assert "绝密客户" not in low.get("/dossiers?stage=prospect&sort=name").get_data(as_text=True)
