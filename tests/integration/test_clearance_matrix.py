"""The clearance matrix: no endpoint, page or PDF names what is above the reader's clearance.

One world is built once for the module: a dossier that was internal while twelve people requested
checkouts of it and was then raised to secret, with a destroyed document (certificate), a held one and
one in a proposed batch mixed with an internal document; an internal dossier with its own executed
batch. Its customer name, archive number, titles and file name are canaries. Every endpoint that
returns another object's name, title, number or events is read by each role at each clearance: below
secret no canary may appear anywhere; at secret each role sees them where its role allows (so the
scan reads real answers, not empty ones).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader

from config import load_settings
from tests.conftest import PASSWORD, Api, People
from tests.support.workflow_fixtures import OLD, PDF, PDF2, PNG
from vault.clock import FixedClock
from vault.core import Vault, ensure_home
from vault.models import User
from vault.services import users
from vault.services.checkouts import run_overdue

CUSTOMER = "金丝雀秘密贸易有限公司Zephyrcorp"
TITLE = "Zephyrine绝密协议"
FILENAME = "zephyrine-scan-0042.pdf"
HELD_TITLE = "Quillonia保全文件"
MIXED_TITLE = "Marrowind混合批次"
PLAIN_CUSTOMER = "Plainview普通客户"

ROLES = ("admin", "legal", "manager", "archivist", "employee")
BELOW_SECRET = ("internal", "confidential")
AUDIT_ROLES = {"admin", "legal", "manager"}
DESTRUCTION_ROLES = {"archivist", "legal", "manager"}
REPORT_ROLES = {"archivist", "legal", "manager"}
REQUESTERS = {"legal", "manager", "archivist", "employee"}  # admin requests no checkouts


@dataclass
class World:
    vault: Vault
    app: Flask
    api: Api
    people: People
    canaries: list[str]
    secret_dossier: int
    destroyed_doc: int
    held_doc: int
    executed_secret_batch: int
    mixed_batch: int
    internal_batch: int
    checkout_of: dict[str, int] = field(default_factory=dict)
    clients: dict[str, FlaskClient] = field(default_factory=dict)

    def user(self, username: str) -> User:
        return self.people.make(username, username.split("-")[0], username.split("-")[1])

    def page_client(self, username: str) -> FlaskClient:
        """A signed-in browser session, one per user for the whole module (sign-ins are rate limited)."""
        if username not in self.clients:
            c = self.app.test_client()
            assert sign_in(c, username).status_code == 302
            self.clients[username] = c
        return self.clients[username]


def sign_in(client: FlaskClient, username: str) -> Any:
    """Sign in through the login form, with the form's CSRF token."""
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    return client.post("/login", data={"username": username, "password": PASSWORD,
                                       "csrf_token": token.group(1) if token else ""})


def _api_with_service_tokens(client: FlaskClient, people: People, vault: Vault, names: list[str]) -> Api:
    """An Api whose bearer tokens come from the token service, not from many /auth/token calls."""
    api = Api(client, people)
    for name in names:
        user = people.make(name, name.split("-")[0], name.split("-")[1])
        with vault.session() as s:
            token, _ = users.issue_token(vault, s, s.get(User, user.id))
        api._tokens[name] = token
    return api


def _ok(r: Any, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.get_data(as_text=True)[:500]
    return dict(r.get_json())


def _upload(api: Api, user: User, dossier_id: int, path: Path, title: str, filename: str | None = None) -> int:
    r = api.upload(user, dossier_id, path, filename=filename, doc_type="contract", title=title, doc_date=OLD)
    return int(_ok(r, 201)["id"])


def _batch(api: Api, w: dict[str, User], doc_ids: list[int], reason: str, *, execute: bool) -> int:
    batch = _ok(api.post(w["s-arch"], "/api/v1/destructions", json={"document_ids": doc_ids, "reason": reason}),
                201)
    if execute:
        for approver in (w["s-mgr"], w["s-legal"]):
            _ok(api.post(approver, f"/api/v1/destructions/{batch['id']}/approve", json={"comment": "同意"}))
        _ok(api.post(w["s-arch2"], f"/api/v1/destructions/{batch['id']}/execute"))
    return int(batch["id"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("clearance") / "home"
    settings = load_settings({"home": str(home), "token_ttl_hours": 24 * 365}, environ={})
    ensure_home(settings)
    clock = FixedClock()
    vault = Vault.open(settings, clock=clock, migrate_schema=True)
    from web import create_app

    app = create_app(vault=vault)
    app.config.update(TESTING=True)
    people = People(vault)
    crew = {"s-arch": ("archivist", "secret"), "s-arch2": ("archivist", "secret"),
            "s-mgr": ("manager", "secret"), "s-legal": ("legal", "secret")}
    w = {name: people.make(name, role, clearance) for name, (role, clearance) in crew.items()}
    matrix = [f"{role}-{clearance}" for role in ROLES for clearance in (*BELOW_SECRET, "secret")]
    for name in matrix:
        people.make(name, name.split("-")[0], name.split("-")[1])
    api = _api_with_service_tokens(app.test_client(), people, vault, [*crew, *matrix])

    # the canary dossier starts internal: everyone requests a checkout and is told it was approved
    canary = api.new_dossier(w["s-arch"], customer_name=CUSTOMER, secrecy="internal")
    destroyed = _upload(api, w["s-arch"], canary["id"], PDF, TITLE, FILENAME)
    held = _upload(api, w["s-arch"], canary["id"], PDF2, HELD_TITLE)
    mixed = _upload(api, w["s-arch"], canary["id"], PNG, MIXED_TITLE)
    checkout_of = {}
    for name in matrix:
        if name.split("-")[0] in REQUESTERS:
            co = _ok(api.post(people.make(name, *name.split("-")), "/api/v1/checkouts",
                              json={"dossier_id": canary["id"], "purpose": "授信复核", "kind": "view", "days": 1}),
                     201)
            _ok(api.post(w["s-arch"], f"/api/v1/checkouts/{co['id']}/approve", json={"comment": "ok"}))
            checkout_of[name] = co["id"]
    _ok(api.patch(w["s-arch"], f"/api/v1/dossiers/{canary['id']}", json={"secrecy": "secret"}))
    _ok(api.post(w["s-legal"], "/api/v1/holds", json={"document_id": held, "reason": "诉讼保全"}), 201)

    plain = api.new_dossier(w["s-arch"], customer_name=PLAIN_CUSTOMER, secrecy="internal")
    plain_a = _upload(api, w["s-arch"], plain["id"], PDF, "普通合同甲")
    plain_b = _upload(api, w["s-arch"], plain["id"], PDF2, "普通合同乙")

    executed = _batch(api, w, [destroyed], f"retention ended for {TITLE}", execute=True)
    internal = _batch(api, w, [plain_b], "保管期限届满", execute=True)
    mixed_batch = _batch(api, w, [plain_a, mixed], f"clear out {CUSTOMER} and others", execute=False)

    clock.advance(days=2)
    newly, _ = run_overdue(vault)  # overdue notices go out after the dossier became secret
    assert len(newly) == len(checkout_of)

    yield World(vault=vault, app=app, api=api, people=people,
                canaries=[CUSTOMER, canary["archive_no"], TITLE, FILENAME, HELD_TITLE, MIXED_TITLE],
                secret_dossier=canary["id"], destroyed_doc=destroyed, held_doc=held,
                executed_secret_batch=executed, mixed_batch=mixed_batch, internal_batch=internal,
                checkout_of=checkout_of)
    vault.close()


def _text(r: Any) -> str:
    """What a person could read in a response: JSON decoded, HTML as text, a PDF's extracted text."""
    if r.mimetype == "application/pdf":
        raw = "".join(page.extract_text() for page in PdfReader(io.BytesIO(r.data)).pages)
    elif r.is_json:
        raw = json.dumps(r.get_json(), ensure_ascii=False)
    else:
        raw = r.get_data(as_text=True)
    return "".join(raw.split())


def _endpoints(w: World, username: str) -> dict[str, tuple[str, set[str]]]:
    """url -> (kind, roles whose secret-cleared user must find a canary there)."""
    everyone = {*REQUESTERS}
    own = w.checkout_of.get(username)
    other = w.checkout_of["employee-secret"]
    e, m, c = w.executed_secret_batch, w.mixed_batch, w.secret_dossier
    urls: dict[str, tuple[str, set[str]]] = {
        "/api/v1/audit?per_page=200": ("api", AUDIT_ROLES),
        f"/api/v1/audit?dossier_id={c}": ("api", AUDIT_ROLES),
        f"/api/v1/audit?document_id={w.destroyed_doc}": ("api", AUDIT_ROLES),
        "/api/v1/audit?action=destruction.*": ("api", AUDIT_ROLES),
        "/api/v1/destructions?per_page=200": ("api", DESTRUCTION_ROLES),
        f"/api/v1/destructions/{e}": ("api", DESTRUCTION_ROLES),
        f"/api/v1/destructions/{m}": ("api", DESTRUCTION_ROLES),
        f"/api/v1/destructions/{w.internal_batch}": ("api", set()),
        f"/api/v1/destructions/{e}/certificate": ("api", DESTRUCTION_ROLES),
        "/api/v1/checkouts?per_page=200": ("api", everyone),
        "/api/v1/checkouts?mine=1": ("api", everyone),
        "/api/v1/checkouts?status=overdue": ("api", everyone),
        f"/api/v1/checkouts/{other}": ("api", {"archivist", "legal", "manager"}),
        "/api/v1/holds?active=0": ("api", set()),  # a hold names ids only
        "/api/v1/notifications?per_page=200": ("api", everyone),
        "/api/v1/reports/summary": ("api", REPORT_ROLES),
        "/api/v1/retention/due": ("api", REPORT_ROLES),
        "/api/v1/dossiers?per_page=200": ("api", everyone | {"admin"}),
        f"/api/v1/documents/{w.held_doc}": ("api", everyone | {"admin"}),
        "/": ("page", set()),
        "/audit": ("page", AUDIT_ROLES),
        f"/audit?dossier_id={c}": ("page", AUDIT_ROLES),
        "/checkouts?view=inbox&status=": ("page", {"archivist", "legal", "manager"}),
        "/checkouts?view=mine": ("page", everyone),
        "/holds?all=1": ("page", set()),
        "/dossiers": ("page", everyone | {"admin"}),
        f"/destructions/{e}/certificate.pdf": ("page", DESTRUCTION_ROLES),
    }
    if own is not None:
        urls[f"/api/v1/checkouts/{own}"] = ("api", everyone)
    return urls


def _get(w: World, username: str, url: str, kind: str) -> Any:
    if kind == "api":
        return w.api.get(w.user(username), url)
    return w.page_client(username).get(url)


BELOW = [f"{role}-{clearance}" for role in ROLES for clearance in BELOW_SECRET]


@pytest.mark.parametrize("username", BELOW)
def test_nothing_above_clearance_appears_in_any_answer(world: World, username: str) -> None:
    leaks = []
    for url, (kind, _) in _endpoints(world, username).items():
        r = _get(world, username, url, kind)
        assert r.status_code < 500, (url, r.status_code)
        text = _text(r)
        leaks += [f"{url} ({r.status_code}) shows {canary!r}" for canary in world.canaries
                  if "".join(canary.split()) in text]
    assert not leaks, "\n".join(leaks)


@pytest.mark.parametrize("role", ROLES)
def test_a_user_cleared_for_secret_finds_the_canaries_where_the_role_may_look(world: World, role: str) -> None:
    username = f"{role}-secret"
    missing = []
    for url, (kind, roles) in _endpoints(world, username).items():
        if role not in roles:
            continue
        r = _get(world, username, url, kind)
        assert r.status_code == 200, (url, r.status_code)
        if not any("".join(canary.split()) in _text(r) for canary in world.canaries):
            missing.append(url)
    assert not missing, f"{username} should see the secret dossier's names at {missing}"


@pytest.mark.parametrize("username", [f"{r}-{c}" for r in sorted(DESTRUCTION_ROLES) for c in BELOW_SECRET])
def test_a_batch_holding_anything_above_clearance_is_not_found_and_not_counted(world: World,
                                                                             username: str) -> None:
    api, user = world.api, world.user(username)
    for batch in (world.executed_secret_batch, world.mixed_batch):
        assert api.get(user, f"/api/v1/destructions/{batch}").status_code == 404
    assert api.get(user, f"/api/v1/destructions/{world.executed_secret_batch}/certificate").status_code == 404
    assert world.page_client(username).get(
        f"/destructions/{world.executed_secret_batch}/certificate.pdf").status_code == 404
    assert api.get(user, f"/api/v1/destructions/{world.internal_batch}").status_code == 200
    register = api.get(user, "/api/v1/destructions").get_json()
    assert [b["id"] for b in register["items"]] == [world.internal_batch] and register["total"] == 1
    if user.role.value == "manager":  # approving is reading: the hidden batch stays 404
        r = api.post(user, f"/api/v1/destructions/{world.mixed_batch}/approve", json={"comment": "同意"})
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "batch_not_found"


def test_the_register_lists_and_counts_every_batch_for_a_user_cleared_for_secret(world: World) -> None:
    register = world.api.get(world.user("legal-secret"), "/api/v1/destructions").get_json()
    assert register["total"] == 3 and {b["id"] for b in register["items"]} == {
        world.executed_secret_batch, world.mixed_batch, world.internal_batch}


@pytest.mark.parametrize("username", [f"{r}-{c}" for r in sorted(AUDIT_ROLES) for c in BELOW_SECRET])
def test_the_audit_trail_below_clearance_has_no_event_of_the_secret_dossier(world: World, username: str) -> None:
    api, user = world.api, world.user(username)
    filtered = api.get(user, f"/api/v1/audit?dossier_id={world.secret_dossier}").get_json()
    assert filtered == {"items": [], "total": 0, "page": 1, "per_page": filtered["per_page"]}
    events = api.get(user, "/api/v1/audit?per_page=200").get_json()
    assert events["total"] <= 200
    assert not [e for e in events["items"] if e["dossier_id"] == world.secret_dossier]
    batches = {str(world.executed_secret_batch), str(world.mixed_batch)}
    assert not [e for e in events["items"] if e["object_type"] == "destructionbatch" and e["object_id"] in batches]
    # what is within clearance stays: the internal batch and the events about no dossier (sign-ins, tokens)
    assert [e for e in events["items"] if e["object_type"] == "destructionbatch"
            and e["object_id"] == str(world.internal_batch)]
    assert [e for e in events["items"] if e["action"] == "token.issued"]


@pytest.mark.parametrize("username", [f"{r}-{c}" for r in sorted(REQUESTERS) for c in BELOW_SECRET])
def test_notices_and_checkouts_of_a_dossier_raised_above_clearance_are_gone(world: World, username: str) -> None:
    api, user = world.api, world.user(username)
    notes = api.get(user, "/api/v1/notifications").get_json()
    assert notes["total"] == 0 and notes["items"] == []
    assert api.get(user, f"/api/v1/checkouts/{world.checkout_of[username]}").status_code == 404
    assert api.get(user, "/api/v1/checkouts?mine=1").get_json()["total"] == 0


def test_a_requester_cleared_for_secret_keeps_the_notices_of_the_raised_dossier(world: World) -> None:
    notes = world.api.get(world.user("employee-secret"), "/api/v1/notifications").get_json()
    assert sorted(n["kind"] for n in notes["items"]) == ["checkout.approved", "checkout.overdue"]


@pytest.mark.parametrize("username", ["legal-internal", "manager-confidential", "archivist-internal"])
def test_the_destructions_page_shows_no_batch_above_clearance(world: World, username: str) -> None:
    r = world.page_client(username).get("/destructions")
    assert r.status_code == 200
    text = _text(r)
    assert not [c for c in world.canaries if "".join(c.split()) in text]
