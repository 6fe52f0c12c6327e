"""Erasing versions (crypto-shredding): the one way a version's content leaves the vault.

A version is erased by erasing, in the caller's transaction, its wrapped data key (the blob is
unreadable from that commit on), its extracted text and the keyed hash of its plaintext; its blob goes
into the `blob_erasures` outbox, which `retry_blob_erasures` empties after the commit (a crash or a
store that is down leaves only unreadable ciphertext, deleted by the next retry). A destroyed
document's terms leave the index through the purge job the index worker runs (the index files' only
writer); an index in this database (the pg engine's tables) loses them in the same transaction.

Every use is audited: `document.destroyed` for each document destroyed (a destruction's execution, the
register's replay after a restore), `version.erased` for a version erased on its own (a blob that
vanished while a backup ran).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from vault import audit
from vault.core import Vault
from vault.errors import VaultError
from vault.models import (
    BlobErasure,
    DestructionBatch,
    Document,
    DocumentStatus,
    DocumentVersion,
    Job,
    JobKind,
    JobStatus,
    SearchChunk,
    SearchDocument,
    User,
)

log = logging.getLogger("dossier.erasure")


def _shred(session: Session, version: DocumentVersion, now: datetime, batch_id: int | None) -> None:
    if version.blob_key:
        session.add(BlobErasure(blob_key=version.blob_key, batch_id=batch_id, queued_at=now, attempts=0))
    version.wrapped_key = None
    version.text_ciphertext = None
    version.fingerprint = None  # keyed hash of the plaintext: no longer needed, not kept
    version.blob_key = None


def erase_documents(session: Session, actor: User | None, documents: Sequence[Document], now: datetime, *,
                    batch: DestructionBatch | None = None, destroyed_at: datetime | None = None,
                    **details: Any) -> None:
    """Destroy the documents in the caller's transaction: every version erased, each document a tombstone
    audited as `document.destroyed` (with `details`), their pending jobs failed, the index purge queued.

    `batch` is the executed batch they belong to in this vault (None for a replay: the batch is only in
    the register); `destroyed_at` the time to record, now unless given."""
    batch_id = batch.id if batch is not None else None
    version_ids: list[int] = []
    for d in documents:
        for ver in d.versions:
            version_ids.append(ver.id)
            _shred(session, ver, now, batch_id)
        d.status = DocumentStatus.DESTROYED
        d.destroyed_at = destroyed_at or now
        audit.record(session, actor, "document.destroyed", d, now=now, **details, versions=len(d.versions),
                     ciphertext_sha256=[ver.ciphertext_sha256 for ver in d.versions])
    if version_ids:
        for job in session.scalars(select(Job).where(Job.version_id.in_(version_ids),
                                                     Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)))):
            job.status, job.last_error, job.finished_at = JobStatus.FAILED, "document destroyed", now
    # an index in this database (the pg engine's tables) loses the documents' terms in this transaction;
    # an index on disk has one writer, the index worker: it purges the postings right after this commit
    # (and keeps trying until it can); meanwhile search drops these documents, which are no longer ACTIVE
    destroyed_ids = [d.id for d in documents]
    session.execute(delete(SearchChunk).where(SearchChunk.document_id.in_(destroyed_ids)))
    session.execute(delete(SearchDocument).where(SearchDocument.document_id.in_(destroyed_ids)))
    session.add(Job(kind=JobKind.PURGE_INDEX, version_id=None, status=JobStatus.QUEUED, attempts=0, run_after=now,
                    created_at=now, payload={"document_ids": destroyed_ids, "batch_id": batch_id}))


def erase_versions(session: Session, actor: User | None, versions: Sequence[DocumentVersion], now: datetime,
                   reason: str) -> None:
    """Erase single versions whose document stays (its blob is gone already); each audited as
    `version.erased` with the reason."""
    for ver in versions:
        audit.record(session, actor, "version.erased", ver.document, now=now, version_no=ver.version_no,
                     reason=reason, ciphertext_sha256=ver.ciphertext_sha256)
        _shred(session, ver, now, None)


def retry_blob_erasures(v: Vault, *, batch_id: int | None = None) -> int:
    """Delete the blobs of erased versions; failures stay queued with their error. Returns how many remain."""
    with v.session() as session:
        q = select(BlobErasure.blob_key)
        if batch_id is not None:
            q = q.where(BlobErasure.batch_id == batch_id)
        keys = list(session.scalars(q).all())
    for key in keys:
        error: str | None = None
        try:
            v.blobs.delete(key)
        except (VaultError, OSError) as exc:
            error = getattr(exc, "message", None) or type(exc).__name__
            log.warning("could not delete blob %s of an erased version: %s (will retry)", key, error)
        with v.session() as session:
            row = session.get(BlobErasure, key)
            if row is None:
                continue
            if error is None:
                session.delete(row)
            else:
                row.attempts += 1
                row.last_error = error
    with v.session() as session:
        return session.scalar(select(func.count()).select_from(BlobErasure)) or 0


def checkpoint(v: Vault) -> None:
    """SQLite: move the WAL into the database file and truncate it, so erased bytes leave the WAL too."""
    if v.engine.dialect.name != "sqlite":
        return
    raw = v.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cur.close()
    finally:
        raw.close()
