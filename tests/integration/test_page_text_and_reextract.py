"""What was read on each page, beside its image, and extracting a document's text again (issue 13).

Real components throughout: the sandboxed extractor, the worker, the sealed text store and the pages.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from reportlab.pdfgen import canvas
from sqlalchemy import select

from indexer.search_index import SearchIndex
from indexer.worker import run_pending
from tests.conftest import Api, People
from tests.integration.test_pages import as_user, csrf_of, post_form
from tests.support.workflow_fixtures import upload
from vault.core import Vault
from vault.models import AuditEvent, Document, DocumentVersion, Job, JobStatus
from vault.services.texts import open_text, seal_text

PAGE_ONE = "Framework agreement HYGL clause one"
PAGE_TWO = "Schedule of payments Quartz ledger"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"token_ttl_hours": 24 * 365 * 50}


def _two_page_pdf(path: Path) -> Path:
    """A PDF with a text layer on each page and a different sentence on each."""
    pdf = canvas.Canvas(str(path))
    for line in (PAGE_ONE, PAGE_TWO):
        pdf.setFont("Helvetica", 14)
        pdf.drawString(72, 720, line)
        pdf.showPage()
    pdf.save()
    return path


@pytest.fixture
def scanned(api: Api, people: People, vault: Vault, index: SearchIndex, tmp_path: Path) -> dict[str, Any]:
    d = api.new_dossier(people.archivist)
    doc = upload(api, people.archivist, d["id"], _two_page_pdf(tmp_path / "agreement.pdf"), doc_type="contract")
    assert run_pending(vault, index) == 2  # the document and the new customer's card
    return {"dossier": d, "doc": doc}


def _section(html: str, page: int) -> str:
    found = re.search(rf'<section class="page-text" id="page-text-{page}".*?</section>', html, re.S)
    return found.group(0) if found else ""


def _text_of(vault: Vault, document_id: int) -> str | None:
    with vault.session() as s:
        version = s.scalars(select(DocumentVersion).where(DocumentVersion.document_id == document_id)).one()
        return open_text(vault, version)


def test_an_archivist_sees_each_pages_text_beside_its_image_and_the_read_is_audited(
        app: Flask, people: People, vault: Vault, scanned: dict[str, Any]) -> None:
    doc_id = scanned["doc"]["id"]
    assert _text_of(vault, doc_id) == f"{PAGE_ONE}\f{PAGE_TWO}", "pages are kept apart in the sealed text"
    html = as_user(app, people.archivist).get(f"/documents/{doc_id}").get_data(as_text=True)
    one, two = _section(html, 1), _section(html, 2)
    assert PAGE_ONE in one and PAGE_TWO not in one
    assert PAGE_TWO in two and PAGE_ONE not in two
    with vault.session() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "document.read")).all()
        reads = [json.loads(e.details) for e in events]
    assert any(d.get("purpose") == "text" and d.get("pages") == 2 for d in reads), reads


def test_a_view_checkout_holder_sees_watermarked_pages_but_not_their_text(
        app: Flask, api: Api, people: People, vault: Vault, scanned: dict[str, Any]) -> None:
    reader = people.make("viewer", "employee")
    r = api.post(reader, "/api/v1/checkouts", json={"dossier_id": scanned["dossier"]["id"], "purpose": "授信复核",
                                                   "kind": "view", "days": 7})
    assert r.status_code == 201, r.get_json()
    assert api.post(people.archivist, f"/api/v1/checkouts/{r.get_json()['id']}/approve",
                    json={"comment": "ok"}).status_code == 200
    html = as_user(app, reader).get(f"/documents/{scanned['doc']['id']}").get_data(as_text=True)
    assert 'id="watermark-note"' in html and "/pages/2.png" in html, "the holder does read the pages"
    assert "page-text-" not in html and PAGE_ONE not in html and PAGE_TWO not in html
    assert "reextract" not in html


def test_extracting_again_reads_the_file_anew_in_the_worker_and_replaces_the_stored_text(
        api: Api, people: People, vault: Vault, index: SearchIndex, scanned: dict[str, Any]) -> None:
    doc_id = scanned["doc"]["id"]
    with vault.session() as s:  # as if extracted with worse settings before: the stored text is poor
        version = s.scalars(select(DocumentVersion).where(DocumentVersion.document_id == doc_id)).one()
        version.text_ciphertext = seal_text(vault, version, "Framewrk agrcement")
    r = api.post(people.archivist, f"/api/v1/documents/{doc_id}/reextract")
    assert r.status_code == 202, r.get_json()
    assert r.get_json()["index_status"] == "queued"
    again = api.post(people.archivist, f"/api/v1/documents/{doc_id}/reextract")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "extraction_pending"
    assert run_pending(vault, index) == 1
    assert _text_of(vault, doc_id) == f"{PAGE_ONE}\f{PAGE_TWO}", "the file was read again, not the stored text"
    assert api.get(people.archivist, f"/api/v1/documents/{doc_id}").get_json()["index_status"] == "indexed"
    with vault.session() as s:
        jobs = s.scalars(select(Job).where(Job.kind == "index").order_by(Job.id)).all()
        assert [j.status for j in jobs] == [JobStatus.DONE, JobStatus.DONE]
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "document.reextract_queued")).one()
        assert json.loads(event.details)["version"] == 1 and event.actor_name == people.archivist.username


def test_the_document_page_button_queues_it_with_csrf_and_shows_the_status_pending(
        app: Flask, people: People, vault: Vault, scanned: dict[str, Any]) -> None:
    doc_id = scanned["doc"]["id"]
    app.config["WTF_CSRF_ENABLED"] = True
    archivist = as_user(app, people.archivist)
    page = archivist.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert 'id="reextract-form"' in page and csrf_of(page)
    assert archivist.post(f"/documents/{doc_id}/reextract").status_code == 400, "no CSRF token: refused"
    r = post_form(archivist, f"/documents/{doc_id}/reextract")
    assert r.status_code == 302
    html = archivist.get(f"/documents/{doc_id}").get_data(as_text=True)
    status = re.search(r'id="index-status".*?</dd>', html, re.S)
    assert status and 'data-status="queued"' in status.group(0)
    manager_page = as_user(app, people.manager).get(f"/documents/{doc_id}").get_data(as_text=True)
    assert PAGE_ONE in manager_page, "a manager reads the text by role"
    assert 'id="reextract-form"' not in manager_page


def test_extracting_again_is_refused_to_other_roles_above_clearance_and_for_destroyed_documents(
        api: Api, people: People, vault: Vault, scanned: dict[str, Any]) -> None:
    doc_id = scanned["doc"]["id"]
    url = f"/api/v1/documents/{doc_id}/reextract"
    assert api.post(people.manager, url).status_code == 403
    assert api.post(people.legal, url).status_code == 403
    low = people.make("low_archivist", "archivist", clearance="public")
    assert api.post(low, url).status_code == 404, "a document above clearance is not known to exist"
    assert api.post(people.archivist, "/api/v1/documents/999999/reextract").status_code == 404
    r = api.post(people.archivist, "/api/v1/destructions",
                 json={"document_ids": [doc_id], "reason": "保管期限届满 retention period ended"})
    assert r.status_code == 201, r.get_json()
    for approver in (people.manager, people.legal):
        ok = api.post(approver, f"/api/v1/destructions/{r.get_json()['id']}/approve", json={"comment": "同意"})
        assert ok.status_code == 200, ok.get_json()
    done = api.post(people.make("arch2", "archivist"), f"/api/v1/destructions/{r.get_json()['id']}/execute")
    assert done.status_code == 200, done.get_json()
    gone = api.post(people.archivist, url)
    assert gone.status_code == 410 and gone.get_json()["error"]["code"] == "document_destroyed"
    with vault.session() as s:
        assert s.get(Document, doc_id) is not None
        assert s.scalars(select(AuditEvent).where(AuditEvent.action == "document.reextract_queued")).first() is None
        assert s.scalars(select(Job).where(Job.kind == "index", Job.status == JobStatus.QUEUED)).first() is None
