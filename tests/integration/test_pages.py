"""The web pages through the Flask test client: each role's pages, permissions, CSRF, language, sign-in."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, Api, People
from tests.corpus import SYNTHETIC
from vault.clock import FixedClock
from vault.core import Vault
from vault.models import User

PAGES_BY_ROLE = {
    "archivist": ["/", "/dossiers", "/dossiers/new", "/checkouts", "/holds", "/destructions", "/search?q=合同"],
    "employee": ["/", "/dossiers", "/checkouts", "/search?q=合同"],
    "legal": ["/", "/dossiers", "/search?q=合同", "/holds", "/audit", "/destructions", "/checkouts"],
    "manager": ["/", "/dossiers", "/checkouts", "/holds", "/destructions", "/audit", "/admin/approvals"],
    "admin": ["/", "/audit", "/admin/users", "/admin/approvals", "/account/password"],
}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD, **headers: str) -> Any:
    page = client.get("/login", headers=headers)
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_of(page.get_data(as_text=True))}, headers=headers)


@pytest.fixture
def browser(app: Flask) -> FlaskClient:
    """A test client with CSRF checks on, like a real browser session."""
    app.config["WTF_CSRF_ENABLED"] = True
    return app.test_client()


def as_user(app: Flask, user: User) -> FlaskClient:
    c = app.test_client()
    r = sign_in(c, user.username)
    assert r.status_code == 302, r.get_data(as_text=True)
    return c


def post_form(c: FlaskClient, url: str, data: dict[str, str] | None = None) -> Any:
    """Post like the page's own form does: with the session's CSRF token."""
    token = csrf_of(c.get("/").get_data(as_text=True))
    return c.post(url, data={"csrf_token": token, **(data or {})})


@pytest.fixture
def dossier(api: Api, people: People) -> dict[str, Any]:
    people.make("employee", "employee")
    d = api.new_dossier(people.archivist, owner="archivist", secrecy="internal", credit_code="913307828124158690")
    r = api.upload(people.archivist, d["id"], SYNTHETIC / "C01/02_contract_HYGL-JG-20220309-062.pdf",
                   doc_type="contract", doc_date="2022-03-09")
    assert r.status_code == 201, r.get_json()
    d["document_id"] = r.get_json()["id"]
    return d


@pytest.mark.parametrize("role", sorted(PAGES_BY_ROLE))
def test_each_role_sees_its_pages(app: Flask, people: People, dossier: dict[str, Any], role: str) -> None:
    c = as_user(app, getattr(people, role))
    for path in PAGES_BY_ROLE[role]:
        r = c.get(path)
        assert r.status_code == 200, (role, path, r.status_code, r.get_data(as_text=True)[:500])
        assert 'lang="zh-CN"' in r.get_data(as_text=True)
    if role != "admin":
        assert c.get(f"/dossiers/{dossier['id']}").status_code == 200
        assert c.get(f"/documents/{dossier['document_id']}").status_code == 200


def test_pages_need_sign_in(client: FlaskClient) -> None:
    r = client.get("/dossiers")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_roles_are_refused_pages_they_may_not_use(app: Flask, people: People) -> None:
    assert as_user(app, people.employee).get("/admin/users").status_code == 403
    assert as_user(app, people.employee).get("/audit").status_code == 403
    assert as_user(app, people.admin).get("/dossiers/new").status_code == 403


def test_an_employee_without_a_grant_sees_metadata_but_no_content(app: Flask, people: People,
                                                                  dossier: dict[str, Any]) -> None:
    c = as_user(app, people.employee)
    page = c.get(f"/documents/{dossier['document_id']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="no-access"' in html and "/pages/1.png" not in html and "/content" not in html
    assert c.get(f"/documents/{dossier['document_id']}/pages/1.png").status_code == 403


def test_the_archivist_reads_pages_rendered_as_images(app: Flask, people: People, dossier: dict[str, Any]) -> None:
    c = as_user(app, people.archivist)
    html = c.get(f"/documents/{dossier['document_id']}").get_data(as_text=True)
    assert "/pages/1.png" in html
    r = c.get(f"/documents/{dossier['document_id']}/pages/1.png")
    assert r.status_code == 200 and r.mimetype == "image/png" and r.data[:4] == b"\x89PNG"


def test_a_dossier_above_clearance_is_not_found(app: Flask, api: Api, people: People) -> None:
    archivist = people.make("arch2", "archivist", clearance="secret")
    secret = api.new_dossier(archivist, owner="arch2", secrecy="secret")
    c = as_user(app, people.make("low", "employee", clearance="internal"))
    assert c.get(f"/dossiers/{secret['id']}").status_code == 404
    assert "archive_no" not in c.get(f"/dossiers/{secret['id']}").get_data(as_text=True)


def test_a_form_posted_without_csrf_token_is_refused(browser: FlaskClient, people: People) -> None:
    people.make("archivist", "archivist")
    r = browser.post("/login", data={"username": "archivist", "password": PASSWORD})
    assert r.status_code == 400
    assert sign_in(browser, "archivist").status_code == 302
    r = browser.post("/dossiers/new", data={"customer_name": "无令牌公司", "customer_type": "client"})
    assert r.status_code == 400
    assert "csrf" in r.get_data(as_text=True).lower() or "表单" in r.get_data(as_text=True)


def test_creating_a_dossier_shows_field_errors_next_to_the_field(browser: FlaskClient, people: People) -> None:
    people.make("archivist", "archivist")
    sign_in(browser, "archivist")
    token = csrf_of(browser.get("/dossiers/new").get_data(as_text=True))
    r = browser.post("/dossiers/new", data={"csrf_token": token, "customer_name": "坏代码公司",
                                            "customer_type": "client", "credit_code": "913307828124158691",
                                            "owner": "archivist", "secrecy": "internal", "grade": "B"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert 'id="credit_code-error"' in html and 'aria-invalid="true"' in html
    r = browser.post("/dossiers/new", data={"csrf_token": token, "customer_name": "好代码公司",
                                            "customer_type": "client", "credit_code": "913307828124158690",
                                            "owner": "archivist", "secrecy": "internal", "grade": "B"})
    assert r.status_code == 302
    detail = browser.get(r.headers["Location"]).get_data(as_text=True)
    assert "好代码公司" in detail and "KH-" in detail


def test_language_switch_is_remembered_in_the_session(client: FlaskClient, people: People) -> None:
    assert "登录" in client.get("/login").get_data(as_text=True)
    assert "Sign in" in client.get("/login?lang=en").get_data(as_text=True)
    assert "Sign in" in client.get("/login").get_data(as_text=True)
    assert "登录" in client.get("/login?lang=zh").get_data(as_text=True)


def test_without_a_choice_the_browser_language_decides(app: Flask) -> None:
    c = app.test_client()
    assert 'lang="en"' in c.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert 'lang="zh-CN"' in c.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(as_text=True)
    assert 'lang="zh-CN"' in c.get("/login").get_data(as_text=True)


def test_failed_sign_ins_are_throttled_alike_for_known_and_unknown_names(app: Flask, people: People) -> None:
    people.make("employee", "employee")
    answers = {}
    for name in ("employee", "nobody-here"):
        c = app.test_client()
        codes = [sign_in(c, name, "wrong password!").status_code for _ in range(6)]
        answers[name] = (codes, c.get("/login").status_code)
        last = sign_in(c, name, "wrong password!")
        assert last.status_code == 429
        answers[name] += (re.sub(r'value="[^"]*"', "", last.get_data(as_text=True).split("<main", 1)[1]),)
    assert answers["employee"][0] == answers["nobody-here"][0] == [401] * 5 + [429]
    assert answers["employee"][2] == answers["nobody-here"][2]
    # the right password does not get through a lock-out either
    assert sign_in(app.test_client(), "employee").status_code == 429


def test_sign_out_ends_the_session(app: Flask, people: People) -> None:
    c = as_user(app, people.manager)
    token = csrf_of(c.get("/").get_data(as_text=True))
    assert c.post("/logout", data={"csrf_token": token}).status_code == 302
    assert c.get("/").status_code == 302


def test_changing_the_password_ends_other_sessions(app: Flask, people: People) -> None:
    first, second = as_user(app, people.legal), as_user(app, people.legal)
    token = csrf_of(first.get("/account/password").get_data(as_text=True))
    r = first.post("/account/password", data={"csrf_token": token, "old_password": PASSWORD,
                                               "new_password": "a brand new secret", "confirm": "a brand new secret"})
    assert r.status_code == 302
    assert first.get("/").status_code == 200
    assert second.get("/").status_code == 302
    assert sign_in(app.test_client(), "legal", "a brand new secret").status_code == 302


def test_a_wrong_current_password_is_shown_at_its_field(app: Flask, people: People) -> None:
    c = as_user(app, people.legal)
    token = csrf_of(c.get("/account/password").get_data(as_text=True))
    r = c.post("/account/password", data={"csrf_token": token, "old_password": "not it at all",
                                          "new_password": "a brand new secret", "confirm": "a brand new secret"})
    assert r.status_code == 422 and 'id="old_password-error"' in r.get_data(as_text=True)


def test_an_idle_session_ends(app: Flask, people: People, clock: FixedClock, vault: Vault) -> None:
    c = as_user(app, people.employee)
    assert c.get("/").status_code == 200
    clock.advance(minutes=vault.settings.session_idle_minutes + 1)
    r = c.get("/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_a_checkout_goes_from_request_to_return_through_the_pages(app: Flask, people: People,
                                                                  dossier: dict[str, Any]) -> None:
    employee, archivist = as_user(app, people.employee), as_user(app, people.archivist)
    r = post_form(employee, f"/dossiers/{dossier['id']}/checkouts",
                  {"purpose": "核对合同", "kind": "view", "days": "3"})
    assert r.status_code == 302, r.get_data(as_text=True)[:800]
    inbox = archivist.get("/checkouts").get_data(as_text=True)
    checkout_id = int(re.search(r'id="checkout-(\d+)"', inbox).group(1))  # type: ignore[union-attr]
    assert post_form(archivist, f"/checkouts/{checkout_id}/approve", {"comment": "ok"}).status_code == 302
    doc_page = employee.get(f"/documents/{dossier['document_id']}").get_data(as_text=True)
    assert "/pages/1.png" in doc_page
    assert employee.get(f"/documents/{dossier['document_id']}/pages/1.png").status_code == 200
    assert post_form(employee, f"/checkouts/{checkout_id}/return").status_code == 302
    assert employee.get(f"/documents/{dossier['document_id']}/pages/1.png").status_code == 403


def test_errors_are_pages_here_and_json_under_the_api(app: Flask, people: People) -> None:
    c = as_user(app, people.employee)
    r = c.get("/documents/999999")
    assert r.status_code == 404 and r.mimetype == "text/html" and "未找到" in r.get_data(as_text=True)
    r = c.get("/api/v1/documents/999999")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "document_not_found"


def test_dates_and_numbers_follow_the_language(app: Flask, people: People, dossier: dict[str, Any]) -> None:
    c = as_user(app, people.archivist)
    zh = c.get(f"/documents/{dossier['document_id']}").get_data(as_text=True)
    en = c.get(f"/documents/{dossier['document_id']}?lang=en").get_data(as_text=True)
    assert "2022年3月9日" in zh
    assert "Mar 9, 2022" in en


def test_every_page_string_has_a_chinese_translation() -> None:
    from babel.messages.pofile import read_po

    from web.pages.i18n import TRANSLATIONS, extract_messages

    with (TRANSLATIONS / "zh_CN/LC_MESSAGES/messages.po").open("rb") as fh:
        catalog = read_po(fh)
    missing = [m for m in extract_messages() if not (catalog.get(m) and catalog.get(m).string)]
    assert missing == []


def test_an_id_too_large_for_the_database_is_a_404_page_not_a_500(app: Flask, people: People) -> None:
    client = as_user(app, people.legal)
    for url in ("/documents/27106934190263039257708729466880", "/dossiers/27106934190263039257708729466880"):
        r = client.get(url)
        assert r.status_code == 404 and r.mimetype == "text/html", url
