"""Search on the PostgreSQL engine as users meet it, through the API: the worker writes the index rows
in its own transaction, owners' scopes follow a new owner, and a destruction takes the rows with it.

Runs on the session's one PostgreSQL test server (a fresh database per test).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from indexer.search_index import SearchIndex
from indexer.worker import run_pending
from tests.conftest import Api, People
from tests.corpus import SYNTHETIC, manifest
from tests.integration.test_destruction import _approved_batch
from vault.core import Vault

TEXT_FILES = [e for e in manifest(SYNTHETIC)["files"] if not e["needs_ocr"] and e["path"].endswith(".pdf")][:2]


@pytest.fixture
def settings_overrides(pg_url: str) -> dict[str, Any]:
    return {"database_url": pg_url, "search_engine": "pg", "token_ttl_hours": 24 * 365 * 50}


def _rows(vault: Vault, document_id: int) -> int:
    with vault.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM search_chunks WHERE document_id = :i"),
                                {"i": document_id}).scalar_one())


def _found(api: Api, user: Any, term: str) -> list[int]:
    body = api.get(user, "/api/v1/search", query_string={"q": f'"{term}"'}).get_json()
    assert body["total"] == len(body["items"]) and body["total_exact"] is True, body
    return [i["document_id"] for i in body["items"]]


def test_an_uploaded_document_is_found_once_the_worker_indexed_it_in_the_database(
        api: Api, people: People, vault: Vault, index: SearchIndex) -> None:
    d = api.new_dossier(people.archivist)
    entry = TEXT_FILES[0]
    doc_id = api.upload(people.archivist, d["id"], SYNTHETIC / entry["path"], doc_type=entry["doc_type"],
                        doc_date="1990-01-01").get_json()["id"]
    assert _found(api, people.legal, entry["terms"][0]) == []
    assert run_pending(vault, index) == 2  # the document and the new customer's card
    assert _found(api, people.legal, entry["terms"][0]) == [doc_id]
    assert vault.settings.index_path.exists() is False or not any(vault.settings.index_path.iterdir())


def test_a_dossier_handed_to_another_owner_is_found_by_the_new_owner_and_not_the_old(
        api: Api, people: People, vault: Vault, index: SearchIndex) -> None:
    old, new = people.employee, people.make("emp-new", "employee", "internal")
    d = api.new_dossier(people.archivist, owner=old.username)
    entry = TEXT_FILES[0]
    doc_id = api.upload(people.archivist, d["id"], SYNTHETIC / entry["path"], doc_type=entry["doc_type"]
                        ).get_json()["id"]
    run_pending(vault, index)
    term = entry["terms"][0]
    assert _found(api, old, term) == [doc_id] and _found(api, new, term) == []
    r = api.patch(people.archivist, f"/api/v1/dossiers/{d['id']}", json={"owner": new.username, "reason": "调岗"})
    assert r.status_code == 202, "a new owner waits for a manager"
    change = r.get_json()["owner_change"]["id"]
    assert api.post(people.manager, f"/api/v1/owner-changes/{change}/approve").status_code == 200
    assert run_pending(vault, index) == 1  # the dossier's documents re-added with their new owner
    assert _found(api, old, term) == [] and _found(api, new, term) == [doc_id]


def test_a_destruction_deletes_the_documents_index_rows_in_its_own_transaction(
        api: Api, people: People, vault: Vault, index: SearchIndex) -> None:
    d = api.new_dossier(people.archivist)
    gone, kept = (api.upload(people.archivist, d["id"], SYNTHETIC / e["path"], doc_type=e["doc_type"],
                             doc_date="1990-01-01").get_json()["id"] for e in TEXT_FILES)
    run_pending(vault, index)
    assert _rows(vault, gone) > 0 and _rows(vault, kept) > 0
    batch = _approved_batch(api, people, [gone])
    r = api.post(people.make("arch2", "archivist"), f"/api/v1/destructions/{batch['id']}/execute")
    assert r.status_code == 200, r.get_json()
    assert _rows(vault, gone) == 0, "gone before the purge job ran"
    assert _found(api, people.legal, TEXT_FILES[0]["terms"][0]) == []
    run_pending(vault, index)  # the purge job finds nothing left and says so in the audit trail
    assert _rows(vault, gone) == 0 and _rows(vault, kept) > 0
    assert kept in _found(api, people.legal, TEXT_FILES[1]["terms"][0])
