"""Search on the FTS5 engine as users meet it, through the API and the pages: the bound on ranked
matches, and owners' scopes, which that engine reads from an owner tag in the index.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from indexer import fts5_index
from indexer.search_index import SearchIndex
from indexer.worker import run_pending
from tests.conftest import Api, People
from tests.corpus import SYNTHETIC, manifest
from tests.integration.test_pages import as_user
from vault.core import Vault

TEXT_FILES = [e for e in manifest(SYNTHETIC)["files"] if not e["needs_ocr"] and e["path"].endswith(".pdf")][:3]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"search_engine": "fts5"}


def test_past_the_ranked_bound_the_total_is_a_lower_bound_and_says_so(
        api: Api, people: People, app: Flask, vault: Vault, index: SearchIndex,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fts5_index, "RANKED_MATCHES", 2)  # 1,000 in production: three uploads cross 2
    d = api.new_dossier(people.archivist)
    ids = [api.upload(people.archivist, d["id"], SYNTHETIC / e["path"], doc_type=e["doc_type"]).get_json()["id"]
           for e in TEXT_FILES]
    assert run_pending(vault, index) == 4  # the three documents and the new customer's card
    broad = api.get(people.legal, "/api/v1/search", query_string={"q": "有限公司"}).get_json()
    assert broad["total"] == 2 and broad["total_exact"] is False
    assert {i["document_id"] for i in broad["items"]} == set(sorted(ids)[-2:]), "the newest matches are ranked"
    narrow = api.get(people.legal, "/api/v1/search", query_string={"q": f'"{TEXT_FILES[0]["terms"][0]}"'}).get_json()
    assert narrow["total_exact"] is True and ids[0] in [i["document_id"] for i in narrow["items"]]
    page = as_user(app, people.legal).get("/search?q=有限公司&lang=en").get_data(as_text=True)
    assert "at least 2 results" in page
    page = as_user(app, people.legal).get("/search?q=有限公司&lang=zh").get_data(as_text=True)
    assert "至少 2 条结果" in page


def test_a_dossier_handed_to_another_owner_is_found_by_the_new_owner_and_not_the_old(
        api: Api, people: People, vault: Vault, index: SearchIndex) -> None:
    old, new = people.employee, people.make("emp-new", "employee", "internal")
    d = api.new_dossier(people.archivist, owner=old.username)
    entry = TEXT_FILES[0]
    doc_id = api.upload(people.archivist, d["id"], SYNTHETIC / entry["path"], doc_type=entry["doc_type"]
                        ).get_json()["id"]
    run_pending(vault, index)
    q = {"q": f'"{entry["terms"][0]}"'}
    assert [i["document_id"] for i in api.get(old, "/api/v1/search", query_string=q).get_json()["items"]] == [doc_id]
    assert api.get(new, "/api/v1/search", query_string=q).get_json()["total"] == 0
    r = api.patch(people.archivist, f"/api/v1/dossiers/{d['id']}", json={"owner": new.username, "reason": "调岗"})
    assert r.status_code == 202, "a new owner waits for a manager"
    change = r.get_json()["owner_change"]["id"]
    assert api.post(people.manager, f"/api/v1/owner-changes/{change}/approve").status_code == 200
    assert api.get(old, "/api/v1/search", query_string=q).get_json()["total"] == 0  # the database has the last word
    assert run_pending(vault, index) == 1  # the dossier's documents re-added with their new owner
    assert api.get(old, "/api/v1/search", query_string=q).get_json()["total"] == 0
    found = api.get(new, "/api/v1/search", query_string=q).get_json()
    assert found["total"] == 1 and found["items"][0]["document_id"] == doc_id
