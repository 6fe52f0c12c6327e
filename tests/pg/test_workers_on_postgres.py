"""Four `dossier worker` processes on one PostgreSQL database and one index directory: 500 jobs, each done once.

The jobs are of both kinds the worker runs. `EXTRACTED` are real `index` jobs: a PDF uploaded through
the service calls, decrypted, extracted in the sandbox, sealed, indexed. The rest are `reindex_dossier`
jobs (what a secrecy change queues) for documents whose text was already extracted and sealed: they
claim, decrypt the stored text and write the index like the others, without starting a sandboxed child
per job, which alone costs about 0.4 CPU-seconds (interpreter plus pypdf/docx/pdfium imports) and
would put 500 extractions on a 2-core machine far beyond this tier's time budget.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from reportlab.pdfgen import canvas
from sqlalchemy import delete, func, select

from tests.conftest import People
from vault.clock import FixedClock
from vault.core import Vault
from vault.models import Document, DocumentVersion, IndexStatus, Job, JobKind, JobStatus
from vault.services import documents, dossiers
from vault.services.texts import seal_text
from web.bootstrap import compose

ROOT = Path(__file__).resolve().parents[2]
DOSSIER = str(Path(sys.executable).parent / "dossier")  # `python -m web.cli` misses the commands of cli_index
WORKERS = 4
JOBS = 500
EXTRACTED = 20  # real sandboxed extractions; the other jobs re-index stored text
DEADLINE_S = 150


@pytest.fixture
def clock() -> FixedClock:
    # the worker processes use the wall clock: jobs must be runnable for them now
    return FixedClock(datetime.now(UTC) - timedelta(minutes=5))


def _pdf(text: str) -> bytes:
    buf = io.BytesIO()
    page = canvas.Canvas(buf, invariant=True)
    page.drawString(72, 720, text)
    page.showPage()
    page.save()
    return buf.getvalue()


def _word(i: int) -> str:
    return f"workerdoc{i:04d}"


def _seed(vault: Vault, people: People) -> list[int]:
    """One dossier per job, one uploaded PDF in each (8 threads: most of it is fsync and round trips);
    all but EXTRACTED then turned into reindex jobs."""
    archivist = people.archivist

    def upload(i: int) -> int:
        with vault.session() as s:
            dossier_id = dossiers.create_dossier(vault, s, archivist, {"customer_name": f"并发索引客户{i:04d}",
                                                                        "customer_type": "client"}).id
        staged = documents.stage_upload(vault, [_pdf(f"Contract {_word(i)} for customer {i}")], f"c{i}.pdf")
        with vault.session() as s:
            return documents.commit_upload(vault, s, archivist, dossier_id, staged, doc_type="contract").id

    with ThreadPoolExecutor(8) as pool:
        doc_ids = list(pool.map(upload, range(JOBS)))
    now = vault.clock.now()
    with vault.session() as s:
        # the dossiers' own jobs (their customer-file entries: these card-less dossiers have none) are not the
        # jobs this test hands the workers
        s.execute(delete(Job).where(Job.kind == JobKind.REINDEX_CUSTOMER))
        for i, doc_id in enumerate(doc_ids[EXTRACTED:], start=EXTRACTED):
            document = s.get(Document, doc_id)
            assert document is not None and document.current_version is not None
            version = document.current_version
            # the state an earlier extraction left: text sealed with the version's key, version indexed
            version.text_ciphertext = seal_text(vault, version, f"Contract {_word(i)} for customer {i}")
            version.index_status = IndexStatus.INDEXED
            s.execute(delete(Job).where(Job.version_id == version.id))
            s.add(Job(kind=JobKind.REINDEX_DOSSIER, version_id=None, payload={"dossier_id": document.dossier_id},
                      status=JobStatus.QUEUED, attempts=0, run_after=now, created_at=now))
    return doc_ids


def _job_counts(vault: Vault) -> dict[JobStatus, int]:
    with vault.session() as s:
        rows = s.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    return {status: count for status, count in rows}


def _running_workers(vault: Vault) -> set[str]:
    with vault.session() as s:
        return {w for w in s.scalars(select(Job.locked_by).where(Job.locked_by.is_not(None))) if w}


def test_four_worker_processes_do_each_of_500_jobs_exactly_once(vault: Vault, people: People) -> None:
    doc_ids = _seed(vault, people)
    assert sum(_job_counts(vault).values()) == JOBS
    env = {**os.environ, "DOSSIER_HOME": str(vault.settings.home), "DOSSIER_DATABASE_URL": vault.settings.db_url,
           "DOSSIER_WORKER_POLL_INTERVAL_S": "0.2", "DOSSIER_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    logs = [vault.settings.home / f"worker{n}.log" for n in range(WORKERS)]
    procs = []
    seen_workers: set[str] = set()
    try:
        for log in logs:
            with log.open("wb") as out:
                procs.append(subprocess.Popen([DOSSIER, "worker"], env=env, cwd=ROOT,
                                              stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + DEADLINE_S
        while True:
            counts = _job_counts(vault)
            seen_workers |= _running_workers(vault)
            if counts.get(JobStatus.QUEUED, 0) + counts.get(JobStatus.RUNNING, 0) == 0:
                break
            assert all(p.poll() is None for p in procs), "a worker exited: " + logs[0].read_text(errors="replace")
            assert time.monotonic() < deadline, f"jobs left after {DEADLINE_S} s: {counts}"
            time.sleep(0.25)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
    output = "\n".join(log.read_text(errors="replace") for log in logs)
    assert "Traceback" not in output, output

    with vault.session() as s:
        jobs = s.scalars(select(Job)).all()
        statuses = {job.status for job in jobs}
        attempts = {job.attempts for job in jobs}
        not_indexed = s.scalars(select(DocumentVersion.id).where(DocumentVersion.index_status
                                                                  != IndexStatus.INDEXED)).all()
    assert len(jobs) == JOBS and statuses == {JobStatus.DONE}, [(j.id, j.status, j.last_error) for j in jobs
                                                               if j.status is not JobStatus.DONE][:5]
    assert attempts == {1}, "a job was claimed more than once"
    assert not_indexed == []
    assert len(seen_workers) >= 2, f"the jobs were not shared between processes: {seen_workers}"
    index = compose(vault).index
    assert index.doc_count() == JOBS, "a document is missing from the index or is in it twice"
    assert index.document_ids() == set(doc_ids)
