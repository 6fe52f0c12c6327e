"""Search on the PostgreSQL engine as users meet it, through the API: the worker writes the index rows
in its own transaction, owners' scopes follow a new owner, and a destruction takes the rows with it.

Runs on the session's one PostgreSQL test server (a fresh database per test).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from indexer import pg_index
from indexer.search_index import SearchIndex
from indexer.worker import run_pending
from tests.conftest import Api, People
from tests.corpus import SYNTHETIC, manifest
from tests.integration.test_destruction import _approved_batch
from tests.integration.test_pages import as_user
from vault.core import Vault

TEXT_FILES = [e for e in manifest(SYNTHETIC)["files"] if not e["needs_ocr"] and e["path"].endswith(".pdf")][:3]


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
                             doc_date="1990-01-01").get_json()["id"] for e in TEXT_FILES[:2])
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


def test_past_the_counted_bound_the_page_says_at_least_and_how_many_are_ranked_in_both_languages(
        api: Api, people: People, app: Flask, vault: Vault, index: SearchIndex,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_index, "COUNTED_MATCHES", 2)  # 1,000 in production: three uploads cross 2
    monkeypatch.setattr(pg_index, "RANKED_MATCHES", 1)  # 300 in production
    d = api.new_dossier(people.archivist)
    ids = [api.upload(people.archivist, d["id"], SYNTHETIC / e["path"], doc_type=e["doc_type"]).get_json()["id"]
           for e in TEXT_FILES]
    run_pending(vault, index)
    broad = api.get(people.legal, "/api/v1/search", query_string={"q": "有限公司"}).get_json()
    assert (broad["total"], broad["total_exact"]) == (2, False)
    assert [i["document_id"] for i in broad["items"]] == sorted(ids)[:0:-1], "the newest two, newest first"
    page = as_user(app, people.legal).get("/search?q=有限公司&lang=en").get_data(as_text=True)
    assert "at least 2 results; the best of the newest 1 come first, then the others, newest first" in page
    page = as_user(app, people.legal).get("/search?q=有限公司&lang=zh").get_data(as_text=True)
    assert "至少 2 条结果；最新 1 条中最相关的排在前面，其余按从新到旧排列" in page
    narrow = as_user(app, people.legal).get(f'/search?q="{TEXT_FILES[0]["terms"][0]}"&lang=en').get_data(as_text=True)
    assert re.search(r'id="result-count">[12] results<', narrow), "a narrow query's total is exact"


def test_dossier_reindex_on_pg_shows_its_progress_says_it_compacts_and_search_finds_as_before(
        api: Api, people: People, vault: Vault, index: SearchIndex) -> None:
    from click.testing import CliRunner

    from web.cli import main

    d = api.new_dossier(people.archivist)
    entry = TEXT_FILES[0]
    doc_id = api.upload(people.archivist, d["id"], SYNTHETIC / entry["path"], doc_type=entry["doc_type"],
                        doc_date="1990-01-01").get_json()["id"]
    run_pending(vault, index)
    env = {"DOSSIER_HOME": str(vault.settings.home), "DOSSIER_DATABASE_URL": vault.settings.database_url,
           "DOSSIER_SEARCH_ENGINE": "pg"}
    result = CliRunner().invoke(main, ["reindex"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Reindexing" in result.output
    assert "compacting the search index in one pass" in result.output
    assert "reindexed 1 documents" in result.output
    assert _found(api, people.legal, entry["terms"][0]) == [doc_id]
