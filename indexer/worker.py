"""The index worker: takes jobs from the jobs table, extracts text in a sandbox, stores it, indexes it.

Jobs are claimed atomically (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: BEGIN IMMEDIATE), so several
workers never take the same job. A claimed job carries a lease: if its worker dies, another takes it
again once the lease runs out. A file that cannot be read fails at once with its reason; a passing
fault (store down, index locked) is retried with back-off and given up after `worker_max_attempts`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from indexer import customer_entries, intake
from indexer.periodic import check_overdue as check_overdue  # where callers have always found it
from indexer.periodic import periodic_tasks
from indexer.pg_index import PgIndex
from indexer.sandbox import private_tmpdir as private_tmpdir  # the decrypted copy extraction reads
from indexer.search_index import IndexDoc, SearchIndex
from indexer.service import index_doc
from vault import audit
from vault.core import Vault
from vault.errors import phrase
from vault.models import (
    DestructionBatch,
    DocumentStatus,
    DocumentVersion,
    Dossier,
    IndexStatus,
    Job,
    JobKind,
    JobStatus,
)
from vault.services.documents import decrypt_version
from vault.services.texts import open_text, seal_text
from vault.services.users import system_user

log = logging.getLogger("dossier.worker")
BACKOFF_BASE_S = 5
BATCH_DOCS = 25  # extracted texts written to the index in one commit (see Batch)
BATCH_WAIT_S = 2.0
MAX_PURGE_BACKOFF_S = 300


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


def lease_seconds(v: Vault) -> int:
    return v.settings.extract_timeout_s * 2 + 120


@dataclass
class Claimed:
    job_id: int
    kind: str
    version_id: int | None
    payload: dict[str, object]
    attempts: int


def claim_job(v: Vault, me: str) -> Claimed | None:
    """Take the oldest runnable job (or one whose worker's lease ran out) for this worker."""
    now = v.clock.now()
    stale = now - timedelta(seconds=lease_seconds(v))
    with v.session() as s:
        job = s.scalars(
            select(Job).where(or_(
                (Job.status == JobStatus.QUEUED) & (Job.run_after <= now),
                (Job.status == JobStatus.RUNNING) & (Job.locked_at < stale),
            )).order_by(Job.id).limit(1).with_for_update(skip_locked=True)
        ).first()
        if job is None:
            return None
        job.status = JobStatus.RUNNING
        job.locked_by, job.locked_at = me, now
        job.attempts += 1
        if job.version_id is not None:
            version = s.get(DocumentVersion, job.version_id)
            if version is not None and version.index_status is not IndexStatus.INDEXED:
                version.index_status = IndexStatus.EXTRACTING
        return Claimed(job.id, job.kind, job.version_id, dict(job.payload or {}), job.attempts)


def _close_job(job: Job, now: datetime, status: JobStatus, error: str | None = None,
               retry_in_s: float | None = None) -> None:
    job.last_error = error
    job.locked_by = job.locked_at = None
    if retry_in_s is not None:
        job.status = JobStatus.QUEUED
        job.run_after = now + timedelta(seconds=retry_in_s)
    else:
        job.status = status
        job.finished_at = now


def _finish(
    v: Vault, job_id: int, status: JobStatus, error: str | None = None, retry_in_s: float | None = None
) -> None:
    with v.session() as s:
        job = s.get(Job, job_id)
        if job is not None:
            _close_job(job, v.clock.now(), status, error, retry_in_s)


def _mark_version(v: Vault, version_id: int, status: IndexStatus, error: str | None) -> None:
    with v.session() as s:
        version = s.get(DocumentVersion, version_id)
        if version is not None:
            version.index_status = status
            version.index_error = error


@dataclass
class Extracted:
    """A claimed index job whose text is extracted and waits to be written to the index."""

    claimed: Claimed
    version_id: int
    text: str
    pages: int | None


def _extract_version(v: Vault, claimed: Claimed, version_id: int) -> Extracted | None:
    """Decrypt and extract (sandboxed); None when the version was destroyed or its document removed."""
    with v.session() as s:
        version = s.get(DocumentVersion, version_id)
        if version is None or version.wrapped_key is None:
            return None  # destroyed meanwhile: nothing to index
        if version.document.status is not DocumentStatus.ACTIVE:
            return None
        mime = version.mime
        s.expunge_all()
    with private_tmpdir() as tmp:
        plain = tmp / ("input" + {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg",
                                  "image/tiff": ".tif"}.get(mime, ".docx"))
        fd = os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            for chunk in decrypt_version(v, version):
                fh.write(chunk)
        from indexer.extract import extract  # pypdf, docx, PIL, pypdfium2: loaded with the first job, not idle

        result = extract(plain, mime, timeout_s=v.settings.extract_timeout_s,
                         memory_mb=v.settings.extract_memory_mb, ocr_languages=v.settings.ocr_languages)
    return Extracted(claimed, version_id, result.text, result.pages)


def _commit_extracted(v: Vault, index: SearchIndex, batch: list[Extracted]) -> None:
    """Seal each text, write them all to the index in one commit, mark the versions indexed and the jobs
    done: one transaction. The version rows stay locked until the index holds the texts: a destruction
    that erases one of them waits for us (or ran before, and we see its erased key), so its purge is
    never undone."""
    now = v.clock.now()
    with v.session() as s:
        docs = []
        for item in sorted(batch, key=lambda e: e.version_id):  # one lock order for every writer
            version = s.get(DocumentVersion, item.version_id, with_for_update=True)
            if version is None or version.wrapped_key is None:
                continue
            document = version.document
            version.text_ciphertext = seal_text(v, version, item.text)
            if item.pages is not None:
                version.pages = item.pages
            if document.current_version_id == version.id and document.status is DocumentStatus.ACTIVE:
                docs.append(index_doc(document, item.text))
            version.index_status = IndexStatus.INDEXED
            version.index_error = None
            version.indexed_at = now
        for item in batch:
            job = s.get(Job, item.claimed.job_id)
            if job is not None:
                _close_job(job, now, JobStatus.DONE)
        if docs:
            _write(index, s, docs)


def _write(index: SearchIndex, session: Session, docs: list[IndexDoc]) -> None:
    """Add the documents to the index: in this transaction for an index in the database (``pg``), else
    in the index's own commit made while this transaction still holds the version rows."""
    if isinstance(index, PgIndex):
        index.add_in(session.connection(), docs)
    else:
        index.add(docs)


def _reindex_dossier(v: Vault, index: SearchIndex, dossier_id: int) -> None:
    """Re-add a dossier's documents and its customer file's entries (its secrecy, owner, card, contacts or
    records changed: the index filters on the first two and holds the others' text); once its content is
    destroyed, its contacts and records leave the index."""
    docs: list[IndexDoc] = []
    with v.session() as s:
        dossier = s.get(Dossier, dossier_id)
        if dossier is None:
            return
        stale = customer_entries.stale_keys(s, dossier)
        if stale:
            index.delete(stale)
        docs.extend(customer_entries.dossier_entries(v, s, dossier))
        for document in dossier.documents:
            if document.current_version_id is None:
                continue
            # locked until the index write below: a destruction cannot slip in between (see _commit_extracted)
            version = s.get(DocumentVersion, document.current_version_id, with_for_update=True)
            if document.status is DocumentStatus.ACTIVE and version is not None \
                    and version.index_status is IndexStatus.INDEXED:
                text = open_text(v, version)
                if text is not None:
                    docs.append(index_doc(document, text))
        if docs:
            _write(index, s, docs)


def _purge(v: Vault, index: SearchIndex, document_ids: list[int], batch_id: int | None) -> None:
    """Purge destroyed documents' postings from the index files, and say so in the audit trail."""
    index.delete(document_ids)
    with v.session() as s:
        now = v.clock.now()
        batch = s.get(DestructionBatch, batch_id) if batch_id is not None else None
        audit.record(s, system_user(s, now), "index.purged", batch, now=now, document_ids=document_ids)


class Batch:
    """Extracted texts waiting for one index commit.

    Writing to the index costs about the same for one document as for twenty-five (a Whoosh commit
    writes and merges segments), so texts are gathered and written together: when `BATCH_DOCS` are
    waiting, when the first has waited `BATCH_WAIT_S`, when a job of another kind comes, and when the
    queue is empty. Each job keeps its own lease meanwhile; a crash loses nothing but the work.
    """

    def __init__(self, v: Vault, index: SearchIndex) -> None:
        self._v = v
        self._index = index
        self._items: list[Extracted] = []
        self._since = 0.0
        self._lock = threading.Lock()  # extraction threads add while another may be flushing

    def add(self, item: Extracted) -> None:
        with self._lock:
            if not self._items:
                self._since = time.monotonic()
            self._items.append(item)
            full = len(self._items) >= BATCH_DOCS or time.monotonic() - self._since >= BATCH_WAIT_S
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            items, self._items = self._items, []
            if not items:
                return
            try:
                _commit_extracted(self._v, self._index, items)
            except Exception as exc:  # noqa: BLE001 - store, database or index away: each job retries by itself
                for item in items:
                    _passing_fault(self._v, item.claimed, exc)


def _passing_fault(v: Vault, claimed: Claimed, exc: Exception) -> None:
    """Retry the job with back-off, or give up after `worker_max_attempts` and say why."""
    reason = f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"[:500]
    log.warning("job %s attempt %s failed: %s", claimed.job_id, claimed.attempts, reason)
    if claimed.kind == JobKind.PURGE_INDEX:  # destroyed text must leave the index: never give up, retry often
        _finish(v, claimed.job_id, JobStatus.QUEUED, reason,
                retry_in_s=min(BACKOFF_BASE_S * 2 ** (claimed.attempts - 1), MAX_PURGE_BACKOFF_S))
        return
    if claimed.attempts >= v.settings.worker_max_attempts:
        message = str(phrase("gave up after {attempts} attempts: {reason}", attempts=claimed.attempts, reason=reason))
        if claimed.version_id is not None:
            _mark_version(v, claimed.version_id, IndexStatus.FAILED, message)
        _finish(v, claimed.job_id, JobStatus.FAILED, message)
    else:
        if claimed.version_id is not None:
            _mark_version(v, claimed.version_id, IndexStatus.QUEUED, str(phrase("retrying: {reason}", reason=reason)))
        _finish(v, claimed.job_id, JobStatus.QUEUED, reason, retry_in_s=BACKOFF_BASE_S * 2 ** (claimed.attempts - 1))


def process(v: Vault, index: SearchIndex, claimed: Claimed, batch: Batch | None = None) -> None:
    """Run one claimed job to its end state (an index job's text may wait in `batch`); never raises for a
    bad file."""
    from indexer.extract import ExtractionFailed

    own = batch is None
    batch = batch or Batch(v, index)
    try:
        if claimed.kind == JobKind.INDEX and claimed.version_id is not None:
            extracted = _extract_version(v, claimed, claimed.version_id)
            if extracted is not None:
                batch.add(extracted)
                return
        elif claimed.kind == JobKind.REINDEX_DOSSIER:
            batch.flush()
            _reindex_dossier(v, index, int(str(claimed.payload["dossier_id"])))
        elif claimed.kind == JobKind.REINDEX_CUSTOMER:  # a card, contact or record changed: not the documents
            batch.flush()
            ids = claimed.payload["dossier_ids"]
            assert isinstance(ids, list)
            customer_entries.reindex_customers(v, index, [int(i) for i in ids])
        elif claimed.kind == JobKind.INTAKE:  # a large scanned stack, stored by POST /api/v1/intake
            intake.run_queued_stack(v, int(str(claimed.payload["stack_id"])), int(str(claimed.payload["actor_id"])))
        elif claimed.kind == JobKind.PURGE_INDEX:
            batch.flush()
            ids = claimed.payload["document_ids"]
            batch_id = claimed.payload.get("batch_id")
            assert isinstance(ids, list)
            _purge(v, index, [int(i) for i in ids], int(str(batch_id)) if batch_id is not None else None)
        else:
            raise ExtractionFailed(f"unknown job kind {claimed.kind!r}")
    except ExtractionFailed as exc:
        # the file itself is the problem: retrying would not help
        log.info("job %s: extraction failed: %s", claimed.job_id, exc.reason)
        if claimed.version_id is not None:
            _mark_version(v, claimed.version_id, IndexStatus.FAILED, exc.reason)
        _finish(v, claimed.job_id, JobStatus.FAILED, exc.reason)
        return
    except Exception as exc:  # noqa: BLE001 - a passing fault: retry with back-off, then give up and say why
        _passing_fault(v, claimed, exc)
        return
    finally:
        if own:
            batch.flush()
    _finish(v, claimed.job_id, JobStatus.DONE)


def run_pending(v: Vault, index: SearchIndex, *, limit: int | None = None) -> int:
    """Process runnable jobs until none is left (or `limit`); returns how many were processed."""
    me = worker_id()
    done = 0
    batch = Batch(v, index)
    lanes = max(1, v.settings.worker_extractions)
    try:
        with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="dossier-extract") as pool:
            running: set[Future[None]] = set()
            more = True
            while True:
                # keep every lane busy: extraction runs in sandbox processes, so threads use every core
                while more and len(running) < lanes and (limit is None or done < limit):
                    claimed = claim_job(v, me)
                    if claimed is None:
                        more = False
                        break
                    running.add(pool.submit(process, v, index, claimed, batch))
                    done += 1
                if not running:
                    break
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    future.result()
    finally:
        batch.flush()  # after the pool has waited for every lane
    return done


def work_loop(v: Vault, index: SearchIndex, stop: threading.Event) -> None:
    """Run jobs as they come, and the periodic tasks (overdue checkouts, audit checkpoints, the sweep of
    interrupted uploads) each at its interval, until `stop`."""
    tasks = periodic_tasks(v)
    due = [time.monotonic()] * len(tasks)
    while not stop.is_set():
        for i, (task, every) in enumerate(tasks):
            if time.monotonic() >= due[i]:
                task(v)
                due[i] = time.monotonic() + every
        try:
            if run_pending(v, index, limit=BATCH_DOCS) == 0:
                stop.wait(min(v.settings.worker_poll_interval_s, max(min(due) - time.monotonic(), 0)))
        except Exception:  # noqa: BLE001 - the database may be briefly away; keep the loop alive
            log.exception("worker loop error; retrying")
            stop.wait(5)


def warm_up(v: Vault) -> None:
    """Start the extraction sandboxes before the first job, not with it (the index is open already: web.bootstrap)."""
    from indexer import extract, sandbox  # noqa: F401 - the parent's half of extraction, loaded now

    sandbox.prewarm(v.settings.worker_extractions)


class BackgroundWorker:
    """A worker thread inside `dossier serve`."""

    def __init__(self, v: Vault, index: SearchIndex) -> None:
        self._v = v
        self._index = index
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dossier-index-worker", daemon=True)

    def start(self) -> BackgroundWorker:
        self._thread.start()
        return self

    def _run(self) -> None:
        warm_up(self._v)
        work_loop(self._v, self._index, self._stop)

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._thread.join(timeout)


def start_background_worker(v: Vault, index: SearchIndex) -> BackgroundWorker:
    return BackgroundWorker(v, index).start()


def run_forever(v: Vault, index: SearchIndex, stop: threading.Event | None = None) -> None:
    """`dossier worker`: poll for jobs (and overdue checkouts) until stopped."""
    stop = stop or threading.Event()
    warm_up(v)
    log.info("index worker %s started", worker_id())
    work_loop(v, index, stop)
