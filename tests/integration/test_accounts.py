"""Separation of duties for accounts, and API tokens their owners and admins can see and revoke
(issue 10, items 7 and 8)."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, Api, People
from tests.integration.test_pages import as_user, post_form
from vault.core import Vault
from vault.errors import Forbidden
from vault.services import users

CHOSEN = "chosen by the admin"


def _token(client: FlaskClient, username: str, password: str) -> tuple[int, str | None]:
    r = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    return r.status_code, (r.get_json() or {}).get("token")


def _me(client: FlaskClient, token: str) -> dict[str, str]:
    return dict(client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).get_json())


def test_an_admin_alone_cannot_make_an_archivist_it_can_sign_in_as(app: Flask, api: Api, people: People) -> None:
    admin_page = as_user(app, people.admin)
    r = post_form(admin_page, "/admin/users", {"username": "newarch", "display_name": "", "role": "archivist",
                                               "clearance": "confidential", "password": CHOSEN})
    assert r.status_code == 302
    assert "等待经理或另一位管理员批准" in admin_page.get("/admin/users").get_data(as_text=True)
    status, token = _token(api.client, "newarch", CHOSEN)
    assert status == 201 and token
    assert {k: _me(api.client, token)[k] for k in ("role", "clearance")} == {"role": "employee",
                                                                             "clearance": "internal"}
    (pending,) = api.get(people.manager, "/api/v1/grant-requests").get_json()["items"]
    assert (pending["user"], pending["role"], pending["clearance"]) == ("newarch", "archivist", "confidential")
    own = api.post(people.admin, f"/api/v1/grant-requests/{pending['id']}/approve")
    assert own.status_code == 403 and own.get_json()["error"]["code"] == "own_request"
    r = api.post(people.manager, f"/api/v1/grant-requests/{pending['id']}/approve")
    assert r.status_code == 200, r.get_json()
    one_time = r.get_json()["one_time_password"]
    # the admin's password, and the sessions and tokens made with it, no longer open the account
    assert _token(api.client, "newarch", CHOSEN)[0] == 401
    assert api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    status, fresh = _token(api.client, "newarch", one_time)
    assert status == 201 and fresh and _me(api.client, fresh)["role"] == "archivist"


def test_the_service_refuses_an_admin_giving_a_content_role_directly(vault: Vault, people: People) -> None:
    with vault.session() as s, pytest.raises(Forbidden, match="approval"):
        users.create_user(vault, s, people.admin, "sneaky", "legal", PASSWORD)


def test_raising_a_clearance_waits_for_a_second_person_and_lowering_does_not(api: Api, people: People) -> None:
    people.make("clerk", "employee", clearance="internal")
    r = api.patch(people.admin, "/api/v1/users/clerk", json={"clearance": "secret"})
    assert r.status_code == 200 and r.get_json()["user"]["clearance"] == "internal"
    request_id = r.get_json()["pending_request"]["id"]
    again = api.patch(people.admin, "/api/v1/users/clerk", json={"role": "legal"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "grant_pending"
    low_manager = people.make("lowmgr", "manager", clearance="internal")
    r = api.post(low_manager, f"/api/v1/grant-requests/{request_id}/approve")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "clearance_above_own"
    other_admin = people.make("admin2", "admin", clearance="secret")
    r = api.post(other_admin, f"/api/v1/grant-requests/{request_id}/approve")
    assert r.status_code == 200 and "one_time_password" not in r.get_json()  # the clerk chose their own password
    r = api.patch(people.admin, "/api/v1/users/clerk", json={"clearance": "public"})
    assert r.status_code == 200 and r.get_json()["user"]["clearance"] == "public"
    assert r.get_json()["pending_request"] is None


def test_the_last_active_admin_can_be_neither_deactivated_nor_demoted(app: Flask, api: Api,
                                                                     people: People) -> None:
    for body in ({"active": False}, {"role": "employee"}):
        r = api.patch(people.admin, "/api/v1/users/admin", json=body)
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "last_admin", body
    page = as_user(app, people.admin)
    r = post_form(page, "/admin/users/admin/deactivate")
    assert r.status_code == 302
    assert "最后一位在职管理员" in page.get("/admin/users").get_data(as_text=True)
    assert api.get(people.admin, "/api/v1/me").status_code == 200
    second = people.make("admin2", "admin")
    assert api.patch(second, "/api/v1/users/admin", json={"active": False}).status_code == 200


def test_a_manager_decides_requests_on_the_page_and_sees_the_one_time_password_once(app: Flask, api: Api,
                                                                                    people: People) -> None:
    r = api.post(people.admin, "/api/v1/users", json={"username": "newlegal", "role": "legal", "password": CHOSEN})
    assert r.status_code == 201 and r.get_json()["user"]["role"] == "employee"
    manager = as_user(app, people.manager)
    html = manager.get("/admin/approvals").get_data(as_text=True)
    request_id = re.search(r'id="grant-(\d+)"', html).group(1)  # type: ignore[union-attr]
    r = post_form(manager, f"/admin/approvals/{request_id}/approve")
    assert r.status_code == 200
    one_time = re.search(r"<code>([^<]+)</code>", r.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    assert _token(api.client, "newlegal", one_time)[0] == 201
    assert one_time not in manager.get("/admin/approvals").get_data(as_text=True)
    assert as_user(app, people.employee).get("/admin/approvals").status_code == 403


def test_tokens_are_listed_and_revoked_by_their_owner_and_by_an_admin(app: Flask, api: Api,
                                                                      people: People) -> None:
    people.employee  # noqa: B018
    first = _token(api.client, "employee", PASSWORD)[1]
    second = _token(api.client, "employee", PASSWORD)[1]
    auth = {"Authorization": f"Bearer {first}"}
    mine = api.client.get("/api/v1/tokens", headers=auth).get_json()["items"]
    assert len(mine) == 2 and {t["user"] for t in mine} == {"employee"}
    stranger = api.get(people.legal, "/api/v1/tokens?user=employee")
    assert stranger.status_code == 403
    assert api.client.delete(f"/api/v1/tokens/{mine[0]['id']}", headers=api.headers(people.legal)).status_code == 404
    # the owner revokes the newer token; the admin revokes the other from the users page
    assert api.client.delete(f"/api/v1/tokens/{mine[0]['id']}", headers=auth).status_code == 200
    assert api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {second}"}).status_code == 401
    admin_page = as_user(app, people.admin)
    assert f'id="token-{mine[1]["id"]}"' in admin_page.get("/admin/users").get_data(as_text=True)
    assert post_form(admin_page, f"/admin/tokens/{mine[1]['id']}/revoke").status_code == 302
    assert api.client.get("/api/v1/me", headers=auth).status_code == 401


def test_the_account_page_lists_my_tokens_and_revokes_one(app: Flask, api: Api, people: People) -> None:
    token = api.token(people.archivist)
    page = as_user(app, people.archivist)
    html = page.get("/account/password").get_data(as_text=True)
    token_id = re.search(r'id="token-(\d+)"', html).group(1)  # type: ignore[union-attr]
    assert post_form(page, f"/account/tokens/{token_id}/revoke").status_code == 302
    assert api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
