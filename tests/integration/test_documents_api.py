"""Documents through the HTTP API: every corpus file uploaded, bad input refused with nothing stored."""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import Api, People
from tests.corpus import BAD, REALWORLD, SYNTHETIC, manifest
from tests.support.multipart import post_file
from vault.core import Vault
from vault.models import AuditEvent, Document, DocumentVersion, Job, JobKind, PendingBlob

SYN = manifest(SYNTHETIC)["files"]
REAL = manifest(REALWORLD)["files"]
BAD_FILES = manifest(BAD)["files"]


def _counts(vault: Vault) -> tuple[int, int, int, int]:
    with vault.session() as s:
        assert (s.scalar(select(func.count()).select_from(PendingBlob)) or 0) == 0, "an upload intent was left"
        return (s.scalar(select(func.count()).select_from(Document)) or 0,
                s.scalar(select(func.count()).select_from(DocumentVersion)) or 0,
                # one extraction job per upload (a new dossier queues its card's entry besides)
                s.scalar(select(func.count()).select_from(Job).where(Job.kind == JobKind.INDEX)) or 0,
                len(list(vault.blobs.keys())))


def test_every_synthetic_file_uploads_and_reads_back_byte_for_byte(api: Api, people: People,
                                                                   vault: Vault) -> None:
    archivist = people.archivist
    dossiers: dict[str, int] = {}
    for entry in SYN:
        cid = entry["customer_id"]
        if cid not in dossiers:
            dossiers[cid] = api.new_dossier(archivist, customer_name=entry["customer"],
                                            credit_code=entry["credit_code"])["id"]
        r = api.upload(archivist, dossiers[cid], SYNTHETIC / entry["path"], doc_type=entry["doc_type"],
                       title=entry["title"], doc_date=entry["doc_date"])
        assert r.status_code == 201, (entry["path"], r.get_json())
        doc = r.get_json()
        assert doc["index_status"] == "queued" and doc["mime"] == entry["mime"]
        content = api.get(archivist, f"/api/v1/documents/{doc['id']}/content")
        assert content.status_code == 200
        assert content.data == (SYNTHETIC / entry["path"]).read_bytes()
        assert content.headers["Content-Type"].startswith(entry["mime"])
    docs, versions, jobs, blobs = _counts(vault)
    assert docs == versions == jobs == blobs == len(SYN)


def test_blobs_hold_ciphertext_only(api: Api, people: People, vault: Vault) -> None:
    d = api.new_dossier(people.archivist)
    path = SYNTHETIC / "C01/04_关于调整信用额度的函.docx"
    api.upload(people.archivist, d["id"], path, doc_type="correspondence")
    (key,) = list(vault.blobs.keys())
    stored = b"".join(vault.blobs.get(key))
    plain = path.read_bytes()
    assert stored[:4] == b"DVLT" and plain[:64] not in stored and b"word/document.xml" not in stored


@pytest.mark.parametrize("entry", REAL, ids=lambda e: e["path"])
def test_every_realworld_file_is_accepted(api: Api, people: People, entry: dict[str, Any]) -> None:
    d = api.new_dossier(people.archivist)
    r = api.upload(people.archivist, d["id"], REALWORLD / entry["path"], doc_type="other")
    assert r.status_code == 201, r.get_json()


def _bad_cases() -> list[tuple[str, str, bytes, dict[str, Any]]]:
    cases = []
    for e in BAD_FILES:
        if e.get("path"):
            cases.append((e["path"], e["path"], (BAD / e["path"]).read_bytes(), e))
        else:
            name = e["send_as_filename"]
            cases.append((e.get("send_as_filename_ascii", name)[:40], name, (BAD / e["content_file"]).read_bytes(), e))
    return cases


@pytest.mark.parametrize("label,filename,data,entry", _bad_cases(), ids=[c[0] for c in _bad_cases()])
def test_each_bad_file_gets_its_expected_behaviour_at_upload(api: Api, people: People, vault: Vault, label: str,
                                                             filename: str, data: bytes,
                                                             entry: dict[str, Any]) -> None:
    d = api.new_dossier(people.archivist)
    before = _counts(vault)
    r = post_file(api.client, f"/api/v1/dossiers/{d['id']}/documents", api.headers(people.archivist),
                  {"doc_type": "contract"}, filename, data)
    allowed = {entry["expected_behaviour"], *entry.get("acceptable_alternatives", [])}
    if r.status_code == 201:
        assert allowed & {"accept", "accept_mark_extraction_failed"}, (label, r.get_json())
        doc = r.get_json()
        stored_name = doc["filename"]
        assert "/" not in stored_name and "\\" not in stored_name and "\x00" not in stored_name
        assert "\u202e" not in stored_name and not stored_name.endswith(".exe") and len(stored_name) <= 120
        got = api.get(people.archivist, f"/api/v1/documents/{doc['id']}/content")
        assert got.data == data and "\n" not in got.headers["Content-Disposition"]
        assert got.headers["X-Content-Type-Options"] == "nosniff"
    else:
        assert "reject" in allowed, (label, r.status_code, r.get_json())
        assert 400 <= r.status_code < 500, (label, r.status_code)
        error = r.get_json()["error"]
        assert error["code"] and len(error["message"]) > 15
        assert _counts(vault) == before, "a refused upload left a row or a blob behind"


def test_the_same_content_twice_in_one_dossier_is_a_409_with_existing_id(api: Api, people: People) -> None:
    d = api.new_dossier(people.archivist)
    path = SYNTHETIC / SYN[1]["path"]
    first = api.upload(people.archivist, d["id"], path).get_json()
    again = api.upload(people.archivist, d["id"], path, filename="renamed.pdf")
    assert again.status_code == 409 and again.get_json()["error"]["existing_id"] == first["id"]
    other = api.new_dossier(people.archivist)
    assert api.upload(people.archivist, other["id"], path).status_code == 201


def test_a_file_over_the_size_limit_is_413_before_the_body_is_read(api: Api, people: People,
                                                                   vault: Vault) -> None:
    d = api.new_dossier(people.archivist)
    limit = vault.settings.max_upload_bytes
    r = api.client.post(f"/api/v1/dossiers/{d['id']}/documents",
                        headers={**api.headers(people.archivist), "Content-Type": "multipart/form-data; boundary=x"},
                        input_stream=io.BytesIO(b""), environ_overrides={"CONTENT_LENGTH": str(limit + 10 ** 6)})
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "file_too_large"


@pytest.mark.parametrize("settings_overrides", [{"max_upload_bytes": 50_000}])
def test_a_stream_that_grows_past_the_limit_is_cut_off_with_nothing_stored(api: Api, people: People,
                                                                           vault: Vault) -> None:
    d = api.new_dossier(people.archivist)
    path = SYNTHETIC / SYN[1]["path"]
    assert path.stat().st_size > 50_000
    r = api.upload(people.archivist, d["id"], path)
    assert r.status_code == 413
    assert _counts(vault)[3] == 0


def test_an_invalid_doc_type_after_the_file_leaves_no_blob(api: Api, people: People, vault: Vault) -> None:
    d = api.new_dossier(people.archivist)
    r = api.upload(people.archivist, d["id"], SYNTHETIC / SYN[1]["path"], doc_type="poem")
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "doc_type"
    assert _counts(vault) == (0, 0, 0, 0)


def test_only_archivists_upload(api: Api, people: People) -> None:
    d = api.new_dossier(people.archivist, owner="employee")
    for user in (people.employee, people.admin, people.legal):
        assert api.upload(user, d["id"], SYNTHETIC / SYN[1]["path"]).status_code == 403


def _doc_in(api: Api, people: People, **dossier: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    d = api.new_dossier(people.archivist, **dossier)
    doc = api.upload(people.archivist, d["id"], SYNTHETIC / SYN[1]["path"]).get_json()
    return d, doc


def test_an_employee_reads_content_of_a_dossier_it_owns(api: Api, people: People) -> None:
    _, doc = _doc_in(api, people, owner="employee")
    assert api.get(people.employee, f"/api/v1/documents/{doc['id']}/content").status_code == 200


def test_an_employee_sees_metadata_but_not_content_of_anothers_dossier(api: Api, people: People) -> None:
    _, doc = _doc_in(api, people)
    other = people.make("other", "employee")
    assert api.get(other, f"/api/v1/documents/{doc['id']}").status_code == 200
    r = api.get(other, f"/api/v1/documents/{doc['id']}/content")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "checkout_required"


def test_an_admin_reads_no_content(api: Api, people: People) -> None:
    _, doc = _doc_in(api, people)
    assert api.get(people.admin, f"/api/v1/documents/{doc['id']}/content").status_code == 403


def test_a_document_above_clearance_is_404_even_by_id(api: Api, people: People) -> None:
    _, doc = _doc_in(api, people, secrecy="confidential")
    low = people.make("lowlegal", "legal", "internal")
    assert api.get(low, f"/api/v1/documents/{doc['id']}").status_code == 404
    assert api.get(low, f"/api/v1/documents/{doc['id']}/content").status_code == 404


def test_every_read_of_content_is_audited(api: Api, people: People, vault: Vault) -> None:
    _, doc = _doc_in(api, people)
    api.get(people.legal, f"/api/v1/documents/{doc['id']}/content")
    api.get(people.manager, f"/api/v1/documents/{doc['id']}/content?disposition=inline")
    with vault.session() as s:
        reads = s.scalars(select(AuditEvent).where(AuditEvent.action == "document.read",
                                                   AuditEvent.document_id == doc["id"])).all()
        assert sorted(e.actor_name for e in reads) == ["legal", "manager"]


def test_a_new_version_replaces_the_current_and_old_ones_stay_for_archivists(api: Api, people: People) -> None:
    _, doc = _doc_in(api, people)
    path = SYNTHETIC / SYN[2]["path"]
    r = post_file(api.client, f"/api/v1/documents/{doc['id']}/versions", api.headers(people.archivist), {},
                  path.name, path.read_bytes())
    assert r.status_code == 201 and r.get_json()["version"] == 2 and len(r.get_json()["versions"]) == 2
    assert api.get(people.legal, f"/api/v1/documents/{doc['id']}/content").data == path.read_bytes()
    old = api.get(people.archivist, f"/api/v1/documents/{doc['id']}/content?version=1")
    assert old.data == (SYNTHETIC / SYN[1]["path"]).read_bytes()
    assert api.get(people.legal, f"/api/v1/documents/{doc['id']}/content?version=1").status_code == 403


def test_credit_reports_expire_a_year_after_their_date_and_show_as_stale(api: Api, people: People,
                                                                         vault: Vault) -> None:
    d = api.new_dossier(people.archivist)
    entry = next(e for e in SYN if e["doc_type"] == "credit_report")
    doc = api.upload(people.archivist, d["id"], SYNTHETIC / entry["path"], doc_type="credit_report",
                     doc_date="2025-01-01").get_json()
    assert doc["expires_on"] == "2026-01-01" and doc["stale"] is True
    dossier = api.get(people.archivist, f"/api/v1/dossiers/{d['id']}").get_json()
    assert dossier["completeness"]["stale_credit_reports"] == [str(doc["id"])]
    assert "credit_report" not in dossier["completeness"]["missing"]


def test_tampered_ciphertext_is_refused_not_served(api: Api, people: People, vault: Vault) -> None:
    _, doc = _doc_in(api, people)
    (key,) = list(vault.blobs.keys())
    data = bytearray(b"".join(vault.blobs.get(key)))
    data[100] ^= 0x01
    vault.blobs.put(key, [bytes(data)])
    r = api.get(people.legal, f"/api/v1/documents/{doc['id']}/content")
    assert r.status_code == 500 and r.get_json()["error"]["code"] == "blob_integrity_error"


def test_wrong_passwords_lock_the_name_out_with_429(api: Api, people: People) -> None:
    people.employee  # noqa: B018
    for _ in range(5):
        r = api.client.post("/api/v1/auth/token", json={"username": "employee", "password": "wrong-password"})
        assert r.status_code == 401
    r = api.client.post("/api/v1/auth/token", json={"username": "employee", "password": "correct horse battery"})
    assert r.status_code == 429 and "Retry-After" in r.headers


def test_health_reports_each_part(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/health")
    assert r.status_code == 200
    assert r.get_json() == {"status": "ok", "database": "ok", "storage": "ok", "index": "ok"}




def test_a_crash_between_blob_write_and_commit_leaves_an_orphan_that_verify_sweeps(vault: Vault, people: People,
                                                                                 clock: Any) -> None:
    from datetime import timedelta

    from vault.services import documents
    from vault.services.fixity import find_orphans, verify_all

    path = SYNTHETIC / SYN[1]["path"]
    staged = documents.stage_upload(vault, [path.read_bytes()], path.name)  # ... and the process dies here
    assert find_orphans(vault) == [], "a young upload is in flight, not an orphan"
    clock.advance(hours=2)
    assert find_orphans(vault) == [staged.blob_key]
    report = verify_all(vault, remove_orphans=True, grace=timedelta(hours=1))
    assert report.orphans_removed == 1 and not vault.blobs.exists(staged.blob_key)
    assert _counts(vault) == (0, 0, 0, 0)
