"""The customer card on the pages, through the Flask test client as each role, in Chinese and English:
the card section masked as the reader may see, the edit form with its reason (CSRF), the history, the
review form and the review queue, a change of owner approved on the page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from tests.conftest import Api, People
from tests.integration.test_pages import as_user, csrf_of, post_form
from vault.clock import FixedClock

ID_A = "11010519491231002X"
ACCOUNT = "6222020200000123"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"token_ttl_hours": 24 * 365 * 50}


@pytest.fixture
def customer(api: Api, people: People) -> dict[str, Any]:
    people.manager  # noqa: B018 - every role exists
    d = api.new_dossier(people.archivist, customer_name="张三", customer_kind="individual", id_number=ID_A,
                        owner="employee", grade="A")
    r = api.patch(people.employee, f"/api/v1/dossiers/{d['id']}/card",
                  json={"fields": {"bank_account": ACCOUNT, "phone": "13800138000", "stage": "customer"},
                        "reason": "首次登记"})
    assert r.status_code == 200, r.get_json()
    return d


def _card_text(html: str) -> str:
    found = re.search(r'<section class="card" id="card">(.*?)</section>', html, re.S)
    assert found, "no card section on the dossier page"
    return found.group(1)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_each_role_sees_the_card_masked_or_in_full_as_it_may_read(app: Flask, people: People,
                                                                  customer: dict[str, Any], lang: str) -> None:
    other = people.make("emp2", "employee")
    expect = {"employee": True, "archivist": True, "manager": True, "legal": True, "emp2": False}
    for username, full in expect.items():
        user = other if username == "emp2" else getattr(people, username)
        c = as_user(app, user)
        r = c.get(f"/dossiers/{customer['id']}?lang={lang}")
        assert r.status_code == 200, (username, r.status_code)
        card = _card_text(r.get_data(as_text=True))
        assert (ACCOUNT in card) is full and ("6222 **** **** 0123" in card) is not full, username
        assert (ID_A in card) is full and ("110105********002X" in card) is not full, username
        assert ("客户资料卡" if lang == "zh" else "Customer card") in card
        history = r.get_data(as_text=True).split('id="history"')[1]
        assert "首次登记" in history and ACCOUNT not in history
        assert ("已更改" if lang == "zh" else "changed") in history


def test_the_owner_edits_the_card_on_its_form_with_a_reason(app: Flask, api: Api, people: People,
                                                            customer: dict[str, Any]) -> None:
    c = as_user(app, people.employee)
    url = f"/dossiers/{customer['id']}/card/edit"
    page = c.get(url + "?lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert ACCOUNT not in html and 'name="reason"' in html
    token = csrf_of(html)
    r = c.post(url, data={"csrf_token": token, "address": "上海市浦东新区", "stage": "customer", "reason": ""})
    assert r.status_code == 422 and "reason" in r.get_data(as_text=True).lower()
    r = c.post(url, data={"csrf_token": token, "address": "上海市浦东新区", "stage": "lost", "reason": "客户搬迁"})
    assert r.status_code == 302
    items = api.get(people.employee, f"/api/v1/dossiers/{customer['id']}/history").get_json()["items"]
    assert [(h["field"], h["new"], h["reason"]) for h in items[-2:]] == [("stage", "lost", "客户搬迁"),
                                                                         ("address", "changed", "客户搬迁")]
    assert c.post(url, data={"address": "x", "reason": "y"}).status_code in (302, 400)  # no CSRF token
    assert [h["field"] for h in api.get(people.employee, f"/api/v1/dossiers/{customer['id']}/history"
                                        ).get_json()["items"]].count("address") == 1


def test_an_employee_who_is_not_the_owner_gets_no_edit_form(app: Flask, people: People,
                                                             customer: dict[str, Any]) -> None:
    c = as_user(app, people.make("emp2", "employee"))
    assert "card/edit" not in c.get(f"/dossiers/{customer['id']}").get_data(as_text=True)
    assert c.get(f"/dossiers/{customer['id']}/card/edit").status_code == 403


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_review_queue_and_a_review_recorded_on_the_page(app: Flask, api: Api, people: People, clock: FixedClock,
                                                           customer: dict[str, Any], lang: str) -> None:
    clock.advance(days=95)
    for user in (people.employee, people.archivist, people.manager):
        r = as_user(app, user).get(f"/reviews?lang={lang}")
        assert r.status_code == 200 and customer["archive_no"] in r.get_data(as_text=True), user.username
        assert ("逾期" if lang == "zh" else "overdue") in r.get_data(as_text=True)
    assert customer["archive_no"] not in as_user(app, people.make("emp2", "employee")).get("/reviews").get_data(
        as_text=True)
    c = as_user(app, people.employee)
    r = post_form(c, f"/dossiers/{customer['id']}/review", {"result": "confirmed", "grade": "B",
                                                           "stage": "customer", "reason": "年度审查"})
    assert r.status_code == 302
    page = c.get(f"/dossiers/{customer['id']}?lang={lang}").get_data(as_text=True)
    assert "年度审查" in page.split('id="history"')[1]
    assert customer["archive_no"] not in c.get("/reviews?within_days=0").get_data(as_text=True)


def test_a_manager_approves_a_change_of_owner_on_the_review_page(app: Flask, api: Api, people: People,
                                                                customer: dict[str, Any]) -> None:
    people.make("emp2", "employee")
    c = as_user(app, people.employee)
    r = post_form(c, f"/dossiers/{customer['id']}/owner-change", {"owner": "emp2", "reason": "调岗"})
    assert r.status_code == 302
    m = as_user(app, people.manager)
    queue = m.get("/reviews?lang=en").get_data(as_text=True)
    assert "调岗" in queue and "employee → emp2" in queue
    change_id = re.search(r"/owner-changes/(\d+)/approve", queue)
    assert change_id
    assert post_form(m, f"/owner-changes/{change_id.group(1)}/approve").status_code == 302
    assert api.get(people.manager, f"/api/v1/dossiers/{customer['id']}").get_json()["owner"] == "emp2"
