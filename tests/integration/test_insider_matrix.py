"""The insider matrix of what shows a document's or a record's existence and words: role x secrecy level.

One scene per engine (the default Whoosh on SQLite, and pg on PostgreSQL), built once for the module: four
individual customers, one at each secrecy level, all owned by the same employee, each with a backup owner on
its card, an approved checkout of the whole dossier for a third employee (where their clearance lets them ask),
a paper-only document received through a transfer (its title, item number, responsible party and remarks
searchable), a document with text, a contact with a phone and a record with details. Everyone in the
matrix is cleared up to confidential, so the secret customer is above every caller's clearance.

The rules (`vault.policy`): a dossier within clearance is seen by everyone; its documents, contacts and records
are read by the content roles (archivist, legal, manager), its owner and backup owner, and an active checkout of
it; an admin reads no content. Above clearance nothing is found, listed or counted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from config import load_settings
from indexer.worker import run_pending
from tests.conftest import Api, People
from tests.integration.test_clearance_matrix import _api_with_service_tokens
from tests.support.workflow_fixtures import PDF, upload
from vault.card_values import mask
from vault.clock import FixedClock
from vault.core import Vault, ensure_home
from web.bootstrap import compose

LEVELS = ("public", "internal", "confidential", "secret")
CLEARANCE = "confidential"
# username -> role; every one of them is cleared up to CLEARANCE
CALLERS = {"admin": "admin", "archivist": "archivist", "legal": "legal", "manager": "manager",
           "owner": "employee", "backup": "employee", "borrower": "employee", "stranger": "employee"}
READERS = {"archivist", "legal", "manager", "owner", "backup", "borrower"}
# one made-up word per level and field, so that a search names exactly one dossier's one entry
WORD = {"public": "Alderic", "internal": "Brevant", "confidential": "Castorel", "secret": "Dorvish"}
ID_BASE = {"public": "11010519800101001", "internal": "11010519800202002", "confidential": "11010519800303003",
           "secret": "11010519800404004"}


def _id_number(base17: str) -> str:
    """A resident ID number with its GB 11643 check digit."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return base17 + "10X98765432"[sum(int(c) * w for c, w in zip(base17, weights, strict=True)) % 11]


@dataclass
class Customer:
    level: str
    dossier_id: int
    archive_no: str
    name: str
    id_number: str
    paper_doc: int
    item_code: str
    text_doc: int
    contact: str
    phone: str
    summary: str
    details: str


@dataclass
class Scene:
    engine: str
    vault: Vault
    api: Api
    people: People
    customers: dict[str, Customer]
    exports: dict[tuple[str, str], list[dict[str, str]]] = field(default_factory=dict)

    def caller(self, username: str) -> Any:
        return self.people.make(username, CALLERS[username], CLEARANCE)


def sees(level: str) -> bool:
    return LEVELS.index(level) <= LEVELS.index(CLEARANCE)


def reads(username: str, level: str) -> bool:
    return sees(level) and username in READERS


def _ok(r: Any, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.get_data(as_text=True)[:500]
    return dict(r.get_json())


def _customer(api: Api, people: People, level: str) -> Customer:
    top, archivist = people.make("top", "archivist", "secret"), people.make("archivist", "archivist", CLEARANCE)
    word = WORD[level]
    number = _id_number(ID_BASE[level])
    d = _ok(api.post(top, "/api/v1/dossiers", json={
        "customer_name": f"矩阵客户{level}", "customer_type": "client", "customer_kind": "individual",
        "id_number": number, "owner": "owner", "secrecy": level}), 201)
    _ok(api.patch(top, f"/api/v1/dossiers/{d['id']}/card", json={"fields": {"backup_owner": "backup"},
                                                                   "reason": "A/B 岗"}))
    t = _ok(api.post(top, "/api/v1/transfers", json={"dossier_id": d["id"], "items": [
        {"title": f"{word}担保函", "doc_type": "correspondence", "doc_date": "2020-01-01", "pages": 2,
         "responsible": f"Resp{word}担保公司", "remarks": f"Rem{word}骑缝章"}]}), 201)
    received = _ok(api.post(people.make("top2", "archivist", "secret"), f"/api/v1/transfers/{t['id']}/receive",
                            json={"items": [{"index": 1, "state": "present"}]}))
    paper = _ok(api.get(top, f"/api/v1/documents/{received['items'][0]['document_id']}"))
    text = upload(api, top, d["id"], PDF, title=f"{word}合同")
    phone = f"1391234{LEVELS.index(level):04d}"
    _ok(api.post(top, f"/api/v1/dossiers/{d['id']}/contacts", json={"name": f"Con{word}联系人", "phones": [phone]}),
        201)
    _ok(api.post(top, f"/api/v1/dossiers/{d['id']}/records", json={
        "kind": "visit", "occurred_at": "2026-01-02", "summary": f"Sum{word}会谈要点",
        "details": f"Det{word}谈话细节", "staff": "top"}), 201)
    if sees(level):  # the borrower asks for the whole dossier; above clearance they cannot ask at all
        co = _ok(api.post(people.make("borrower", "employee", CLEARANCE), "/api/v1/checkouts", json={
            "dossier_id": d["id"], "purpose": "核对往来记录", "kind": "view", "days": 30}), 201)
        _ok(api.post(archivist, f"/api/v1/checkouts/{co['id']}/approve", json={"comment": "ok"}))
    return Customer(level, d["id"], d["archive_no"], d["customer_name"], number, paper["id"], paper["item_code"],
                    text["id"], f"Con{word}联系人", phone, f"Sum{word}会谈要点", f"Det{word}谈话细节")


@pytest.fixture(scope="module", params=["whoosh", "pg"])
def scene(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    from web import create_app

    overrides: dict[str, Any] = {"home": str(tmp_path_factory.mktemp(f"insider-{request.param}") / "home"),
                                 "token_ttl_hours": 24 * 365 * 50}
    if request.param == "pg":
        overrides |= {"database_url": request.getfixturevalue("pg_fresh_database")(), "search_engine": "pg"}
    settings = load_settings(overrides, environ={})
    ensure_home(settings)
    # the wall clock's time: the CLI (which reads the wall clock) finds the checkouts as the API does
    v = Vault.open(settings, clock=FixedClock(datetime.now(UTC).replace(microsecond=0)), migrate_schema=True)
    try:
        runtime = compose(v)
        app = create_app(runtime=runtime)
        app.config.update(TESTING=True)
        people = People(v)
        for username, role in CALLERS.items():
            people.make(username, role, CLEARANCE)
        people.make("top", "archivist", "secret")
        people.make("top2", "archivist", "secret")  # nobody receives their own transfer
        api = _api_with_service_tokens(app.test_client(), people, v, [])
        for name in ("top", "top2", *CALLERS):
            _token(api, people, v, name)
        customers = {level: _customer(api, people, level) for level in LEVELS}
        run_pending(v, runtime.index)
        yield Scene(request.param, v, api, people, customers)
    finally:
        v.close()


def _token(api: Api, people: People, v: Vault, username: str) -> None:
    from vault.models import User
    from vault.services import users

    user = people.make(username, CALLERS.get(username, "archivist"))
    with v.session() as s:
        token, _ = users.issue_token(v, s, s.get(User, user.id))
    api._tokens[username] = token


CELLS = [(username, level) for username in CALLERS for level in LEVELS]


def _search(scene: Scene, username: str, q: str) -> dict[str, Any]:
    r = scene.api.get(scene.caller(username), "/api/v1/search", query_string={"q": q, "per_page": 100})
    return _ok(r)


@pytest.mark.parametrize(("username", "level"), CELLS)
def test_a_paper_only_document_is_found_by_each_of_its_fields_exactly_when_a_document_with_text_is(
        scene: Scene, username: str, level: str) -> None:
    c = scene.customers[level]
    word = WORD[level]
    # the title finds the paper-only document and the document with text together, or neither
    by_title = _search(scene, username, word)
    hits = {(h["document_id"], h["paper_only"]) for h in by_title["items"]}
    expected = {(c.paper_doc, True), (c.text_doc, False)} if reads(username, level) else set()
    assert hits == expected, (scene.engine, by_title)
    assert by_title["total"] == len(expected)
    # its responsible party, remarks and item number find it alone, on the same rules
    for q in (f"Resp{word}", f"Rem{word}", f'"{c.item_code}"'):
        found = _search(scene, username, q)
        paper = [h for h in found["items"] if h["document_id"] == c.paper_doc]
        assert [h["paper_only"] for h in paper] == ([True] if reads(username, level) else []), (q, found)
        assert {h["dossier_id"] for h in found["items"]} <= ({c.dossier_id} if reads(username, level) else set())
        assert found["total"] == len(found["items"]), (q, found)


@pytest.mark.parametrize("username", list(CALLERS))
def test_a_search_over_every_level_lists_and_counts_only_what_the_caller_may_read(scene: Scene, username: str) -> None:
    readable = [scene.customers[lv] for lv in LEVELS if reads(username, lv)]
    # every paper-only document's remarks, every text document's title: the same dossiers either way
    for q, expected in (("骑缝章", {(c.dossier_id, c.paper_doc, True) for c in readable}),
                        ("合同", {(c.dossier_id, c.text_doc, False) for c in readable})):
        found = _search(scene, username, q)
        assert {(h["dossier_id"], h["document_id"], h["paper_only"]) for h in found["items"]} == expected, found
        assert found["total"] == len(expected)


def _export(scene: Scene, username: str, sheet: str) -> list[dict[str, str]]:
    """The caller's export through the API, read once per module (every level's cells read the same file)."""
    if (username, sheet) not in scene.exports:
        scene.exports[username, sheet] = _fetch_export(scene, username, sheet)
    return scene.exports[username, sheet]


def _fetch_export(scene: Scene, username: str, sheet: str) -> list[dict[str, str]]:
    r = scene.api.get(scene.caller(username), f"/api/v1/exports/{sheet}", query_string={"format": "csv",
                                                                                        "lang": "en"})
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    return _rows(r.data.decode("utf-8"))


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


@pytest.mark.parametrize(("username", "level"), CELLS)
def test_contacts_and_records_exports_show_a_row_its_words_and_its_sensitive_fields_by_the_rules(
        scene: Scene, username: str, level: str) -> None:
    c = scene.customers[level]
    contacts = _export(scene, username, "contacts")
    records = _export(scene, username, "records")
    whole = str(contacts) + str(records)
    if not sees(level):  # not there, not named, not counted
        assert c.archive_no not in whole and c.name not in whole and c.summary not in whole
        return
    mine = [r for r in records if next(iter(r.values())) == c.archive_no]
    people = [r for r in contacts if next(iter(r.values())) == c.archive_no]
    assert len(mine) == 1 and len(people) == 1, (records, contacts)
    record, contact = list(mine[0].values()), list(people[0].values())
    assert c.name in record and c.name in contact
    # the customer's ID number names the row: in full to those who may read the content (audited), else masked
    shown = mine[0]["ID number"]
    assert shown == (c.id_number if reads(username, level) else mask("id_number", c.id_number))
    assert people[0]["ID number"] == shown
    # that a visit took place, when and by whom: everyone who sees the dossier
    assert "2026-01-02" in " ".join(record) and "top" in record
    if reads(username, level):
        assert c.summary in record and c.details in record
        assert c.contact in contact and c.phone in " ".join(contact)
    else:
        assert c.summary not in whole and c.details not in whole
        assert c.contact not in whole and c.phone not in whole and c.id_number not in whole


@pytest.mark.parametrize("scene", ["whoosh"], indirect=True)  # the CLI reads the home's SQLite database
@pytest.mark.parametrize("username", list(CALLERS))
def test_the_cli_export_as_each_caller_writes_the_rows_the_api_gives_them(
        scene: Scene, username: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from web.cli import main

    env = {"DOSSIER_HOME": str(scene.vault.settings.home)}
    for sheet in ("contacts", "records"):
        out = tmp_path / f"{sheet}.csv"
        result = CliRunner().invoke(main, ["customers", "export", "--sheet", sheet, "--format", "csv", "--lang", "en",
                                           "--as", username, "--output", str(out)], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert _rows(out.read_text(encoding="utf-8")) == _fetch_export(scene, username, sheet)
