"""The dossier page's contacts and records, their forms, the complaint status form and "my follow-ups", as
each role in Chinese and English, over real rows in every complaint state; and the admin page's handover."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import Api, People
from tests.integration.test_pages import as_user, csrf_of
from vault.clock import FixedClock
from vault.core import Vault
from vault.models import Dossier, User

STATES = {"received": ("已受理", "received"), "handling": ("处理中", "handling"),
          "resolved": ("已解决", "resolved"), "closed": ("已结案", "closed"), "overdue": ("逾期", "overdue")}
SUMMARY = "Brammel季度拜访"
DETAILS = "Brammel细节不可外泄"


def _record(api: Api, user: Any, dossier_id: int, **body: Any) -> dict[str, Any]:
    r = api.post(user, f"/api/v1/dossiers/{dossier_id}/records", json={"occurred_at": "2026-01-02", **body})
    assert r.status_code == 201, r.get_json()
    return dict(r.get_json())


@pytest.fixture
def filled(api: Api, people: People, clock: FixedClock) -> dict[str, Any]:
    """A dossier owned by `employee` with a contact, a visit (and its correction), a transaction, a follow-up
    and one complaint in each state (overdue: received, deadline passed)."""
    owner = people.employee
    d = api.new_dossier(people.archivist, owner="employee")
    api.post(owner, f"/api/v1/dossiers/{d['id']}/contacts", json={"name": "Orsolya王", "phone": "13800138000",
                                                                 "decision_role": "finance", "primary": True})
    visit = _record(api, owner, d["id"], kind="visit", summary=SUMMARY, details=DETAILS)
    _record(api, owner, d["id"], kind="call", summary="电话", next_action="寄样品", next_action_due="2026-01-20")
    _record(api, owner, d["id"], kind="visit", summary=SUMMARY + "（更正）", corrects=visit["id"])
    _record(api, owner, d["id"], kind="transaction", summary="首单", amount="12000.50", currency="CNY", item="钢材")
    ids = {}
    for state in STATES:
        deadline = "2026-01-03" if state == "overdue" else "2026-02-01"
        c = _record(api, owner, d["id"], kind="complaint", summary=f"投诉-{state}", deadline=deadline)
        ids[state] = c["id"]
        for step, body in (("handling", {}), ("resolved", {"result": "已补发", "satisfaction": 4}), ("closed", {})):
            if list(STATES).index(state) < list(STATES).index(step) or state == "overdue":
                break
            r = api.post(owner, f"/api/v1/records/{c['id']}/status", json={"status": step, **body})
            assert r.status_code == 200, r.get_json()
    return {"dossier": d, "complaints": ids, "visit": visit}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_readers_see_every_complaint_state_and_others_only_that_records_exist(app: Flask, people: People,
                                                                              filled: dict[str, Any],
                                                                              lang: str) -> None:
    d = filled["dossier"]
    zh = lang == "zh"
    for user, reads in ((people.employee, True), (people.archivist, True), (people.manager, True),
                        (people.legal, True), (people.make("emp2", "employee"), False), (people.admin, False)):
        page = as_user(app, user).get(f"/dossiers/{d['id']}?lang={lang}")
        assert page.status_code == 200, (user.username, page.status_code)
        html = page.get_data(as_text=True)
        assert (SUMMARY in html) is reads and (DETAILS in html) is reads and ("Orsolya王" in html) is reads
        assert ("往来记录" if zh else "Records of contact") in html
        if reads:
            for state, (zh_label, en_label) in STATES.items():
                assert f'data-state="{state}"' in html
                assert f'class="badge complaint-{state}">{zh_label if zh else en_label}<' in html
            assert "12000.50 CNY" in html and ("年度交易合计" if zh else "Transactions per year") in html
            assert ("已被 #" if zh else "corrected by #") in html
        else:
            assert 'id="records-hidden"' in html and "投诉-received" not in html and "12000.50" not in html
            assert html.count('class="record kind-complaint"') == len(STATES)
        assert ('id="record-form"' in html) is (user.username in ("employee", "archivist"))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_owner_adds_a_contact_and_a_record_through_the_forms_and_bad_input_is_said_in_the_page_language(
        app: Flask, people: People, filled: dict[str, Any], lang: str) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    d = filled["dossier"]
    c = as_user(app, people.employee)
    url = f"/dossiers/{d['id']}?lang={lang}"
    token = csrf_of(c.get(url).get_data(as_text=True))
    assert c.post(f"/dossiers/{d['id']}/contacts", data={"name": "无令牌"}).status_code == 400
    r = c.post(f"/dossiers/{d['id']}/contacts", data={"csrf_token": token, "name": "Tavish李", "phone": "010-6552 8888",
                                                      "decision_role": "technical"})
    assert r.status_code == 302
    assert "Tavish李" in c.get(url).get_data(as_text=True)
    bad = c.post(f"/dossiers/{d['id']}/records?lang={lang}", data={
        "csrf_token": token, "kind": "transaction", "occurred_at": "2026-01-04T09:30", "summary": "二单",
        "amount": "一万", "currency": "CNY"})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert ("金额须为数字" if lang == "zh" else "amount must be a number") in text
    assert 'value="一万"' in text  # what was typed stays in the form
    ok = c.post(f"/dossiers/{d['id']}/records", data={
        "csrf_token": token, "kind": "call", "occurred_at": "2026-01-04T09:30", "summary": "Wexley电话回访",
        "details": "x", "amount": "ignored for a call"})
    assert ok.status_code == 302
    assert "Wexley电话回访" in c.get(url).get_data(as_text=True)


def test_the_complaint_status_form_moves_a_complaint_and_refuses_resolving_without_result(
        app: Flask, people: People, filled: dict[str, Any]) -> None:
    d, received = filled["dossier"], filled["complaints"]["received"]
    c = as_user(app, people.manager)
    token = csrf_of(c.get(f"/dossiers/{d['id']}").get_data(as_text=True))
    assert c.post(f"/records/{received}/status", data={"csrf_token": token, "status": "handling"}).status_code == 302
    r = c.post(f"/records/{received}/status", data={"csrf_token": token, "status": "resolved"})
    assert r.status_code == 422 and "解决投诉时处理结果为必填" in r.get_data(as_text=True)
    other = as_user(app, people.make("emp2", "employee"))
    html = other.get(f"/dossiers/{d['id']}").get_data(as_text=True)
    assert "status-form" not in html
    assert other.post(f"/records/{received}/status", data={"csrf_token": csrf_of(html), "status": "resolved",
                                                           "result": "x"}).status_code == 403


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_my_follow_ups_lists_the_due_step_and_the_overdue_complaint(app: Flask, people: People,
                                                                    filled: dict[str, Any], lang: str) -> None:
    c = as_user(app, people.employee)
    home = c.get(f"/?lang={lang}").get_data(as_text=True)
    assert 'href="/follow-ups' in home
    html = c.get(f"/follow-ups?lang={lang}").get_data(as_text=True)
    assert "寄样品" in html and "投诉-overdue" in html and "投诉-handling" in html and "投诉-closed" not in html
    assert ("我的待办回访" if lang == "zh" else "My follow-ups") in html
    assert html.count('class="follow-up overdue"') == 1
    nobody = as_user(app, people.make("emp2", "employee")).get(f"/follow-ups?lang={lang}").get_data(as_text=True)
    assert ("您没有待办事项" if lang == "zh" else "Nothing is due from you") in nobody


def test_deactivating_on_the_admin_page_hands_customers_checkouts_and_follow_ups_over(
        app: Flask, people: People, filled: dict[str, Any], vault: Vault) -> None:
    successor = people.make("successor", "employee")
    c = as_user(app, people.admin)
    token = csrf_of(c.get("/admin/users").get_data(as_text=True))
    r = c.post("/admin/users/employee/deactivate", data={"csrf_token": token}, follow_redirects=True)
    assert "请选择交接人" in r.get_data(as_text=True)
    with vault.session() as s:
        assert s.scalar(select(User.active).where(User.username == "employee")) is True
    r = c.post("/admin/users/employee/deactivate", data={"csrf_token": token, "handover_to": "successor"},
               follow_redirects=True)
    assert "已交接给 successor" in r.get_data(as_text=True)
    with vault.session() as s:
        assert s.scalar(select(User.active).where(User.username == "employee")) is False
        assert s.get(Dossier, filled["dossier"]["id"]).owner_id == successor.id  # type: ignore[union-attr]
    items = as_user(app, successor).get("/follow-ups").get_data(as_text=True)
    assert "寄样品" in items and "投诉-overdue" in items
