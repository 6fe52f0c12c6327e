"""Sessions end on the server, bodies are bounded before sign-in, and sign-in throttling cannot be turned
against an account's owner (issue 10, items 5, 6 and 7)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, Api, People
from tests.corpus import SYNTHETIC
from tests.integration.test_pages import as_user, csrf_of, sign_in
from vault.clock import FixedClock
from vault.core import Vault

STRANGER = {"REMOTE_ADDR": "203.0.113.7"}
OWNER = {"REMOTE_ADDR": "198.51.100.20"}


def _token(client: FlaskClient, username: str, password: str, addr: dict[str, str]) -> Any:
    return client.post("/api/v1/auth/token", json={"username": username, "password": password}, environ_base=addr)


def test_a_copied_session_cookie_stops_working_after_sign_out(app: Flask, people: People) -> None:
    c = as_user(app, people.manager)
    cookie = c.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    assert thief.get("/").status_code == 200 and thief.get("/api/v1/me").status_code == 200
    assert c.post("/logout", data={"csrf_token": csrf_of(c.get("/").get_data(as_text=True))}).status_code == 302
    assert thief.get("/").status_code == 302
    assert thief.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize("settings_overrides", [{"session_max_hours": 1}])
def test_a_busy_session_still_ends_at_its_absolute_lifetime(app: Flask, people: People, clock: FixedClock) -> None:
    c = as_user(app, people.archivist)
    for _ in range(3):
        clock.advance(minutes=20)
        assert c.get("/").status_code == 200  # never idle
    clock.advance(minutes=1)
    r = c.get("/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert "会话已到时间上限" in c.get(r.headers["Location"]).get_data(as_text=True)


def test_a_json_body_over_the_limit_is_refused_before_sign_in(client: FlaskClient, vault: Vault) -> None:
    big = "x" * (vault.settings.max_body_bytes + 1)
    r = client.post("/api/v1/auth/token", json={"username": "admin", "password": big})
    assert r.status_code == 413
    assert r.get_json()["error"]["code"] == "body_too_large" and "1 MiB" in r.get_json()["error"]["message"]


def test_a_sign_in_form_over_the_limit_gets_a_page_in_the_readers_language(client: FlaskClient,
                                                                            vault: Vault) -> None:
    big = "x" * (vault.settings.max_body_bytes + 1)
    r = client.post("/login", data={"username": "admin", "password": big})
    assert r.status_code == 413 and r.mimetype == "text/html"
    assert "提交的表单超过 1 MiB" in r.get_data(as_text=True)
    r = client.post("/login", data={"username": "admin", "password": big}, headers={"Accept-Language": "en"})
    assert "larger than 1 MiB" in r.get_data(as_text=True)


@pytest.mark.parametrize("settings_overrides", [{"max_body_bytes": 32 * 1024}])
def test_uploads_larger_than_the_body_limit_still_stream_in(api: Api, people: People) -> None:
    path = SYNTHETIC / "C01/05_法定代表人身份证明书.jpg"
    assert path.stat().st_size > 32 * 1024
    dossier = api.new_dossier(people.archivist)
    r = api.upload(people.archivist, dossier["id"], path, doc_type="id_proof")
    assert r.status_code == 201, r.get_json()


def test_a_stranger_guessing_cannot_lock_the_owner_out(client: FlaskClient, people: People) -> None:
    people.admin  # noqa: B018
    codes = [_token(client, "admin", "wrong password!", STRANGER).status_code for _ in range(7)]
    assert codes == [401] * 5 + [429] * 2
    assert _token(client, "admin", PASSWORD, OWNER).status_code == 201


def test_the_wait_grows_and_the_right_password_after_it_clears_the_count(client: FlaskClient, people: People,
                                                                         clock: FixedClock, vault: Vault) -> None:
    people.employee  # noqa: B018
    base = vault.settings.login_lock_base_s
    for _ in range(5):
        assert _token(client, "employee", "wrong password!", STRANGER).status_code == 401
    refused = _token(client, "employee", PASSWORD, STRANGER)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) == base
    clock.advance(seconds=base)
    assert _token(client, "employee", "wrong password!", STRANGER).status_code == 401
    assert int(_token(client, "employee", PASSWORD, STRANGER).headers["Retry-After"]) == 2 * base
    clock.advance(seconds=2 * base)
    assert _token(client, "employee", PASSWORD, STRANGER).status_code == 201
    # the count starts again: one wrong password is just a wrong password
    assert _token(client, "employee", "wrong password!", STRANGER).status_code == 401
    assert _token(client, "employee", PASSWORD, STRANGER).status_code == 201


def test_one_address_trying_many_names_is_limited_whatever_the_names(client: FlaskClient, people: People,
                                                                      vault: Vault) -> None:
    people.legal  # noqa: B018
    limit = vault.settings.login_address_max_failures
    codes = [_token(client, f"guess{i}", "wrong password!", STRANGER).status_code for i in range(45)]
    assert codes[:limit] == [401] * limit and set(codes[limit:]) == {429}
    r = _token(client, "legal", PASSWORD, STRANGER)
    assert r.status_code == 429 and r.get_json()["error"]["code"] == "too_many_attempts_address"
    assert _token(client, "legal", PASSWORD, OWNER).status_code == 201


def test_the_sign_in_page_says_how_long_to_wait(app: Flask, people: People) -> None:
    people.employee  # noqa: B018
    c = app.test_client()
    for _ in range(5):
        assert sign_in(c, "employee", "wrong password!", **{"Accept-Language": "en"}).status_code == 401
    r = sign_in(c, "employee", PASSWORD, **{"Accept-Language": "en"})
    assert r.status_code == 429 and "Wait 60 seconds" in r.get_data(as_text=True)


PROXY = {"REMOTE_ADDR": "10.0.0.2"}  # the reverse proxy every request arrives from (nginx in docker-compose)


def _via_proxy(client: FlaskClient, username: str, password: str, client_addr: str) -> Any:
    return client.post("/api/v1/auth/token", json={"username": username, "password": password},
                       environ_base=PROXY, headers={"X-Forwarded-For": client_addr})


@pytest.mark.parametrize("settings_overrides", [{"trusted_proxy_hops": 1}])
def test_behind_a_trusted_proxy_a_stranger_guessing_does_not_lock_out_everyone_behind_it(
        client: FlaskClient, people: People, vault: Vault) -> None:
    people.legal  # noqa: B018
    limit = vault.settings.login_address_max_failures
    codes = [_via_proxy(client, f"guess{i}", "wrong password!", "203.0.113.7").status_code for i in range(limit + 2)]
    assert set(codes[limit:]) == {429}
    assert _via_proxy(client, "legal", PASSWORD, "198.51.100.20").status_code == 201


def test_without_a_trusted_proxy_a_forged_forwarded_for_does_not_escape_the_address_limit(
        client: FlaskClient, people: People, vault: Vault) -> None:
    people.legal  # noqa: B018
    limit = vault.settings.login_address_max_failures
    codes = [_via_proxy(client, f"guess{i}", "wrong password!", f"192.0.2.{i}").status_code for i in range(limit + 2)]
    assert set(codes[limit:]) == {429}
