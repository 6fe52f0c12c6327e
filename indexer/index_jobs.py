"""What the index jobs do: extract a version's text (sandboxed) and write it, in batches, to the index;
re-add a dossier whose metadata changed; purge destroyed documents from the index.

Each job owns its transactions (see docs/architecture.md). An extracted text is sealed, the version
marked indexed, its job closed and its index entry written in one transaction (`commit_extracted`).
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from indexer import customer_entries, paper_entries
from indexer.jobs import Claimed, close_job, passing_fault
from indexer.pg_index import PgIndex
from indexer.sandbox import private_tmpdir
from indexer.search_index import IndexDoc, SearchIndex
from indexer.service import index_doc
from vault import audit
from vault.core import Vault
from vault.models import (
    DestructionBatch,
    Document,
    DocumentStatus,
    DocumentVersion,
    Dossier,
    IndexStatus,
    Job,
    JobStatus,
)
from vault.services.documents import decrypt_version
from vault.services.texts import open_text, seal_text
from vault.services.users import system_user

BATCH_DOCS = 25  # extracted texts written to the index in one commit (see Batch)
BATCH_WAIT_S = 2.0


@dataclass
class Extracted:
    """A claimed index job whose text is extracted and waits to be written to the index."""

    claimed: Claimed
    version_id: int
    text: str
    pages: int | None


def extract_version(v: Vault, claimed: Claimed, version_id: int) -> Extracted | None:
    """Decrypt and extract (sandboxed); None when the version was destroyed or its document removed."""
    with v.read_session() as s:
        version = s.get(DocumentVersion, version_id, options=[joinedload(DocumentVersion.document)])
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


def commit_extracted(v: Vault, index: SearchIndex, batch: list[Extracted]) -> None:
    """Seal each text, write them all to the index in one commit, mark the versions indexed and the jobs
    done: one transaction. The version rows stay locked until the index holds the texts: a destruction
    that erases one of them waits for us (or ran before, and we see its erased key), so its purge is
    never undone."""
    now = v.clock.now()
    texts = {item.version_id: item for item in batch}
    with v.session() as s:
        docs = []
        versions = s.scalars(  # one statement, locked in id order: one lock order for every writer
            select(DocumentVersion).where(DocumentVersion.id.in_(sorted(texts))).order_by(DocumentVersion.id)
            .with_for_update().options(selectinload(DocumentVersion.document).selectinload(Document.dossier))
        ).all()
        for version in versions:
            if version.wrapped_key is None:
                continue
            item = texts[version.id]
            document = version.document
            version.text_ciphertext = seal_text(v, version, item.text)
            if item.pages is not None:
                version.pages = item.pages
            if document.current_version_id == version.id and document.status is DocumentStatus.ACTIVE:
                docs.append(index_doc(document, item.text))
            version.index_status = IndexStatus.INDEXED
            version.index_error = None
            version.indexed_at = now
        for job in s.scalars(select(Job).where(Job.id.in_([item.claimed.job_id for item in batch]))):
            close_job(job, now, JobStatus.DONE)
        if docs:
            _write(index, s, docs)


def _write(index: SearchIndex, session: Session, docs: list[IndexDoc]) -> None:
    """Add the documents to the index: in this transaction for an index in the database (``pg``), else
    in the index's own commit made while this transaction still holds the version rows."""
    if isinstance(index, PgIndex):
        index.add_in(session.connection(), docs)
    else:
        index.add(docs)


def reindex_dossier(v: Vault, index: SearchIndex, dossier_id: int) -> None:
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
        docs.extend(paper_entries.dossier_paper_entries(s, list(dossier.documents)))
        for document in dossier.documents:
            if document.current_version_id is None:
                continue
            # locked until the index write below: a destruction cannot slip in between (see commit_extracted)
            version = s.get(DocumentVersion, document.current_version_id, with_for_update=True)
            if document.status is DocumentStatus.ACTIVE and version is not None \
                    and version.index_status is IndexStatus.INDEXED:
                text = open_text(v, version)
                if text is not None:
                    docs.append(index_doc(document, text))
        if docs:
            _write(index, s, docs)


def purge(v: Vault, index: SearchIndex, document_ids: list[int], batch_id: int | None) -> None:
    """Purge destroyed documents' postings from the index files, and say so in the audit trail."""
    index.delete(document_ids)
    with v.session() as s:
        now = v.clock.now()
        batch = s.get(DestructionBatch, batch_id) if batch_id is not None else None
        audit.record(s, system_user(s, now), "index.purged", batch, now=now, document_ids=document_ids)


class Batch:
    """Extracted texts waiting for one index commit, written by a committer thread of their own.

    Writing to the index costs about the same for one document as for twenty-five (a Whoosh commit
    writes and merges segments, a ``pg`` one locks, writes and commits), so texts are gathered and
    written together: when `BATCH_DOCS` are waiting, when the first has waited `BATCH_WAIT_S`, when a job
    of another kind comes, and when the queue is empty. A full batch is handed to the committer and the
    extraction lanes go on with the next documents meanwhile (the commit runs in this process, the
    extractions in sandbox processes: on two cores they overlap); `flush` commits what waits and returns
    once every handed batch is committed.

    When the queue runs empty, `settle` hands what waits to the committer if it is free, else the texts
    go together as soon as the running commit ends (a group commit): uploads that come one by one, as
    fast as the worker extracts them, are not written one commit each, and none waits longer than the
    commit before it. Each job keeps its own lease meanwhile; a crash loses nothing but the work.
    """

    def __init__(self, v: Vault, index: SearchIndex) -> None:
        self._v = v
        self._index = index
        self._items: list[Extracted] = []
        self._since = 0.0
        # extraction threads add while another may be flushing; re-entrant: a commit that ends at once
        # calls `_committed` in the thread that handed it over
        self._lock = threading.RLock()
        self._committer: ThreadPoolExecutor | None = None
        self._handed: list[Future[None]] = []
        self._follow = False  # hand what waits over when the running commit ends

    def add(self, item: Extracted) -> None:
        with self._lock:
            if not self._items:
                self._since = time.monotonic()
            self._items.append(item)
            if len(self._items) >= BATCH_DOCS or time.monotonic() - self._since >= BATCH_WAIT_S:
                self._hand_over()

    def _hand_over(self) -> None:
        """Give the waiting texts to the committer (one commit at a time, in order); under the lock."""
        items, self._items = self._items, []
        if items:
            if self._committer is None:
                self._committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dossier-index-commit")
            future = self._committer.submit(self._commit, items)
            self._handed.append(future)
            future.add_done_callback(self._committed)

    def _committed(self, _future: Future[None]) -> None:
        """A commit ended: if the queue ran empty meanwhile, what waits goes now."""
        with self._lock:
            if self._follow and all(f.done() for f in self._handed):
                self._follow = False
                self._hand_over()

    def _commit(self, items: list[Extracted]) -> None:
        try:
            commit_extracted(self._v, self._index, items)
        except Exception as exc:  # noqa: BLE001 - store, database or index away: each job retries by itself
            for item in items:
                passing_fault(self._v, item.claimed, exc)

    def settle(self) -> None:
        """The queue is empty: commit what waits now if the committer is free, else right after its running
        commit (see the class). Does not wait; raises what an ended commit raised, as `flush` would."""
        with self._lock:
            ended = [f for f in self._handed if f.done()]
            self._handed = [f for f in self._handed if not f.done()]
            if self._handed:
                self._follow = True
            else:
                self._hand_over()
        for future in ended:
            future.result()

    def flush(self) -> None:
        """Commit what waits; return once everything added so far is committed (or back in the queue)."""
        with self._lock:
            self._follow = False
            self._hand_over()
            handed, self._handed = self._handed, []
        for future in handed:
            future.result()

    def close(self) -> None:
        self.flush()
        if self._committer is not None:
            self._committer.shutdown()
            self._committer = None
