"""The workflow pages as each person uses them: destruction from proposal to certificate, the tombstone of a
destroyed document, the approval inbox, time left on a checkout, and an employee's empty search."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from flask import Flask

from indexer.search_index import SearchIndex
from indexer.worker import run_pending
from tests.conftest import Api, People
from tests.integration.test_pages import as_user, post_form
from tests.support.workflow_fixtures import PDF, PDF2, upload
from vault.clock import FixedClock


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"token_ttl_hours": 24 * 365}  # tokens outlive the hours the clock is moved on


def _due_documents(api: Api, people: People) -> tuple[dict[str, Any], list[int]]:
    d = api.new_dossier(people.archivist, customer_name="到期客户 & <子公司>")
    ids = [upload(api, people.archivist, d["id"], path, title=f"到期合同 {n}")["id"]
           for n, path in enumerate((PDF, PDF2))]
    return d, ids


def test_destruction_goes_from_proposal_to_certificate_through_the_pages(app: Flask, api: Api,
                                                                         people: People) -> None:
    _, (doc_id, other_id) = _due_documents(api, people)
    archivist, manager, legal = (as_user(app, getattr(people, r)) for r in ("archivist", "manager", "legal"))
    r = post_form(archivist, "/destructions", {"document_ids": str(doc_id), "reason": "保管期限届满"})
    assert r.status_code == 302
    page = archivist.get("/destructions")
    assert page.status_code == 200, "the register answers once a batch exists"
    batch_id = int(re.search(r'id="batch-(\d+)"', page.get_data(as_text=True)).group(1))  # type: ignore[union-attr]
    assert "到期合同 0" in page.get_data(as_text=True)

    for person in (manager, legal):
        home = person.get("/").get_data(as_text=True)
        assert f"#batch-{batch_id}" in home, "a batch waiting for this person is on their home page"
        assert person.get("/destructions").status_code == 200
        assert post_form(person, f"/destructions/{batch_id}/approve", {"comment": "同意"}).status_code == 302
        assert f"#batch-{batch_id}" not in person.get("/").get_data(as_text=True), "approved: off the card"

    register = archivist.get("/destructions?lang=en").get_data(as_text=True)
    assert "Execute destruction" in register
    assert post_form(archivist, f"/destructions/{batch_id}/execute").status_code == 302
    register = archivist.get("/destructions").get_data(as_text=True)
    assert f"/destructions/{batch_id}/certificate.pdf" in register
    cert = archivist.get(f"/destructions/{batch_id}/certificate.pdf")
    assert cert.status_code == 200 and cert.data[:4] == b"%PDF"
    assert cert.headers["X-Certificate-SHA256"] == hashlib.sha256(cert.data).hexdigest(), "as the API gives it"
    assert re.search(rf'value="{other_id}"(?! disabled)', register), "the other due document stays proposable"


def test_a_destroyed_document_shows_its_tombstone_and_offers_no_checkout_or_download(
        app: Flask, api: Api, people: People, vault: Any, index: SearchIndex) -> None:
    d, (doc_id, _) = _due_documents(api, people)
    run_pending(vault, index)
    batch = api.post(people.archivist, "/api/v1/destructions", json={"document_ids": [doc_id], "reason": "到期"})
    batch_id = batch.get_json()["id"]
    for approver in (people.manager, people.legal):
        assert api.post(approver, f"/api/v1/destructions/{batch_id}/approve", json={}).status_code == 200
    assert api.post(people.archivist, f"/api/v1/destructions/{batch_id}/execute").status_code == 200

    page = as_user(app, people.archivist).get(f"/documents/{doc_id}?lang=en").get_data(as_text=True)
    tomb = page.split('id="tombstone"', 1)[1].split("</section>", 1)[0]
    assert "Destroyed on" in tomb and f"destruction batch {batch_id}" in tomb
    assert f'href="/destructions/{batch_id}/certificate.pdf"' in tomb
    assert "indexed" not in page.split('id="index-status"', 1)[1].split("</dd>", 1)[0]
    assert "/content" not in page and "Request a checkout" not in page and "/pages/1.png" not in page

    employee_page = as_user(app, people.employee).get(f"/documents/{doc_id}").get_data(as_text=True)
    assert "已于" in employee_page and f"销毁批次 {batch_id}" in employee_page
    assert "certificate.pdf" not in employee_page, "the register is not the employee's to open"
    assert "申请借阅" not in employee_page and 'id="no-access"' not in employee_page
    dossier_page = as_user(app, people.archivist).get(f"/dossiers/{d['id']}").get_data(as_text=True)
    assert f'name="document_ids" value="{doc_id}"' not in dossier_page, "a destroyed document cannot be chosen"


def test_a_three_day_checkout_an_hour_old_has_three_days_left(app: Flask, api: Api, people: People,
                                                              clock: FixedClock) -> None:
    d = api.new_dossier(people.archivist)
    upload(api, people.archivist, d["id"], PDF)
    co = api.post(people.employee, "/api/v1/checkouts",
                  json={"dossier_id": d["id"], "purpose": "核对", "kind": "view", "days": 3}).get_json()
    assert api.post(people.archivist, f"/api/v1/checkouts/{co['id']}/approve", json={}).status_code == 200
    clock.advance(hours=1)
    employee = as_user(app, people.employee)
    assert "剩余 3 天" in employee.get("/checkouts").get_data(as_text=True)
    assert "3 days left" in employee.get("/?lang=en").get_data(as_text=True)
    clock.advance(days=2, hours=12)  # 11 hours left
    employee = as_user(app, people.employee)
    assert "11 hours left" in employee.get("/checkouts?lang=en").get_data(as_text=True)


def test_the_approval_inbox_shows_days_dates_scope_and_who_approves(app: Flask, api: Api, people: People) -> None:
    d = api.new_dossier(people.archivist)
    doc = upload(api, people.archivist, d["id"], PDF, title="授信合同 A&B")
    secret = api.new_dossier(people.make("boss", "archivist", "secret"), secrecy="secret", owner="boss",
                             customer_name="绝密客户")
    people.make("emp", "employee", "secret")
    chosen = api.post(people.make("emp", "employee"), "/api/v1/checkouts", json={
        "dossier_id": d["id"], "purpose": "核对", "kind": "copy", "days": 4, "document_ids": [doc["id"]]})
    whole = api.post(people.make("emp", "employee"), "/api/v1/checkouts", json={
        "dossier_id": secret["id"], "purpose": "审计", "kind": "view", "days": 1})
    assert chosen.status_code == whole.status_code == 201
    manager = people.make("big", "manager", "secret")
    inbox = as_user(app, manager).get("/checkouts?lang=en").get_data(as_text=True)
    row = inbox.split(f'id="checkout-{whole.get_json()["id"]}"', 1)[1].split("</tr>", 1)[0]
    assert "1 day" in row and "requested" in row and "The whole dossier" in row
    assert "to be approved by a manager (secret dossier)" in row and "Approve" in row
    archivist_inbox = as_user(app, people.make("boss", "archivist")).get("/checkouts").get_data(as_text=True)
    row = archivist_inbox.split(f'id="checkout-{chosen.get_json()["id"]}"', 1)[1].split("</tr>", 1)[0]
    assert "4 天" in row and "仅限：" in row and "授信合同 A&amp;B" in row and "待档案管理员审批" in row

    def to_approve(user: Any) -> set[str]:
        home = as_user(app, user).get("/").get_data(as_text=True)
        card = home.split("<h2>待审批</h2>", 1)[1].split("</section>", 1)[0]
        return {no for no in (d["archive_no"], secret["archive_no"]) if no in card}

    assert to_approve(manager) == {secret["archive_no"]}, "a manager's card lists what a manager approves"
    assert to_approve(people.make("boss", "archivist")) == {d["archive_no"]}, \
        "an archivist's card lists what an archivist approves"


@pytest.mark.parametrize(("lang", "words"), [("zh", ("员工只能搜索", "申请借阅")),
                                             ("en", ("you search only", "request a checkout"))])
def test_an_employee_finding_nothing_learns_what_they_search_and_how_to_get_more(
        app: Flask, people: People, lang: str, words: tuple[str, str]) -> None:
    page = as_user(app, people.employee).get(f"/search?q=没有这个词&lang={lang}").get_data(as_text=True)
    scope = page.split('id="search-scope"', 1)[1].split("</div>", 1)[0]
    assert all(w in scope for w in words)
    assert 'href="/dossiers"' in scope
    assert '<li class="muted">' not in page, "an empty result is not a numbered list item"
    archivist = as_user(app, people.archivist).get(f"/search?q=没有这个词&lang={lang}").get_data(as_text=True)
    assert 'id="search-scope"' not in archivist, "content roles search everything: no such hint"
