"""Transfer pages with rows in every state (sent, sent back, checked, received, overdue), as each role and in
both languages; the paper-side links on the dossier page; the forms' bad input answered in the reader's
language with nothing written."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.conftest import Api, People
from tests.integration.test_pages import as_user, post_form
from vault.core import Vault
from vault.models import AuditEvent, Dossier
from vault.paper_models import CalendarDay, Transfer

ITEM = {"title": "采购合同原件", "doc_type": "contract", "pages": 5}

LABELS = {"zh": {"sent": "已移交", "returned": "已退回", "checked": "已核对", "received": "已接收", "overdue": "逾期"},
          "en": {"sent": "sent", "returned": "sent back", "checked": "checked", "received": "received",
                 "overdue": "overdue"}}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"token_ttl_hours": 24 * 365 * 50}


@pytest.fixture
def states(api: Api, people: People, vault: Vault) -> dict[str, Any]:
    """One transfer in each state, all sent by the employee for a dossier it owns."""
    people.make("colleague", "employee")
    d = api.new_dossier(people.archivist, owner="employee")

    def send(**extra: Any) -> int:
        r = api.post(people.employee, "/api/v1/transfers", json={"dossier_id": d["id"], "items": [ITEM], **extra})
        assert r.status_code == 201, r.get_json()
        return int(r.get_json()["id"])

    ids = {"sent": send(), "returned": send(), "checked": send(), "received": send(),
           "overdue": send(business_date=(vault.clock.now().date() - timedelta(days=30)).isoformat())}
    colleague = people.make("colleague", "employee")
    assert api.post(colleague, f"/api/v1/transfers/{ids['returned']}/check",
                    json={"ok": False, "missing": "缺发票"}).status_code == 200
    assert api.post(colleague, f"/api/v1/transfers/{ids['checked']}/check", json={"ok": True}).status_code == 200
    assert api.post(people.archivist, f"/api/v1/transfers/{ids['received']}/receive",
                    json={"items": [{"index": 1, "state": "differs", "note": "少一页"}]}).status_code == 200
    return {"dossier": d, "ids": ids}


def _in(c: FlaskClient, lang: str) -> FlaskClient:
    assert c.get(f"/?lang={lang}").status_code == 200
    return c


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("role", ["archivist", "employee", "manager", "legal", "colleague", "admin"])
def test_each_role_sees_transfers_in_every_state_in_its_language(
        app: Flask, people: People, states: dict[str, Any], role: str, lang: str) -> None:
    user = people.make("colleague", "employee") if role == "colleague" else getattr(people, role)
    c = _in(as_user(app, user), lang)
    listing = c.get("/transfers")
    body = listing.get_data(as_text=True)
    assert listing.status_code == 200
    # the sender and those who see all transfers list all five; a colleague lists the ones it checked; an
    # administrator, who has nothing to do with paper, none (it still opens one by its number, as a dossier)
    expected = {"colleague": {"returned", "checked"}, "admin": set()}.get(
        role, {"sent", "returned", "checked", "received", "overdue"})
    for state, tid in states["ids"].items():
        assert (f'id="transfer-{tid}"' in body) == (state in expected), (state, body[:300])
        if state in expected:
            assert LABELS[lang][state] in body
    for state, tid in states["ids"].items():
        page = c.get(f"/transfers/{tid}")
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert LABELS[lang][state] in text
        assert ('id="check"' in text) == (state in ("sent", "overdue") and role not in ("employee", "admin"))
        assert ('id="receive-form"' in text) == (role == "archivist" and state in ("sent", "checked", "overdue"))
        assert ('id="resend"' in text) == (role == "employee" and state == "returned")
        assert ('id="confirm"' in text) == (role == "employee" and state == "received")


@pytest.mark.parametrize("lang, words, customer_words", [
    ("zh", "页数", "统一社会信用代码无效"),
    ("en", "pages must be a whole number", "Invalid unified social credit code")])
def test_a_transfer_form_with_negative_pages_is_refused_in_the_readers_language_and_nothing_is_written(
        app: Flask, people: People, api: Api, vault: Vault, lang: str, words: str,
        customer_words: str) -> None:
    d = api.new_dossier(people.archivist)
    c = _in(as_user(app, people.employee), lang)
    form = c.get(f"/transfers/new?dossier_id={d['id']}").get_data(as_text=True)
    assert d["archive_no"] in form and "form-error" not in form  # no error shown before anything was sent
    r = post_form(c, "/transfers/new", {"archive_no": d["archive_no"], "rows": "2", "title-0": "合同",
                                        "doc_type-0": "contract", "pages-0": "-2"})
    assert r.status_code == 422 and words in r.get_data(as_text=True)
    unknown = post_form(c, "/transfers/new", {"archive_no": "KH-1999-999999", "rows": "1", "title-0": "合同",
                                              "doc_type-0": "contract", "pages-0": "2"})
    assert unknown.status_code == 422
    # a new customer's dossier is opened with the transfer: a bad field of it is shown at that field, and
    # a refused transfer (a bad credit code, or good customer fields with bad items) opens no dossier
    assert 'id="new-customer"' in form
    new = {"customer_name": "滨江新材料有限公司", "customer_type": "supplier", "customer_kind": "organisation",
           "grade": "B", "secrecy": "internal", "rows": "1", "title-0": "合同", "doc_type-0": "contract",
           "pages-0": "2"}
    bad_code = post_form(c, "/transfers/new", {**new, "credit_code": "91330106MA2H1Y0X1B"})
    text = bad_code.get_data(as_text=True)
    assert bad_code.status_code == 422 and customer_words in text and 'aria-invalid="true"' in text
    assert "滨江新材料有限公司" in text  # kept as typed
    bad_items = post_form(c, "/transfers/new", {**new, "pages-0": "-1"})
    assert bad_items.status_code == 422 and words in bad_items.get_data(as_text=True)
    person = post_form(c, "/transfers/new", {**new, "customer_kind": "individual", "id_number": "11010519491231002X",
                                             "credit_code": "91330106MA2H1Y0X1W"})
    assert person.status_code == 422 and "11010519491231002X" not in person.get_data(as_text=True)
    with vault.session() as s:
        assert s.scalar(select(func.count()).select_from(Transfer)) == 0
        assert s.scalar(select(func.count()).select_from(Dossier)) == 1  # `d` only
    made = post_form(c, "/transfers/new", {**new, "credit_code": "91330106MA2H1Y0X1W"})
    assert made.status_code == 302, made.get_data(as_text=True)
    t = api.get(people.employee, made.headers["Location"].replace("/transfers/", "/api/v1/transfers/")).get_json()
    assert t["customer_name"] == "滨江新材料有限公司" and t["archive_no"] != d["archive_no"]


def test_the_whole_story_runs_through_the_pages(app: Flask, people: People, api: Api, vault: Vault) -> None:
    d = api.new_dossier(people.archivist, owner="employee")
    sender = as_user(app, people.employee)
    r = post_form(sender, "/transfers/new", {"archive_no": d["archive_no"], "rows": "5", "title-0": "采购合同",
                                             "doc_type-0": "contract", "pages-0": "4", "original-0": "yes",
                                             "title-1": "发票", "doc_type-1": "invoice", "pages-1": "1"})
    assert r.status_code == 302, r.get_data(as_text=True)
    tid = int(r.headers["Location"].rstrip("/").split("/")[-1])
    checker = as_user(app, people.make("colleague", "employee"))
    post_form(checker, f"/transfers/{tid}/check", {"ok": "no", "missing": "缺往来函"})
    post_form(sender, f"/transfers/{tid}/resend", {"rows": "3", "title-0": "采购合同", "doc_type-0": "contract",
                                                   "pages-0": "4", "title-1": "发票", "doc_type-1": "invoice",
                                                   "pages-1": "1", "title-2": "往来函", "doc_type-2": "correspondence",
                                                   "pages-2": "2"})
    archivist = as_user(app, people.archivist)
    done = post_form(archivist, f"/transfers/{tid}/receive", {"rows": "3", "state-1": "present",
                                                              "state-2": "missing", "state-3": "present"})
    assert done.status_code == 302
    page = archivist.get(f"/transfers/{tid}").get_data(as_text=True)
    assert "JS-" in page and f"{d['archive_no']}-001" in page and f"{d['archive_no']}-002" in page
    post_form(sender, f"/transfers/{tid}/confirm")
    t = api.get(people.employee, f"/api/v1/transfers/{tid}").get_json()
    assert t["status"] == "received" and t["sender_confirmed_at"] and t["missing"] == "缺往来函"
    assert [i["state"] for i in t["items"]] == ["present", "missing", "present"]
    dossier_page = archivist.get(f"/dossiers/{d['id']}").get_data(as_text=True)
    for link in ("contents.pdf", "cover.pdf", "record-sheet.pdf", "separator.pdf?", "doc_type=invoice"):
        assert link in dossier_page


@pytest.mark.parametrize("lang, words", [("zh", ("结束日期不能早于开始日期", "国庆节", "调休上班日")),
                                         ("en", ("to must not be before from", "国庆节", "make-up working day"))])
def test_an_administrator_lists_the_national_day_holidays_on_the_calendar_page(
        app: Flask, people: People, vault: Vault, lang: str, words: tuple[str, ...]) -> None:
    admin = _in(as_user(app, people.admin), lang)
    assert "/admin/calendar" in admin.get("/").get_data(as_text=True)  # in the administrator's menu
    bad = post_form(admin, "/admin/calendar?year=2026", {"from": "2026-10-07", "to": "2026-10-01",
                                                          "day_type": "holiday", "name": "国庆节"})
    assert bad.status_code == 422 and words[0] in bad.get_data(as_text=True)
    with vault.session() as s:
        assert s.scalar(select(func.count()).select_from(CalendarDay)) == 0
    for form in ({"from": "2026-10-01", "to": "2026-10-07", "day_type": "holiday", "name": "国庆节"},
                 {"from": "2026-10-10", "day_type": "workday", "name": "国庆调休"}):
        assert post_form(admin, "/admin/calendar", form).status_code == 302
    page = admin.get("/admin/calendar?year=2026").get_data(as_text=True)
    assert page.count('class="day-holiday"') == 7 and words[1] in page and words[2] in page
    seen = _in(as_user(app, people.employee), lang).get("/admin/calendar?year=2026")
    assert seen.status_code == 200 and 'id="calendar-form"' not in seen.get_data(as_text=True)
    assert post_form(as_user(app, people.employee), "/admin/calendar", {"from": "2026-10-08", "day_type": "holiday"}
                     ).status_code == 403


REFUSED = {"zh": "无权执行此操作", "en": "may not do this"}


def test_no_other_role_changes_the_calendar_through_the_page_or_the_api_and_is_told_so_in_its_language(
        app: Flask, api: Api, people: People, vault: Vault) -> None:
    """Everyone reads the calendar (their transfer deadlines follow it); only administrators change it. A
    refusal is a 403 in the reader's language, on the page and in the API, and writes no day and no audit."""
    assert api.post(people.admin, "/api/v1/calendar", json={"entries": [
        {"date": "2026-10-01", "day_type": "holiday", "name": "国庆节"}]}).status_code == 200
    calendar_events = select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("calendar.%"))
    with vault.session() as s:
        events = s.scalar(calendar_events)
    listed = {"year": 2026, "days": [{"date": "2026-10-01", "day_type": "holiday", "name": "国庆节"}]}
    for role in ("archivist", "legal", "manager", "employee"):
        user = getattr(people, role)
        page = as_user(app, user)
        for lang, words in REFUSED.items():
            _in(page, lang)
            seen = page.get("/admin/calendar?year=2026")
            assert seen.status_code == 200 and "国庆节" in seen.get_data(as_text=True)
            assert 'id="calendar-form"' not in seen.get_data(as_text=True)
            assert "/admin/calendar" not in page.get("/").get_data(as_text=True)  # not in their menu
            refused = post_form(page, "/admin/calendar", {"from": "2026-10-02", "to": "2026-10-07",
                                                          "day_type": "holiday", "name": "国庆节"})
            assert refused.status_code == 403 and words in refused.get_data(as_text=True), (role, lang)
            r = api.client.post("/api/v1/calendar", headers={**api.headers(user), "Accept-Language": lang},
                                json={"entries": [{"date": "2026-10-01", "day_type": "normal"}]})
            assert r.status_code == 403 and words in r.get_json()["error"]["message"], (role, lang, r.get_json())
            assert api.get(user, "/api/v1/calendar?year=2026").get_json() == listed
    with vault.session() as s:
        assert s.scalar(calendar_events) == events == 1  # nothing written, no change audited
        assert s.scalar(select(func.count()).select_from(CalendarDay)) == 1
