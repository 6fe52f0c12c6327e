"""The job queue: claim a job atomically under a lease, close it, or retry it with back-off.

Jobs are claimed atomically (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: BEGIN IMMEDIATE), so several
workers never take the same job. A claimed job carries a lease: if its worker dies, another takes it
again once the lease runs out. A passing fault (store down, index locked) is retried with back-off and
given up after `worker_max_attempts`; a purge is never given up. What a job does is `indexer.index_jobs`'s.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update

from vault.core import Vault
from vault.errors import phrase
from vault.models import DocumentVersion, IndexStatus, Job, JobKind, JobStatus

log = logging.getLogger("dossier.worker")
BACKOFF_BASE_S = 5
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


def _runnable(v: Vault) -> Any:
    now = v.clock.now()
    stale = now - timedelta(seconds=lease_seconds(v))
    return or_((Job.status == JobStatus.QUEUED) & (Job.run_after <= now),
               (Job.status == JobStatus.RUNNING) & (Job.locked_at < stale))


def claim_jobs(v: Vault, me: str, count: int) -> list[Claimed]:
    """Take up to `count` of the oldest runnable jobs (or ones whose worker's lease ran out) for this worker,
    in one transaction."""
    now = v.clock.now()
    with v.session() as s:
        jobs = s.scalars(
            select(Job).where(_runnable(v)).order_by(Job.id).limit(count).with_for_update(skip_locked=True)
        ).all()
        versions = [job.version_id for job in jobs if job.version_id is not None]
        if versions:
            s.execute(update(DocumentVersion).where(DocumentVersion.id.in_(versions),
                                                    DocumentVersion.index_status != IndexStatus.INDEXED)
                      .values(index_status=IndexStatus.EXTRACTING).execution_options(synchronize_session=False))
        claimed = []
        for job in jobs:
            job.status = JobStatus.RUNNING
            job.locked_by, job.locked_at = me, now
            job.attempts += 1
            claimed.append(Claimed(job.id, job.kind, job.version_id, dict(job.payload or {}), job.attempts))
        return claimed


def claim_job(v: Vault, me: str) -> Claimed | None:
    """Take the oldest runnable job (or one whose worker's lease ran out) for this worker."""
    claimed = claim_jobs(v, me, 1)
    return claimed[0] if claimed else None


def any_runnable(v: Vault) -> bool:
    """Whether a job waits (a read: an idle worker asks this often, and claims only when told yes)."""
    with v.read_session() as s:
        return s.scalar(select(Job.id).where(_runnable(v)).limit(1)) is not None


def close_job(job: Job, now: datetime, status: JobStatus, error: str | None = None,
              retry_in_s: float | None = None) -> None:
    """End the job in `status`, or queue it again in `retry_in_s`; inside the caller's transaction."""
    job.last_error = error
    job.locked_by = job.locked_at = None
    if retry_in_s is not None:
        job.status = JobStatus.QUEUED
        job.run_after = now + timedelta(seconds=retry_in_s)
    else:
        job.status = status
        job.finished_at = now


def finish(
    v: Vault, job_id: int, status: JobStatus, error: str | None = None, retry_in_s: float | None = None
) -> None:
    """`close_job` in a transaction of its own."""
    with v.session() as s:
        job = s.get(Job, job_id)
        if job is not None:
            close_job(job, v.clock.now(), status, error, retry_in_s)


def mark_version(v: Vault, version_id: int, status: IndexStatus, error: str | None) -> None:
    with v.session() as s:
        version = s.get(DocumentVersion, version_id)
        if version is not None:
            version.index_status = status
            version.index_error = error


def passing_fault(v: Vault, claimed: Claimed, exc: Exception) -> None:
    """Retry the job with back-off, or give up after `worker_max_attempts` and say why."""
    reason = f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"[:500]
    log.warning("job %s attempt %s failed: %s", claimed.job_id, claimed.attempts, reason)
    if claimed.kind == JobKind.PURGE_INDEX:  # destroyed text must leave the index: never give up, retry often
        finish(v, claimed.job_id, JobStatus.QUEUED, reason,
               retry_in_s=min(BACKOFF_BASE_S * 2 ** (claimed.attempts - 1), MAX_PURGE_BACKOFF_S))
        return
    if claimed.attempts >= v.settings.worker_max_attempts:
        message = str(phrase("gave up after {attempts} attempts: {reason}", attempts=claimed.attempts, reason=reason))
        if claimed.version_id is not None:
            mark_version(v, claimed.version_id, IndexStatus.FAILED, message)
        finish(v, claimed.job_id, JobStatus.FAILED, message)
    else:
        if claimed.version_id is not None:
            mark_version(v, claimed.version_id, IndexStatus.QUEUED, str(phrase("retrying: {reason}", reason=reason)))
        finish(v, claimed.job_id, JobStatus.QUEUED, reason, retry_in_s=BACKOFF_BASE_S * 2 ** (claimed.attempts - 1))
