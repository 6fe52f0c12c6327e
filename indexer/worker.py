"""The index worker: takes jobs from the queue and runs them, and the periodic tasks between them.

The queue (claiming under a lease, back-off, giving up) is `indexer.jobs`; what each kind of job does
is `indexer.index_jobs`; the periodic tasks and their intervals are `indexer.periodic`. This module
runs them: `run_pending` drains the queue with several extraction lanes, `work_loop` keeps doing so
until stopped, as `dossier worker` (`run_forever`) or a thread of `dossier serve` (`BackgroundWorker`).
A file that cannot be read fails at once with its reason; a passing fault is retried with back-off.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from indexer import customer_entries, index_jobs, intake, jobs
from indexer.index_jobs import BATCH_DOCS as BATCH_DOCS  # `dossier import --wait` drains in steps of it
from indexer.index_jobs import Batch
from indexer.jobs import Claimed, claim_jobs, finish, mark_version, passing_fault, worker_id
from indexer.jobs import claim_job as claim_job  # where callers have always found them
from indexer.jobs import lease_seconds as lease_seconds
from indexer.periodic import Schedule
from indexer.periodic import check_overdue as check_overdue
from indexer.search_index import SearchIndex
from vault.core import Vault
from vault.models import IndexStatus, JobKind, JobStatus

log = logging.getLogger("dossier.worker")
PREFETCH_PER_LANE = 2  # jobs claimed ahead per extraction lane, in one transaction
IDLE_CHECK_S = 0.1  # how often an idle worker looks for a queued job


def process(v: Vault, index: SearchIndex, claimed: Claimed, batch: Batch | None = None) -> None:
    """Run one claimed job to its end state (an index job's text may wait in `batch`); never raises for a
    bad file."""
    from indexer.extract import ExtractionFailed

    own = batch is None
    batch = batch or Batch(v, index)
    try:
        if claimed.kind == JobKind.INDEX and claimed.version_id is not None:
            extracted = index_jobs.extract_version(v, claimed, claimed.version_id)
            if extracted is not None:
                batch.add(extracted)
                return
        elif claimed.kind == JobKind.REINDEX_DOSSIER:
            batch.flush()
            index_jobs.reindex_dossier(v, index, int(str(claimed.payload["dossier_id"])))
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
            index_jobs.purge(v, index, [int(i) for i in ids], int(str(batch_id)) if batch_id is not None else None)
        else:
            raise ExtractionFailed(f"unknown job kind {claimed.kind!r}")
    except ExtractionFailed as exc:
        # the file itself is the problem: retrying would not help
        log.info("job %s: extraction failed: %s", claimed.job_id, exc.reason)
        if claimed.version_id is not None:
            mark_version(v, claimed.version_id, IndexStatus.FAILED, exc.reason)
        finish(v, claimed.job_id, JobStatus.FAILED, exc.reason)
        return
    except Exception as exc:  # noqa: BLE001 - a passing fault: retry with back-off, then give up and say why
        passing_fault(v, claimed, exc)
        return
    finally:
        if own:
            batch.close()
    finish(v, claimed.job_id, JobStatus.DONE)


def run_pending(v: Vault, index: SearchIndex, *, limit: int | None = None, batch: Batch | None = None) -> int:
    """Process runnable jobs until none is left (or `limit`); returns how many were processed.

    Every extracted text is committed on return, except with a `batch` of the caller's: while jobs remain
    the caller's next call goes on filling it, and once the queue is empty its texts are handed to the
    committer without waiting (`Batch.settle`: a group commit)."""
    me = worker_id()
    done = 0
    own = batch is None
    batch = batch or Batch(v, index)
    lanes = max(1, v.settings.worker_extractions)
    claimed: deque[Claimed] = deque()
    more = True
    try:
        with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="dossier-extract") as pool:
            running: set[Future[None]] = set()
            while True:
                # keep every lane busy: extraction runs in sandbox processes, so threads use every core
                while len(running) < lanes and (limit is None or done < limit):
                    if not claimed and more:
                        # a few at once, one transaction: each waits at most PREFETCH_PER_LANE extractions
                        # for its lane, far within its lease
                        want = lanes * PREFETCH_PER_LANE
                        claimed.extend(claim_jobs(v, me, want if limit is None else min(want, limit - done)))
                        more = bool(claimed)
                    if not claimed:
                        break
                    running.add(pool.submit(process, v, index, claimed.popleft(), batch))
                    done += 1
                if not running:
                    break
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    future.result()
    finally:
        # after the pool has waited for every lane (jobs still in `claimed`, only after an error, are taken
        # again once their lease runs out, as after a crash)
        if own:
            batch.close()
        elif not more:
            batch.settle()
    return done


def work_loop(v: Vault, index: SearchIndex, stop: threading.Event) -> None:
    """Run jobs as they come, and the periodic tasks (overdue checkouts, audit checkpoints, the sweep of
    interrupted uploads) each at its interval, until `stop`. Idle, it looks for a queued job every
    `IDLE_CHECK_S` (a read), so a new upload waits for no polling interval."""
    schedule = Schedule(v)
    batch = Batch(v, index)
    try:
        while not stop.is_set():
            schedule.run_due()
            try:
                if run_pending(v, index, limit=BATCH_DOCS, batch=batch) == 0:
                    _idle(v, stop, min(v.settings.worker_poll_interval_s, schedule.seconds_to_next()))
            except Exception:  # noqa: BLE001 - the database may be briefly away; keep the loop alive
                log.exception("worker loop error; retrying")
                stop.wait(5)
    finally:
        batch.close()


def _idle(v: Vault, stop: threading.Event, seconds: float) -> None:
    """Wait up to `seconds`, or until a job is runnable or `stop`."""
    until = time.monotonic() + seconds
    while not stop.wait(max(min(IDLE_CHECK_S, until - time.monotonic()), 0)):
        if time.monotonic() >= until or jobs.any_runnable(v):
            return


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
