"""Shared fixtures: a vault in tmp_path with a controllable clock, its runtime, users per role, an app and a client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from config import load_settings
from tests.support.multipart import post_file
from vault.clock import FixedClock
from vault.core import Vault, ensure_home
from vault.models import User
from vault.services import users
from web.bootstrap import Runtime, compose

pytest_plugins = ["tests.support.s3_fixtures", "tests.support.pg_fixtures", "tests.support.workflow_fixtures",
                  "tests.support.chromium"]

PASSWORD = "correct horse battery"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
def vault(tmp_path: Path, clock: FixedClock, settings_overrides: dict[str, Any]) -> Iterator[Vault]:
    settings = load_settings({"home": str(tmp_path / "home"), **settings_overrides}, environ={})
    ensure_home(settings)
    v = Vault.open(settings, clock=clock, migrate_schema=True)
    yield v
    v.close()


class People:
    """Builds users on demand: people.archivist, people.employee, ... or people.make(name, role, clearance)."""

    def __init__(self, vault: Vault) -> None:
        self._vault = vault
        self._made: dict[str, User] = {}

    def make(self, username: str, role: str, clearance: str = "confidential") -> User:
        if username not in self._made:
            v = self._vault
            with v.session() as s:
                actor = users.system_user(s, v.clock.now())
                user = users.create_user(v, s, actor, username, role, PASSWORD, clearance=clearance)
                s.expunge(user)
            self._made[username] = user
        return self._made[username]

    def __getattr__(self, role: str) -> User:
        if role in ("admin", "archivist", "employee", "legal", "manager"):
            return self.make(role, role)
        raise AttributeError(role)

    @property
    def system(self) -> User:
        v = self._vault
        with v.session() as s:
            user = users.system_user(s, v.clock.now())
            s.expunge(user)
        return user


@pytest.fixture
def people(vault: Vault) -> People:
    return People(vault)


@pytest.fixture
def runtime(vault: Vault) -> Runtime:
    """The vault with its search index, composed as every entry point does (web.bootstrap)."""
    return compose(vault)


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    from web import create_app

    flask_app = create_app(runtime=runtime)
    flask_app.config.update(TESTING=True)
    return flask_app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class Api:
    """A JSON API client that signs in as a given user with a bearer token."""

    def __init__(self, client: FlaskClient, people: People) -> None:
        self.client = client
        self.people = people
        self._tokens: dict[str, str] = {}

    def token(self, user: User) -> str:
        if user.username not in self._tokens:
            r = self.client.post("/api/v1/auth/token", json={"username": user.username, "password": PASSWORD})
            assert r.status_code == 201, r.get_json()
            self._tokens[user.username] = r.get_json()["token"]
        return self._tokens[user.username]

    def headers(self, user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}"}

    def get(self, user: User, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers=self.headers(user), **kw)

    def post(self, user: User, url: str, **kw: Any) -> Any:
        return self.client.post(url, headers=self.headers(user), **kw)

    def patch(self, user: User, url: str, **kw: Any) -> Any:
        return self.client.patch(url, headers=self.headers(user), **kw)

    def upload(self, user: User, dossier_id: int, path: Path, *, filename: str | None = None,
               doc_type: str = "contract", title: str | None = None, doc_date: str | None = None) -> Any:
        fields = {"doc_type": doc_type}
        if title:
            fields["title"] = title
        if doc_date:
            fields["doc_date"] = doc_date
        return post_file(self.client, f"/api/v1/dossiers/{dossier_id}/documents", self.headers(user), fields,
                         filename or path.name, path.read_bytes(), file_first=True)

    def new_dossier(self, user: User, **fields: Any) -> dict[str, Any]:
        owner = fields.get("owner")
        if owner in ("archivist", "employee", "legal", "manager"):
            getattr(self.people, owner)  # make sure the named role user exists
        body = {"customer_name": "测试客户有限公司", "customer_type": "client", **fields}
        r = self.post(user, "/api/v1/dossiers", json=body)
        assert r.status_code == 201, r.get_json()
        return dict(r.get_json())


@pytest.fixture
def api(client: FlaskClient, people: People) -> Api:
    return Api(client, people)
