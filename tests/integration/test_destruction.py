"""Retention and destruction (销毁): due lists, two approvals, crypto-shredding execution, certificate, register."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from config.settings import DEFAULT_RETENTION_YEARS
from indexer.customer_entries import entry_key
from indexer.search_index import SearchIndex
from indexer.worker import run_pending
from tests.conftest import Api, People
from tests.support.workflow_fixtures import OLD, PDF, PDF2, PNG, index_files_hold, search_ids, upload
from vault import audit
from vault.clock import FixedClock
from vault.core import Vault
from vault.models import (
    AuditEvent,
    BlobErasure,
    Document,
    DocumentStatus,
    DocumentVersion,
    DossierStatus,
    Job,
    JobStatus,
)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"token_ttl_hours": 24 * 365 * 50}


def _propose(api: Api, people: People, doc_ids: list[int]) -> Any:
    return api.post(people.archivist, "/api/v1/destructions",
                    json={"document_ids": doc_ids, "reason": "保管期限届满 retention period ended"})


def _approved_batch(api: Api, people: People, doc_ids: list[int]) -> dict[str, Any]:
    r = _propose(api, people, doc_ids)
    assert r.status_code == 201, r.get_json()
    batch = r.get_json()
    for approver in (people.manager, people.legal):
        ok = api.post(approver, f"/api/v1/destructions/{batch['id']}/approve", json={"comment": "同意"})
        assert ok.status_code == 200, ok.get_json()
    return dict(ok.get_json())


def test_the_default_retention_years_are_the_issues(vault: Vault) -> None:
    assert DEFAULT_RETENTION_YEARS == {"contract": 30, "license": 30, "credit_report": 10, "correspondence": 10,
                                       "id_proof": 10, "invoice": 30, "other": 10}
    assert dict(vault.settings.retention_years) == DEFAULT_RETENTION_YEARS


def test_retention_due_lists_documents_past_retention_with_their_hold_status(api: Api, people: People) -> None:
    d = api.new_dossier(people.archivist)
    old = upload(api, people.archivist, d["id"], PDF, doc_date=OLD)
    young = upload(api, people.archivist, d["id"], PDF2, doc_type="contract", doc_date="2020-01-01")
    held = upload(api, people.archivist, d["id"], PNG, doc_type="license", doc_date="1980-05-01")
    api.post(people.legal, "/api/v1/holds", json={"document_id": held["id"], "reason": "audit"})
    due = api.get(people.archivist, "/api/v1/retention/due").get_json()
    by_id = {x["document_id"]: x for x in due["items"]}
    assert set(by_id) == {old["id"], held["id"]} and young["id"] not in by_id
    assert by_id[old["id"]]["due_on"] == "2020-01-01" and by_id[old["id"]]["under_legal_hold"] is False
    assert by_id[held["id"]]["under_legal_hold"] is True
    assert "30 years after document date 1990-01-01" in by_id[old["id"]]["retention_basis"]
    assert api.get(people.employee, "/api/v1/retention/due").status_code == 403


def test_retention_counts_from_the_upload_date_when_the_document_date_is_missing(api: Api, people: People,
                                                                                 clock: FixedClock) -> None:
    d = api.new_dossier(people.archivist)
    doc = upload(api, people.archivist, d["id"], PDF, doc_type="other", doc_date=None)
    assert api.get(people.archivist, "/api/v1/retention/due").get_json()["total"] == 0
    clock.advance(days=365 * 10 + 3)
    (item,) = api.get(people.archivist, "/api/v1/retention/due").get_json()["items"]
    assert item["document_id"] == doc["id"] and "upload date 2026-01-05" in item["retention_basis"]


def test_an_admin_edits_retention_rules_and_each_change_is_audited(api: Api, people: People) -> None:
    d = api.new_dossier(people.archivist)
    doc = upload(api, people.archivist, d["id"], PDF, doc_type="contract", doc_date="2010-01-01")
    assert api.get(people.archivist, "/api/v1/retention/due").get_json()["total"] == 0
    r = api.client.put("/api/v1/retention/rules", json={"contract": 10, "license": "permanent"},
                       headers=api.headers(people.admin))
    assert r.status_code == 200
    rules = {x["doc_type"]: x for x in r.get_json()["items"]}
    assert rules["contract"]["years"] == 10 and rules["license"]["permanent"] is True
    assert rules["contract"]["source"] == "override" and rules["other"]["source"] == "settings"
    assert [x["document_id"] for x in api.get(people.archivist, "/api/v1/retention/due").get_json()["items"]] \
        == [doc["id"]]
    bad = api.client.put("/api/v1/retention/rules", json={"contract": 0}, headers=api.headers(people.admin))
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "contract"
    denied = api.client.put("/api/v1/retention/rules", json={"contract": 5}, headers=api.headers(people.archivist))
    assert denied.status_code == 403
    events = api.get(people.legal, "/api/v1/audit?action=retention.rule_changed").get_json()["items"]
    assert sorted((e["details"]["doc_type"], str(e["details"]["new"])) for e in events) == [
        ("contract", "10"), ("license", "permanent")]


def test_a_proposal_names_each_document_under_hold_or_not_yet_due(api: Api, people: People) -> None:
    d = api.new_dossier(people.archivist)
    due = upload(api, people.archivist, d["id"], PDF)
    young = upload(api, people.archivist, d["id"], PDF2, doc_date="2024-01-01")
    held = upload(api, people.archivist, d["id"], PNG, doc_type="license")
    api.post(people.legal, "/api/v1/holds", json={"document_id": held["id"], "reason": "dispute"})
    r = _propose(api, people, [due["id"], young["id"], held["id"]])
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "not_destroyable"
    problems = {(p["document_id"], p["problem"]) for p in r.get_json()["error"]["documents"]}
    assert problems == {(young["id"], "not_due"), (held["id"], "legal_hold")}
    assert _propose(api, people, [due["id"]]).status_code == 201
    again = _propose(api, people, [due["id"]])
    assert again.status_code == 409 and again.get_json()["error"]["documents"][0]["problem"] == "in_batch"


def test_only_an_archivist_proposes(api: Api, people: People) -> None:
    d = api.new_dossier(people.archivist)
    doc = upload(api, people.archivist, d["id"], PDF)
    for user in (people.employee, people.manager, people.legal, people.admin):
        assert api.post(user, "/api/v1/destructions", json={"document_ids": [doc["id"]], "reason": "x"}) \
            .status_code == 403


def test_approval_needs_a_manager_and_legal_two_people_neither_the_proposer(api: Api, people: People) -> None:
    d = api.new_dossier(people.archivist)
    doc = upload(api, people.archivist, d["id"], PDF)
    batch = _propose(api, people, [doc["id"]]).get_json()
    url = f"/api/v1/destructions/{batch['id']}"
    assert api.post(people.archivist, url + "/approve", json={}).status_code == 403
    assert api.post(people.employee, url + "/approve", json={}).status_code == 403
    first = api.post(people.manager, url + "/approve", json={"comment": "ok"})
    assert first.status_code == 200 and first.get_json()["status"] == "proposed"
    assert api.post(people.make("manager2", "manager"), url + "/approve", json={}).status_code == 409
    early = api.post(people.make("arch2", "archivist"), url + "/execute")
    assert early.status_code == 409 and early.get_json()["error"]["code"] == "not_approved"
    done = api.post(people.legal, url + "/approve", json={}).get_json()
    assert done["status"] == "approved"
    assert done["approvals"]["manager"]["by"] == "manager" and done["approvals"]["legal"]["by"] == "legal"


CONTRACT_NO = "HYGL-JG-20220309-062"  # in the contract (PDF) only, not in the bank statement (PDF2)
STATEMENT_TERM = "Account Transaction Statement"  # in the bank statement only


def test_execution_crypto_shreds_deletes_blobs_purges_the_index_and_leaves_a_tombstone(
        api: Api, people: People, vault: Vault, index: SearchIndex) -> None:
    d = api.new_dossier(people.archivist)
    doc = upload(api, people.archivist, d["id"], PDF)
    keep = upload(api, people.archivist, d["id"], PDF2, doc_date="2025-01-01", doc_type="other")
    # the real worker: sandboxed extraction, sealed text, Whoosh postings; and the new customer's card
    assert run_pending(vault, index) == 3
    card = entry_key("card", d["id"])
    assert index.document_ids() == {doc["id"], keep["id"], card}
    assert search_ids(api, people.legal, CONTRACT_NO) == [doc["id"]]
    assert index_files_hold(vault, CONTRACT_NO), "the probe would prove nothing: the term is not in the files"
    with vault.session() as s:
        version = s.scalar(select(DocumentVersion).where(DocumentVersion.document_id == doc["id"]))
        assert version is not None and version.wrapped_key is not None and version.blob_key is not None
        assert version.text_ciphertext is not None, "the worker stores the extracted text, sealed"
        wrapped, blob_key = bytes(version.wrapped_key), version.blob_key
    batch = _approved_batch(api, people, [doc["id"]])
    r = api.post(people.make("arch2", "archivist"), f"/api/v1/destructions/{batch['id']}/execute")
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert out["status"] == "executed" and out["certificate_url"] == f"/api/v1/destructions/{batch['id']}/certificate"
    with vault.session() as s:
        v = s.get(DocumentVersion, version.id)
        assert v is not None and v.wrapped_key is None and v.text_ciphertext is None and v.blob_key is None
        assert s.get(Document, doc["id"]).status is DocumentStatus.DESTROYED  # type: ignore[union-attr]
        assert s.scalar(select(BlobErasure)) is None
        assert audit.verify_chain(s).ok
    assert not vault.blobs.exists(blob_key)
    assert search_ids(api, people.legal, CONTRACT_NO) == [], "found before the index worker has purged it"
    # the index has a single writer: the request only queued the purge, the index worker does it
    assert index_files_hold(vault, CONTRACT_NO), "a web request wrote the index"
    assert run_pending(vault, index) == 1
    assert index.document_ids() == {keep["id"], card}
    assert search_ids(api, people.legal, CONTRACT_NO) == []
    assert not index_files_hold(vault, CONTRACT_NO), "the destroyed document's postings remain in the index files"
    with vault.session() as s:
        purged = s.scalars(select(AuditEvent).where(AuditEvent.action == "index.purged")).one()
        assert json.loads(purged.details)["document_ids"] == [doc["id"]] and purged.object_id == str(batch["id"])
    assert search_ids(api, people.legal, STATEMENT_TERM) == [keep["id"]]
    db_bytes = b"".join(p.read_bytes() for p in vault.settings.home.glob("dossier.db*"))
    assert wrapped not in db_bytes, "the erased key's bytes remain in the database file or its WAL"
    content = api.get(people.legal, f"/api/v1/documents/{doc['id']}/content")
    assert content.status_code == 410 and content.get_json()["error"]["code"] == "document_destroyed"
    tomb = api.get(people.archivist, f"/api/v1/documents/{doc['id']}").get_json()
    assert tomb["status"] == "destroyed" and tomb["title"] == doc["title"] and tomb["doc_date"] == OLD
    assert tomb["destruction_batch_id"] == batch["id"] and tomb["archive_no"] == d["archive_no"]
    assert tomb["versions"][0]["ciphertext_sha256"] == doc["versions"][0]["ciphertext_sha256"]
    assert api.get(people.legal, f"/api/v1/documents/{keep['id']}/content").status_code == 200
    assert api.get(people.archivist, f"/api/v1/dossiers/{d['id']}").get_json()["status"] == DossierStatus.ACTIVE


def test_the_certificate_lists_documents_people_and_the_audit_head_in_chinese_and_english(
        api: Api, people: People, vault: Vault) -> None:
    d = api.new_dossier(people.archivist)
    doc = upload(api, people.archivist, d["id"], PDF, title="采购合同 Purchase contract")
    batch = _approved_batch(api, people, [doc["id"]])
    assert api.get(people.legal, f"/api/v1/destructions/{batch['id']}/certificate").status_code == 409
    executed = api.post(people.archivist, f"/api/v1/destructions/{batch['id']}/execute").get_json()
    r = api.get(people.manager, f"/api/v1/destructions/{batch['id']}/certificate")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(r.data)).pages)
    compact = text.replace("\n", "").replace(" ", "")
    for expected in (d["archive_no"], doc["versions"][0]["ciphertext_sha256"], executed["audit_head"]["hash"],
                     "archivist", "manager", "legal", "CertificateofDestruction", "档案销毁证明", "采购合同"):
        assert expected.replace(" ", "") in compact, expected
    with vault.session() as s:
        assert executed["audit_head"]["seq"] == audit.verify_chain(s).events
    again = api.get(people.archivist, f"/api/v1/destructions/{batch['id']}/certificate")
    assert again.data == r.data, "the certificate is stored, not redrawn"
    assert api.get(people.employee, f"/api/v1/destructions/{batch['id']}/certificate").status_code == 403


def test_execution_repeats_the_due_check_inside_its_transaction(api: Api, people: People, vault: Vault) -> None:
    d = api.new_dossier(people.archivist)
    doc = upload(api, people.archivist, d["id"], PDF, doc_date="1995-06-01")
    batch = _approved_batch(api, people, [doc["id"]])
    api.client.put("/api/v1/retention/rules", json={"contract": "permanent"}, headers=api.headers(people.admin))
    r = api.post(people.archivist, f"/api/v1/destructions/{batch['id']}/execute")
    assert r.status_code == 409 and r.get_json()["error"]["documents"][0]["problem"] == "not_due"
    assert api.get(people.legal, f"/api/v1/documents/{doc['id']}/content").status_code == 200


def test_the_register_lists_every_batch(api: Api, people: People) -> None:
    d = api.new_dossier(people.archivist)
    first = upload(api, people.archivist, d["id"], PDF)
    second = upload(api, people.archivist, d["id"], PDF2, doc_type="other")
    b1 = _approved_batch(api, people, [first["id"]])
    api.post(people.archivist, f"/api/v1/destructions/{b1['id']}/execute")
    b2 = _propose(api, people, [second["id"]]).get_json()
    register = api.get(people.legal, "/api/v1/destructions").get_json()
    assert register["total"] == 2
    assert [(b["id"], b["status"]) for b in register["items"]] == [(b2["id"], "proposed"), (b1["id"], "executed")]
    assert register["items"][1]["documents"][0]["archive_no"] == d["archive_no"]
    assert api.get(people.employee, "/api/v1/destructions").status_code == 403


def test_a_blob_that_could_not_be_deleted_stays_queued_and_is_retried(api: Api, people: People,
                                                                      vault: Vault) -> None:
    from tests.support.workflow_fixtures import run_cli
    from vault.services import destruction

    d = api.new_dossier(people.archivist)
    doc = upload(api, people.archivist, d["id"], PDF)
    batch = _approved_batch(api, people, [doc["id"]])
    with vault.session() as s:
        version = s.scalar(select(DocumentVersion).where(DocumentVersion.document_id == doc["id"]))
        assert version is not None and version.blob_key is not None
        blob_key = version.blob_key
    with vault.session() as s:  # what a crash between commit and deletion leaves
        executed = destruction._execute_in(vault, s, people.archivist, batch["id"])
        assert executed.status.value == "executed"
    assert vault.blobs.exists(blob_key)
    with vault.session() as s:
        assert s.get(BlobErasure, blob_key) is not None
    out = run_cli(vault, "erase-pending")
    assert out.exit_code == 0 and "0 blob(s) still waiting" in out.output
    assert not vault.blobs.exists(blob_key)


def test_a_purge_the_index_refuses_is_retried_past_the_attempt_limit_until_it_is_done(
        api: Api, people: People, vault: Vault, index: SearchIndex, clock: FixedClock) -> None:
    from whoosh.index import open_dir

    from indexer.whoosh_index import WhooshIndex

    d = api.new_dossier(people.archivist)
    doc = upload(api, people.archivist, d["id"], PDF)
    assert run_pending(vault, index) == 2  # the document and the new customer's card
    batch = _approved_batch(api, people, [doc["id"]])
    assert api.post(people.archivist, f"/api/v1/destructions/{batch['id']}/execute").status_code == 200
    index = WhooshIndex(vault.settings.index_path, lock_timeout_s=0.2)  # gives up on a held lock at once
    holder = open_dir(str(vault.settings.index_path)).writer()  # another writer holds the index for a long while
    try:
        for _ in range(vault.settings.worker_max_attempts + 1):
            assert run_pending(vault, index) == 1
            clock.advance(hours=1)
    finally:
        holder.cancel()
    with vault.session() as s:
        job = s.scalars(select(Job).where(Job.kind == "purge_index")).one()
        assert job.status is JobStatus.QUEUED and "locked" in (job.last_error or "")
    assert index_files_hold(vault, CONTRACT_NO)
    assert run_pending(vault, index) == 1
    assert not index_files_hold(vault, CONTRACT_NO)
