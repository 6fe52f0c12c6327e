"""The index worker: atomic claims, a crashed job picked up again, bad files fail with a reason, retries."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select

from indexer.worker import claim_job, run_pending
from tests.conftest import Api, People
from tests.corpus import BAD, SYNTHETIC, manifest
from tests.support.multipart import post_file
from vault.clock import FixedClock
from vault.core import Vault
from vault.models import Job, JobStatus

TEXT_FILES = [e for e in manifest(SYNTHETIC)["files"] if not e["needs_ocr"]][:6]


def _upload(api: Api, people: People, dossier_id: int, entry: dict[str, Any]) -> int:
    r = api.upload(people.archivist, dossier_id, SYNTHETIC / entry["path"], doc_type=entry["doc_type"])
    assert r.status_code == 201
    return int(r.get_json()["id"])


def test_two_workers_never_take_the_same_job(api: Api, people: People, vault: Vault) -> None:
    d = api.new_dossier(people.archivist)
    for entry in TEXT_FILES:
        _upload(api, people, d["id"], entry)
    claimed: list[int] = []
    lock = threading.Lock()

    def take() -> None:
        while True:
            job = claim_job(vault, f"w{threading.get_ident()}")
            if job is None:
                return
            with lock:
                claimed.append(job.job_id)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == len(TEXT_FILES)


def test_uploaded_text_documents_become_indexed_and_searchable(api: Api, people: People, vault: Vault) -> None:
    d = api.new_dossier(people.archivist)
    entry = TEXT_FILES[0]
    doc_id = _upload(api, people, d["id"], entry)
    assert run_pending(vault) == 1
    doc = api.get(people.archivist, f"/api/v1/documents/{doc_id}").get_json()
    assert doc["index_status"] == "indexed" and doc["pages"] == entry["pages"]
    hits = api.get(people.legal, "/api/v1/search", query_string={"q": f'"{entry["terms"][0]}"'}).get_json()
    assert [i["document_id"] for i in hits["items"]] == [doc_id]


def test_a_job_whose_worker_died_is_picked_up_again_after_its_lease(api: Api, people: People, vault: Vault,
                                                                   clock: FixedClock) -> None:
    d = api.new_dossier(people.archivist)
    doc_id = _upload(api, people, d["id"], TEXT_FILES[0])
    assert claim_job(vault, "dead-worker") is not None  # ... and that worker is killed here
    assert run_pending(vault) == 0, "a live lease must not be stolen"
    clock.advance(hours=1)
    assert run_pending(vault) == 1
    assert api.get(people.archivist, f"/api/v1/documents/{doc_id}").get_json()["index_status"] == "indexed"


def test_an_unreadable_file_fails_with_its_reason_and_other_jobs_go_on(api: Api, people: People,
                                                                      vault: Vault) -> None:
    d = api.new_dossier(people.archivist)
    data = (BAD / "encrypted-user-password.pdf").read_bytes()
    r = post_file(api.client, f"/api/v1/dossiers/{d['id']}/documents", api.headers(people.archivist),
                  {"doc_type": "contract"}, "locked.pdf", data)
    bad_id = r.get_json()["id"]
    good_id = _upload(api, people, d["id"], TEXT_FILES[1])
    run_pending(vault)
    bad = api.get(people.archivist, f"/api/v1/documents/{bad_id}").get_json()
    assert bad["index_status"] == "failed" and "password" in bad["index_error"].lower()
    assert api.get(people.archivist, f"/api/v1/documents/{good_id}").get_json()["index_status"] == "indexed"


def test_a_passing_fault_is_retried_with_back_off_then_given_up_with_the_reason(api: Api, people: People,
                                                                              vault: Vault,
                                                                              clock: FixedClock) -> None:
    d = api.new_dossier(people.archivist)
    doc_id = _upload(api, people, d["id"], TEXT_FILES[0])
    with vault.session() as s:
        version = s.scalars(select(Job)).one().version_id
    from vault.models import DocumentVersion

    with vault.session() as s:
        blob_key = s.get(DocumentVersion, version).blob_key  # type: ignore[union-attr]
    saved = b"".join(vault.blobs.get(blob_key))  # type: ignore[arg-type]
    vault.blobs.delete(blob_key)  # type: ignore[arg-type]  # the store "loses" it for a while
    assert run_pending(vault) == 1
    doc = api.get(people.archivist, f"/api/v1/documents/{doc_id}").get_json()
    assert doc["index_status"] == "queued" and "retrying" in doc["index_error"]
    assert run_pending(vault) == 0, "back-off: not before its time"
    clock.advance(seconds=vault.settings.worker_max_attempts * 60)
    vault.blobs.put(blob_key, [saved])  # type: ignore[arg-type]  # the store is back
    assert run_pending(vault) == 1
    assert api.get(people.archivist, f"/api/v1/documents/{doc_id}").get_json()["index_status"] == "indexed"
    with vault.session() as s:
        assert s.scalars(select(Job)).one().status is JobStatus.DONE


def test_raising_a_dossiers_secrecy_hides_its_hits_from_lower_clearances(api: Api, people: People,
                                                                         vault: Vault) -> None:
    d = api.new_dossier(people.archivist)
    entry = TEXT_FILES[0]
    _upload(api, people, d["id"], entry)
    run_pending(vault)
    low = people.make("lowlegal", "legal", "internal")
    q = {"q": f'"{entry["terms"][0]}"'}
    assert api.get(low, "/api/v1/search", query_string=q).get_json()["total"] == 1
    boss = people.make("arch-secret", "archivist", "secret")
    assert api.patch(boss, f"/api/v1/dossiers/{d['id']}", json={"secrecy": "secret"}).status_code == 200
    assert api.get(low, "/api/v1/search", query_string=q).get_json()["total"] == 0  # the database has the last word
    run_pending(vault)
    assert api.get(low, "/api/v1/search", query_string=q).get_json()["total"] == 0
    assert api.get(people.make("l2", "legal", "secret"), "/api/v1/search", query_string=q).get_json()["total"] == 1


