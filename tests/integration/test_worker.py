"""The index worker: atomic claims, a crashed job picked up again, bad files fail with a reason, retries."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
from sqlalchemy import func, select
from whoosh.index import open_dir

from indexer.search_index import SearchIndex
from indexer.whoosh_index import WhooshIndex
from indexer.worker import BackgroundWorker, check_overdue, claim_job, run_pending, work_loop
from tests.conftest import Api, People
from tests.corpus import BAD, SYNTHETIC, manifest
from tests.support.multipart import post_file
from vault.clock import FixedClock
from vault.core import Vault
from vault.models import AuditEvent, Checkout, Job, JobStatus, Notification, User
from vault.services import checkouts, dossiers

TEXT_FILES = [e for e in manifest(SYNTHETIC)["files"] if not e["needs_ocr"]][:6]


def _upload(api: Api, people: People, dossier_id: int, entry: dict[str, Any]) -> int:
    r = api.upload(people.archivist, dossier_id, SYNTHETIC / entry["path"], doc_type=entry["doc_type"])
    assert r.status_code == 201
    return int(r.get_json()["id"])


def _dossier(api: Api, people: People, vault: Vault, index: SearchIndex) -> dict[str, Any]:
    """A new dossier whose card the worker has indexed already (creation queues it): the queue then holds only
    the jobs of what the test adds."""
    d = api.new_dossier(people.archivist)
    assert run_pending(vault, index) == 1  # the new customer's card
    return d


def test_two_workers_never_take_the_same_job(api: Api, people: People, vault: Vault, index: SearchIndex) -> None:
    d = _dossier(api, people, vault, index)
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


def test_uploaded_text_documents_become_indexed_and_searchable(
        api: Api, people: People, vault: Vault, index: SearchIndex) -> None:
    d = _dossier(api, people, vault, index)
    entry = TEXT_FILES[0]
    doc_id = _upload(api, people, d["id"], entry)
    assert run_pending(vault, index) == 1
    doc = api.get(people.archivist, f"/api/v1/documents/{doc_id}").get_json()
    assert doc["index_status"] == "indexed" and doc["pages"] == entry["pages"]
    hits = api.get(people.legal, "/api/v1/search", query_string={"q": f'"{entry["terms"][0]}"'}).get_json()
    assert [i["document_id"] for i in hits["items"]] == [doc_id]


def test_a_job_whose_worker_died_is_picked_up_again_after_its_lease(
        api: Api, people: People, vault: Vault, index: SearchIndex, clock: FixedClock) -> None:
    d = _dossier(api, people, vault, index)
    doc_id = _upload(api, people, d["id"], TEXT_FILES[0])
    assert claim_job(vault, "dead-worker") is not None  # ... and that worker is killed here
    assert run_pending(vault, index) == 0, "a live lease must not be stolen"
    clock.advance(hours=1)
    assert run_pending(vault, index) == 1
    assert api.get(people.archivist, f"/api/v1/documents/{doc_id}").get_json()["index_status"] == "indexed"


def test_an_unreadable_file_fails_with_its_reason_and_other_jobs_go_on(api: Api, people: People,
                                                                      vault: Vault, index: SearchIndex) -> None:
    d = api.new_dossier(people.archivist)
    data = (BAD / "encrypted-user-password.pdf").read_bytes()
    r = post_file(api.client, f"/api/v1/dossiers/{d['id']}/documents", api.headers(people.archivist),
                  {"doc_type": "contract"}, "locked.pdf", data)
    bad_id = r.get_json()["id"]
    good_id = _upload(api, people, d["id"], TEXT_FILES[1])
    run_pending(vault, index)
    bad = api.get(people.archivist, f"/api/v1/documents/{bad_id}").get_json()
    assert bad["index_status"] == "failed" and "password" in bad["index_error"].lower()
    assert api.get(people.archivist, f"/api/v1/documents/{good_id}").get_json()["index_status"] == "indexed"


def test_a_passing_fault_is_retried_with_back_off_then_given_up_with_the_reason(api: Api, people: People,
                                                                              vault: Vault, index: SearchIndex,
                                                                              clock: FixedClock) -> None:
    d = _dossier(api, people, vault, index)
    doc_id = _upload(api, people, d["id"], TEXT_FILES[0])
    with vault.session() as s:
        version = s.scalars(select(Job).where(Job.kind == "index")).one().version_id
    from vault.models import DocumentVersion

    with vault.session() as s:
        blob_key = s.get(DocumentVersion, version).blob_key  # type: ignore[union-attr]
    saved = b"".join(vault.blobs.get(blob_key))  # type: ignore[arg-type]
    vault.blobs.delete(blob_key)  # type: ignore[arg-type]  # the store "loses" it for a while
    assert run_pending(vault, index) == 1
    doc = api.get(people.archivist, f"/api/v1/documents/{doc_id}").get_json()
    assert doc["index_status"] == "queued" and "retrying" in doc["index_error"]
    assert run_pending(vault, index) == 0, "back-off: not before its time"
    clock.advance(seconds=vault.settings.worker_max_attempts * 60)
    vault.blobs.put(blob_key, [saved])  # type: ignore[arg-type]  # the store is back
    assert run_pending(vault, index) == 1
    assert api.get(people.archivist, f"/api/v1/documents/{doc_id}").get_json()["index_status"] == "indexed"
    with vault.session() as s:
        assert s.scalars(select(Job).where(Job.kind == "index")).one().status is JobStatus.DONE


def test_raising_a_dossiers_secrecy_hides_its_hits_from_lower_clearances(api: Api, people: People,
                                                                         vault: Vault, index: SearchIndex) -> None:
    d = api.new_dossier(people.archivist)
    entry = TEXT_FILES[0]
    _upload(api, people, d["id"], entry)
    run_pending(vault, index)
    low = people.make("lowlegal", "legal", "internal")
    q = {"q": f'"{entry["terms"][0]}"'}
    assert api.get(low, "/api/v1/search", query_string=q).get_json()["total"] == 1
    boss = people.make("arch-secret", "archivist", "secret")
    assert api.patch(boss, f"/api/v1/dossiers/{d['id']}", json={"secrecy": "secret"}).status_code == 200
    assert api.get(low, "/api/v1/search", query_string=q).get_json()["total"] == 0  # the database has the last word
    run_pending(vault, index)
    assert api.get(low, "/api/v1/search", query_string=q).get_json()["total"] == 0
    assert api.get(people.make("l2", "legal", "secret"), "/api/v1/search", query_string=q).get_json()["total"] == 1




# -- overdue checkouts: the worker marks them about once a minute ------------------------------------

def _active_checkout(vault: Vault, people: People, days: int = 7) -> int:
    """An employee's view checkout, approved by the archivist: active until `days` from now."""
    archivist, employee = people.archivist, people.employee  # made before the unit of work below
    with vault.session() as s:
        dossier = dossiers.create_dossier(vault, s, archivist,
                                          {"customer_name": "逾期客户有限公司", "customer_type": "client"})
        checkout = checkouts.request_checkout(vault, s, employee, {"dossier_id": dossier.id, "purpose": "review",
                                                                   "kind": "view", "days": days})
        checkout_id = checkout.id
    with vault.session() as s:
        checkouts.approve_checkout(vault, s, archivist, checkout_id, "ok")
    return checkout_id


def _overdue_notices(vault: Vault, checkout_id: int) -> list[tuple[str, str]]:
    with vault.session() as s:
        rows = s.execute(select(User.username, Notification.kind).join(User, User.id == Notification.user_id)
                         .where(Notification.checkout_id == checkout_id, Notification.kind == "checkout.overdue")
                         .order_by(User.username)).all()
    return [(name, kind) for name, kind in rows]


def test_the_worker_loops_overdue_check_marks_a_checkout_past_its_due_date_once(
        vault: Vault, people: People, clock: FixedClock) -> None:
    checkout_id = _active_checkout(vault, people, days=7)
    check_overdue(vault)
    assert _overdue_notices(vault, checkout_id) == []
    clock.advance(days=7, minutes=1)
    check_overdue(vault)
    assert _overdue_notices(vault, checkout_id) == [("archivist", "checkout.overdue"), ("employee", "checkout.overdue")]
    with vault.session() as s:
        marked = s.get(Checkout, checkout_id)
        assert marked is not None and marked.overdue_notified_at == clock.now()
        assert s.scalar(select(func.count()).select_from(AuditEvent)
                        .where(AuditEvent.action == "checkout.expired")) == 1
    clock.advance(minutes=1)
    check_overdue(vault)
    assert len(_overdue_notices(vault, checkout_id)) == 2, "a checkout is notified once, not on every check"


@pytest.mark.parametrize("settings_overrides", [{"overdue_check_interval_s": 0.2}])
def test_the_background_worker_checks_for_overdue_checkouts_every_interval(
        vault: Vault, index: SearchIndex, people: People, clock: FixedClock) -> None:
    checkout_id = _active_checkout(vault, people, days=3)
    worker = BackgroundWorker(vault, index).start()
    try:
        time.sleep(0.5)  # the first checks find nothing due
        assert _overdue_notices(vault, checkout_id) == []
        clock.advance(days=3, seconds=1)
        deadline = time.monotonic() + 15
        while not _overdue_notices(vault, checkout_id) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker.stop()
    assert len(_overdue_notices(vault, checkout_id)) == 2


@pytest.mark.parametrize("settings_overrides", [{"overdue_check_interval_s": 0.1}])
def test_a_failing_overdue_check_is_logged_and_the_worker_goes_on(
        vault: Vault, index: SearchIndex, people: People, caplog: pytest.LogCaptureFixture) -> None:
    with vault.engine.begin() as conn:  # a real failure: the query meets no table
        conn.exec_driver_sql("ALTER TABLE checkouts RENAME TO checkouts_away")
    stop = threading.Event()
    loop = threading.Thread(target=work_loop, args=(vault, index, stop), daemon=True)
    with caplog.at_level(logging.ERROR, logger="dossier.worker"):
        loop.start()
        time.sleep(0.6)
        alive = loop.is_alive()
        stop.set()
        loop.join(10)
    assert alive, "an error in the overdue check ended the worker loop"
    failures = [r for r in caplog.records if r.getMessage().startswith("overdue check failed")]
    assert len(failures) >= 2 and "checkouts" in str(failures[0].exc_info[1])


def test_texts_waiting_for_a_locked_index_go_back_to_the_queue_and_none_is_lost(
        api: Api, people: People, vault: Vault, index: SearchIndex, clock: FixedClock) -> None:
    d = _dossier(api, people, vault, index)
    ids = [_upload(api, people, d["id"], entry) for entry in TEXT_FILES[:3]]
    index = WhooshIndex(vault.settings.index_path, lock_timeout_s=0.2)  # gives up on a held lock at once
    holder = open_dir(str(vault.settings.index_path)).writer()  # another process writing the index
    try:
        assert run_pending(vault, index) == 3
    finally:
        holder.cancel()
    for doc_id in ids:
        doc = api.get(people.archivist, f"/api/v1/documents/{doc_id}").get_json()
        assert doc["index_status"] == "queued" and "locked" in doc["index_error"]
    clock.advance(minutes=5)
    assert run_pending(vault, index) == 3
    for doc_id, entry in zip(ids, TEXT_FILES, strict=False):
        assert api.get(people.archivist, f"/api/v1/documents/{doc_id}").get_json()["index_status"] == "indexed"
        hits = api.get(people.legal, "/api/v1/search", query_string={"q": f'"{entry["terms"][0]}"'}).get_json()
        assert doc_id in [i["document_id"] for i in hits["items"]]
