"""The search index is derived data: lost, it is rebuilt; a document whose indexing never ran or whose
worker died mid-job still ends up indexed. Real processes: the `dossier` CLI and workers are subprocesses
killed with os._exit; the only thing controlled is the clock of the worker that takes over a lease."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from indexer.search_index import SearchIndex
from indexer.worker import lease_seconds, run_pending
from tests.conftest import Api, People
from tests.corpus import SYNTHETIC, manifest
from tests.ops.conftest import store_files
from vault.clock import FixedClock
from vault.core import Vault
from vault.models import DocumentVersion, IndexStatus, Job, JobStatus

ROOT = Path(__file__).resolve().parents[2]
DOSSIER = str(Path(sys.executable).parent / "dossier")
TEXT_FILES = [e for e in manifest(SYNTHETIC)["files"] if not e["needs_ocr"]][:6]


@pytest.fixture
def clock() -> FixedClock:
    # child processes stamp jobs with the wall clock; this test's clock starts there and moves on command
    return FixedClock(datetime.now(UTC))


def _env(vault: Vault) -> dict[str, str]:
    return {**os.environ, "DOSSIER_HOME": str(vault.settings.home), "PYTHONPATH": str(ROOT),
            "DOSSIER_WORKER_POLL_INTERVAL_S": "0.2", "DOSSIER_LOG_LEVEL": "WARNING"}


def _search_all(api: Api, people: People) -> list[list[tuple[Any, ...]]]:
    """Hits of the corpus terms: (document, snippet, score) in rank order."""
    results = []
    for entry in TEXT_FILES:
        for term in entry["terms"][:2]:
            r = api.get(people.legal, "/api/v1/search", query_string={"q": f'"{term}"', "per_page": 50})
            assert r.status_code == 200, r.get_json()
            results.append([(i["document_id"], i["snippet"], i["score"]) for i in r.get_json()["items"]])
    return results


def _index_status(vault: Vault, document_id: int) -> IndexStatus:
    with vault.session() as s:
        return s.scalars(select(DocumentVersion.index_status)
                         .where(DocumentVersion.document_id == document_id)).one()


def test_a_deleted_index_directory_is_rebuilt_by_dossier_reindex_with_identical_search_results(
        vault: Vault, index: SearchIndex, people: People, api: Api) -> None:
    stored = store_files(vault, people, [SYNTHETIC / e["path"] for e in TEXT_FILES])
    assert run_pending(vault, index) == len(stored) + 1  # and the new dossier's customer-file job
    before = _search_all(api, people)
    assert sum(1 for hits in before if hits) >= len(TEXT_FILES), "the corpus terms should find their files"

    shutil.rmtree(vault.settings.index_path)
    proc = subprocess.run([DOSSIER, "reindex"], env=_env(vault), cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert f"reindexed {len(stored)} documents" in proc.stdout

    # the running service reads the rebuilt directory without a restart; same documents, same order, same
    # snippets; BM25 scores may move in the third decimal (one segment now instead of one per upload)
    after = _search_all(api, people)
    assert [[hit[:2] for hit in hits] for hits in after] == [[hit[:2] for hit in hits] for hits in before]
    for hits_after, hits_before in zip(after, before, strict=True):
        for a, b in zip(hits_after, hits_before, strict=True):
            assert a[2] == pytest.approx(b[2], rel=0.01)
    assert index.document_ids() == {s.document_id for s in stored}


COMMIT_THEN_DIE = textwrap.dedent("""
    import os, sys
    from config import load_settings
    from vault.core import Vault
    from vault.services import documents, users
    from vault.models import User
    from sqlalchemy import select
    v = Vault.open(load_settings())
    with open(sys.argv[1], "rb") as fh:
        staged = documents.stage_upload(v, iter(lambda: fh.read(65536), b""), "contract.pdf")
    with v.session() as s:
        actor = s.scalar(select(User).where(User.username == "archivist"))
        doc = documents.commit_upload(v, s, actor, int(sys.argv[2]), staged, doc_type="contract")
        s.flush()
        doc_id = doc.id
    print(doc_id, flush=True)
    os._exit(1)  # killed after the commit, before any worker ran
""")


def test_an_upload_committed_by_a_process_killed_before_indexing_is_indexed_by_the_next_worker(
        vault: Vault, people: People, api: Api) -> None:
    dossier_id = api.new_dossier(people.archivist)["id"]
    entry = TEXT_FILES[0]
    proc = subprocess.run([sys.executable, "-c", COMMIT_THEN_DIE, str(SYNTHETIC / entry["path"]), str(dossier_id)],
                          env=_env(vault), cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1, proc.stderr
    doc_id = int(proc.stdout.strip())
    assert _index_status(vault, doc_id) is IndexStatus.QUEUED

    worker = subprocess.Popen([DOSSIER, "worker"], env=_env(vault), cwd=ROOT, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while _index_status(vault, doc_id) is not IndexStatus.INDEXED:
            assert worker.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, f"still {_index_status(vault, doc_id)} after 90 s"
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=30)
    assert "Traceback" not in err, err
    hits = api.get(people.legal, "/api/v1/search", query_string={"q": f'"{entry["terms"][0]}"'}).get_json()
    assert [i["document_id"] for i in hits["items"]] == [doc_id]


CLAIM_THEN_DIE = textwrap.dedent("""
    import os
    from config import load_settings
    from indexer.worker import claim_job
    from vault.core import Vault
    v = Vault.open(load_settings())
    claimed = claim_job(v, "doomed-worker")
    print(claimed.job_id, flush=True)
    os._exit(9)  # the worker dies holding the job, its version marked 'extracting'
""")


def test_a_job_whose_worker_process_died_holding_it_is_done_by_another_once_the_lease_runs_out(
        vault: Vault, index: SearchIndex, people: People, api: Api, clock: FixedClock) -> None:
    stored = store_files(vault, people, [SYNTHETIC / TEXT_FILES[1]["path"]])
    doc_id = stored[0].document_id
    assert run_pending(vault, index, limit=1) == 1  # the new dossier's customer-file job, queued before the file
    proc = subprocess.run([sys.executable, "-c", CLAIM_THEN_DIE], env=_env(vault), cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 9, proc.stderr
    job_id = int(proc.stdout.strip())
    assert _index_status(vault, doc_id) is IndexStatus.EXTRACTING

    clock.set(datetime.now(UTC))
    assert run_pending(vault, index) == 0, "a live lease must not be taken over"
    clock.advance(seconds=lease_seconds(vault) + 1)
    assert run_pending(vault, index) == 1
    assert _index_status(vault, doc_id) is IndexStatus.INDEXED
    with vault.session() as s:
        job = s.get(Job, job_id)
        assert job is not None and job.status is JobStatus.DONE and job.attempts == 2 and job.locked_by is None
    term = TEXT_FILES[1]["terms"][0]
    hits = api.get(people.legal, "/api/v1/search", query_string={"q": f'"{term}"'}).get_json()
    assert [i["document_id"] for i in hits["items"]] == [doc_id]
