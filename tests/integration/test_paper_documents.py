"""A document received on paper has no file yet: the dossier and document pages, search, checkouts, the
retention list and destruction handle it like any other, and a scan added later becomes its version 1."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from indexer.search_index import SearchIndex
from indexer.worker import run_pending
from tests.conftest import Api, People
from tests.integration.test_pages import as_user
from tests.support.workflow_fixtures import PDF
from vault.core import Vault


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"token_ttl_hours": 24 * 365 * 50}


def _paper_document(api: Api, people: People, **dossier_fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    d = api.new_dossier(people.archivist, owner="archivist", **dossier_fields)
    t = api.post(people.employee, "/api/v1/transfers", json={"dossier_id": d["id"], "items": [
        {"title": "担保函原件", "doc_type": "correspondence", "doc_date": "1990-01-01", "pages": 2,
         "responsible": "华南担保股份公司", "remarks": "骑缝章完整"}]}).get_json()
    r = api.post(people.archivist, f"/api/v1/transfers/{t['id']}/receive",
                 json={"items": [{"index": 1, "state": "present"}]})
    assert r.status_code == 200, r.get_json()
    doc = api.get(people.archivist, f"/api/v1/documents/{r.get_json()['items'][0]['document_id']}").get_json()
    return d, doc


def test_pages_search_and_checkouts_cope_with_a_document_that_has_no_file(
        app: Flask, api: Api, people: People, vault: Vault, index: SearchIndex) -> None:
    d, doc = _paper_document(api, people)
    run_pending(vault, index)  # the receipt queued the dossier: its paper documents' metadata is indexed
    for words in ("担保函", "骑缝章", "华南担保"):  # the title, the remarks, the responsible party
        hits = api.get(people.archivist, f"/api/v1/search?q={words}").get_json()["items"]
        assert [(h["document_id"], h["paper_only"]) for h in hits] == [(doc["id"], True)], (words, hits)
    assert "骑缝章" in api.get(people.archivist, "/api/v1/search?q=骑缝章").get_json()["items"][0]["snippet"]
    # the rules of any document: the owner-less employee finds nothing until a checkout lets them read it
    assert api.get(people.employee, "/api/v1/search?q=担保函").get_json()["total"] == 0
    found = as_user(app, people.archivist).get("/search?q=担保函").get_data(as_text=True)
    assert "paper-only" in found
    for user in (people.archivist, people.employee):
        c = as_user(app, user)
        page = c.get(f"/dossiers/{d['id']}")
        assert page.status_code == 200 and "担保函原件" in page.get_data(as_text=True)
        assert doc["item_code"] in page.get_data(as_text=True)
        doc_page = c.get(f"/documents/{doc['id']}").get_data(as_text=True)
        assert 'id="paper-only"' in doc_page and f"/api/v1/documents/{doc['id']}/content" not in doc_page
    co = api.post(people.employee, "/api/v1/checkouts", json={
        "dossier_id": d["id"], "purpose": "核对原件", "kind": "view", "days": 3, "document_ids": [doc["id"]]})
    assert co.status_code == 201, co.get_json()
    assert api.post(people.archivist, f"/api/v1/checkouts/{co.get_json()['id']}/approve",
                    json={"comment": "ok"}).status_code == 200
    employee_view = as_user(app, people.employee).get(f"/documents/{doc['id']}")
    assert employee_view.status_code == 200
    assert [h["document_id"] for h in api.get(people.employee, "/api/v1/search?q=担保函").get_json()["items"]] \
        == [doc["id"]]
    assert api.get(people.employee, f"/api/v1/documents/{doc['id']}/content").status_code == 404


def test_a_scan_of_a_paper_document_becomes_its_first_version(
        api: Api, people: People, vault: Vault, index: SearchIndex) -> None:
    from tests.support.multipart import post_file

    _d, doc = _paper_document(api, people)
    r = post_file(api.client, f"/api/v1/documents/{doc['id']}/versions", api.headers(people.archivist), {},
                  PDF.name, PDF.read_bytes(), file_first=True)
    assert r.status_code == 201, r.get_json()
    after = api.get(people.archivist, f"/api/v1/documents/{doc['id']}").get_json()
    assert after["version"] == 1 and after["item_no"] == doc["item_no"]
    run_pending(vault, index)  # the scan's text replaces the paper entry: no longer paper only
    hits = api.get(people.archivist, "/api/v1/search?q=担保函").get_json()["items"]
    assert [(h["document_id"], h["paper_only"]) for h in hits] == [(doc["id"], False)]


def test_a_paper_document_past_retention_is_listed_and_destroyed_like_any_other(
        api: Api, people: People, vault: Vault) -> None:
    _d, doc = _paper_document(api, people)
    due = api.get(people.archivist, "/api/v1/retention/due").get_json()
    assert doc["id"] in [x["document_id"] for x in due["items"]]
    batch = api.post(people.archivist, "/api/v1/destructions",
                     json={"document_ids": [doc["id"]], "reason": "保管期限届满"}).get_json()
    for approver in (people.manager, people.legal):
        assert api.post(approver, f"/api/v1/destructions/{batch['id']}/approve",
                        json={"comment": "同意"}).status_code == 200
    done = api.post(people.archivist, f"/api/v1/destructions/{batch['id']}/execute")
    assert done.status_code == 200, done.get_json()
    assert api.get(people.archivist, f"/api/v1/documents/{doc['id']}").get_json()["status"] == "destroyed"
    cert = api.get(people.legal, f"/api/v1/destructions/{batch['id']}/certificate")
    assert cert.status_code == 200 and cert.data.startswith(b"%PDF")


@pytest.mark.parametrize("settings_overrides", [{"token_ttl_hours": 24, "search_engine": "fts5"}])
def test_a_paper_document_is_found_by_its_title_on_the_fts5_engine_too_and_after_a_rebuild(
        api: Api, people: People, vault: Vault, index: SearchIndex, settings_overrides: dict[str, Any]) -> None:
    from indexer.service import reindex_all

    _d, doc = _paper_document(api, people)
    run_pending(vault, index)
    for _rebuilt in (False, True):
        hits = api.get(people.archivist, "/api/v1/search?q=担保函原件").get_json()["items"]
        assert [(h["document_id"], h["paper_only"]) for h in hits] == [(doc["id"], True)]
        reindex_all(vault, index)
