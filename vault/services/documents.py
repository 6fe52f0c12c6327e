"""Documents: streamed, encrypted upload; new versions; decryption (who reads what: `reading`).

An upload is two short transactions around the stream, so a long upload never holds the database:
`prepare_upload` checks who may add to which dossier, `stage_upload` inspects + encrypts + stores the
blob, `commit_upload` writes version row + audit event + index job in one transaction. Any failure
after the blob was stored deletes it; a crash leaves an orphan that the sweep removes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import Row, delete, select
from sqlalchemy.orm import Session

from vault import audit, policy
from vault.core import Vault
from vault.crypto import decrypt_iter, encrypt_iter, new_data_key
from vault.errors import Conflict, Forbidden, Gone, Invalid, NotFound
from vault.filetypes.inspector import ContentInspector, Inspection
from vault.filetypes.names import filename_problem, sanitize_filename
from vault.models import (
    DocType,
    Document,
    DocumentStatus,
    DocumentVersion,
    Dossier,
    DossierStatus,
    IndexStatus,
    Job,
    JobKind,
    JobStatus,
    PendingBlob,
    User,
)
from vault.services.common import get_dossier
from vault.services.fields import may_exist, parse_date
from vault.services.item_numbers import assign_item_no
from vault.storage import new_blob_key

DOC_TYPES_TEXT = ", ".join(DocType)


@dataclass
class StagedBlob:
    """An encrypted blob in the store that no row points at yet."""

    blob_key: str
    version_uid: str
    key_id: int
    wrapped_key: bytes
    plaintext_size: int
    ciphertext_size: int
    ciphertext_sha256: str
    fingerprint: str
    inspection: Inspection
    filename: str


def _writable_dossier(session: Session, actor: User, dossier_id: int) -> Dossier:
    dossier = get_dossier(session, actor, dossier_id)
    policy.require(actor, "document.upload")
    if dossier.status is not DossierStatus.ACTIVE:
        raise Conflict("dossier {archive_no} is {status}; documents can be added only to an active dossier",
                       params={"archive_no": dossier.archive_no, "status": dossier.status.value},
                       code="dossier_not_active")
    return dossier


def prepare_upload(session: Session, actor: User, dossier_id: int) -> Dossier:
    """Check, before any byte is read, that the actor may add documents to this dossier."""
    return _writable_dossier(session, actor, dossier_id)


def stage_upload(v: Vault, chunks: Iterable[bytes], filename: str | bytes | None) -> StagedBlob:
    """Inspect the type by content while encrypting and storing; nothing remains if anything fails.

    Owns its transactions (part of the upload use case, `vault.services.uploads`): the intent to store
    is committed before the blob is written, so a crash mid-put leaves a row the sweep recognises."""
    raw_name = filename if filename is not None else ""
    problem = filename_problem(raw_name)
    if problem:
        raise Invalid("file", "The file name contains a NUL character, which is never part of a real file name. "
                      "Rename the file and upload it again.", code="invalid_filename")
    inspector = ContentInspector(v.settings.max_upload_bytes)
    result: dict[str, Inspection] = {}

    def inspected() -> Iterator[bytes]:
        for chunk in chunks:
            inspector.feed(chunk)
            yield chunk
        result["inspection"] = inspector.finish()  # raising here aborts the put: no blob remains

    data_key = new_data_key()
    uid = uuid.uuid4()
    key_id, wrapped = v.keyring.wrap(data_key, uid.bytes)
    stream = encrypt_iter(inspected(), data_key, key_id, uid.bytes, fingerprint_key=v.keyring.fingerprint_key)
    blob_key = new_blob_key()
    with v.session() as s:  # intent first: a crash mid-put leaves a blob the sweep can recognise
        s.add(PendingBlob(blob_key=blob_key, created_at=v.clock.now()))
    try:
        v.blobs.put(blob_key, stream)
    except BaseException:
        with v.session() as s:
            s.execute(delete(PendingBlob).where(PendingBlob.blob_key == blob_key))
        raise
    stats = stream.stats
    inspection = result["inspection"]
    assert stats is not None and stats.fingerprint is not None
    return StagedBlob(
        blob_key=blob_key, version_uid=uid.hex, key_id=key_id, wrapped_key=wrapped,
        plaintext_size=stats.plaintext_size, ciphertext_size=stats.ciphertext_size,
        ciphertext_sha256=stats.ciphertext_sha256, fingerprint=stats.fingerprint, inspection=inspection,
        filename=sanitize_filename(raw_name, inspection.extension),
    )


def discard_staged(v: Vault, staged: StagedBlob) -> None:
    """Delete a staged blob whose rows were never committed (its own transaction: the caller's failed)."""
    v.blobs.delete(staged.blob_key)
    with v.session() as s:
        s.execute(delete(PendingBlob).where(PendingBlob.blob_key == staged.blob_key))


def _settle(session: Session, staged: StagedBlob) -> None:
    """The blob now belongs to a version row: it is no longer pending (same transaction; a plain statement:
    no pending-blob row is ever loaded as an object)."""
    session.connection().execute(delete(PendingBlob).where(PendingBlob.blob_key == staged.blob_key))


def _parse_doc_type(raw: Any) -> DocType:
    try:
        return DocType(raw)
    except ValueError:
        raise Invalid("doc_type", "doc_type must be one of {allowed}, got {raw!r}",
                      params={"allowed": DOC_TYPES_TEXT, "raw": raw}) from None


def _find_duplicate(session: Session, dossier_id: int, fingerprint: str) -> Row[int, str] | None:
    """The id and title of an active document of the dossier with a version of this content, if any (a Core
    read on the session's connection: every upload asks, and almost always finds none; flushed first, so that
    what this session added counts, as with an ORM query)."""
    session.flush()
    return session.connection().execute(
        select(Document.id, Document.title).join(DocumentVersion, DocumentVersion.document_id == Document.id)
        .where(Document.dossier_id == dossier_id, DocumentVersion.fingerprint == fingerprint,
               Document.status == DocumentStatus.ACTIVE).limit(1)
    ).first()


def _new_version(v: Vault, actor: User, document: Document, staged: StagedBlob, version_no: int) -> DocumentVersion:
    return DocumentVersion(
        uid=staged.version_uid, document=document, version_no=version_no, blob_key=staged.blob_key,
        key_id=staged.key_id, wrapped_key=staged.wrapped_key, plaintext_size=staged.plaintext_size,
        ciphertext_size=staged.ciphertext_size, ciphertext_sha256=staged.ciphertext_sha256,
        fingerprint=staged.fingerprint, mime=staged.inspection.mime, original_filename=staged.filename,
        pages=staged.inspection.pages, uploaded_by_id=actor.id, uploaded_at=v.clock.now(),
        index_status=IndexStatus.QUEUED,
    )


def _queue_index_job(v: Vault, session: Session, version: DocumentVersion) -> None:
    session.flush()
    now = v.clock.now()
    session.add(Job(kind=JobKind.INDEX, version_id=version.id, payload={}, status=JobStatus.QUEUED, attempts=0,
                    run_after=now, created_at=now))


def _expiry(v: Vault, doc_type: DocType, doc_date: date | None) -> date | None:
    if doc_type is not DocType.CREDIT_REPORT:
        return None
    start = doc_date or v.clock.now().date()
    return start + timedelta(days=v.settings.credit_report_validity_days)


def commit_upload(
    v: Vault,
    session: Session,
    actor: User,
    dossier_id: int,
    staged: StagedBlob,
    *,
    doc_type: Any,
    title: Any = None,
    doc_date: Any = None,
) -> Document:
    """Record a staged blob as a new document: rows, audit event and index job in one transaction."""
    dossier = _writable_dossier(session, actor, dossier_id)
    dtype = _parse_doc_type(doc_type)
    ddate = parse_date("doc_date", doc_date)
    if title is not None and not isinstance(title, str):
        raise Invalid("title", "title must be text")
    clean_title = " ".join((title or "").split())[:300] or PurePosixPath(staged.filename).stem[:300]
    existing = _find_duplicate(session, dossier.id, staged.fingerprint)
    if existing is not None:
        raise Conflict("the same file is already in this dossier as document {id} ({title})",
                       params={"id": existing.id, "title": existing.title},
                       code="duplicate_document", existing_id=existing.id)
    now = v.clock.now()
    document = Document(dossier=dossier, doc_type=dtype, title=clean_title, doc_date=ddate,
                        expires_on=_expiry(v, dtype, ddate), status=DocumentStatus.ACTIVE, created_at=now,
                        created_by_id=actor.id)
    session.add(document)
    version = _new_version(v, actor, document, staged, 1)
    session.add(version)
    session.flush()  # both rows: the version's id is known now
    _queue_index_job(v, session, version)
    _settle(session, staged)
    # last, with the audit event: the dossier's counter row stays locked until the commit, and uploads into
    # one dossier wait for each other on it
    assign_item_no(session, document)
    # the link as a plain column, written with the item number in one UPDATE (the relationship's post_update
    # would be an UPDATE of its own); `document.current_version` loads the version from the session on access
    document.current_version_id = version.id
    audit.record(session, actor, "document.uploaded", document, now=now, version=1, filename=staged.filename,
                 mime=staged.inspection.mime, size=staged.plaintext_size,
                 ciphertext_sha256=staged.ciphertext_sha256, doc_type=dtype.value, title=clean_title)
    return document


def get_document(session: Session, actor: User, document_id: int) -> Document:
    """A document whose dossier the actor may see (metadata only), else NotFound."""
    document = session.get(Document, document_id) if may_exist(document_id) else None
    if document is None or not policy.can_see(actor, document.dossier):
        raise NotFound("document {document_id} not found",
                       params={"document_id": document_id}, code="document_not_found")
    return document


def prepare_new_version(session: Session, actor: User, document_id: int) -> Document:
    document = get_document(session, actor, document_id)
    _writable_dossier(session, actor, document.dossier_id)
    if document.status is not DocumentStatus.ACTIVE:
        raise Gone("document {document_id} was destroyed",
                   params={"document_id": document_id}, code="document_destroyed")
    return document


def commit_new_version(v: Vault, session: Session, actor: User, document_id: int, staged: StagedBlob) -> Document:
    """A new scan replaces the current one; older versions stay readable to archivists."""
    document = prepare_new_version(session, actor, document_id)
    for old in document.versions:
        if old.fingerprint == staged.fingerprint:
            raise Conflict("this file is already version {version_no} of document {id}",
                           params={"version_no": old.version_no, "id": document.id},
                           code="duplicate_document", existing_id=document.id)
    duplicate = _find_duplicate(session, document.dossier_id, staged.fingerprint)
    if duplicate is not None:
        raise Conflict("the same file is already in this dossier as document {id}", params={"id": duplicate.id},
                       code="duplicate_document", existing_id=duplicate.id)
    number = max((x.version_no for x in document.versions), default=0) + 1
    version = _new_version(v, actor, document, staged, number)
    session.add(version)
    document.current_version = version
    session.flush()
    _queue_index_job(v, session, version)
    _settle(session, staged)
    audit.record(session, actor, "document.version_added", document, now=v.clock.now(), version=number,
                 filename=staged.filename, mime=staged.inspection.mime, size=staged.plaintext_size,
                 ciphertext_sha256=staged.ciphertext_sha256)
    return document


def version_data_key(v: Vault, version: DocumentVersion) -> bytes:
    """The version's own data key (it opens the file and the extracted text); Gone once it was erased."""
    if version.wrapped_key is None:
        raise Gone("this version's key was erased (destroyed)", code="document_destroyed")
    return v.keyring.unwrap(version.key_id, version.wrapped_key, uuid.UUID(hex=version.uid).bytes)


def decrypt_version(v: Vault, version: DocumentVersion) -> Iterator[bytes]:
    """Plaintext of one version, streamed and authenticated segment by segment."""
    if version.blob_key is None:
        raise Gone("this version's key was erased (destroyed)", code="document_destroyed")
    data_key = version_data_key(v, version)
    # No expected_key_id: the blob header records the master key that wrapped the data key at upload,
    # and `dossier keys rotate` re-wraps data keys without touching blobs, so after a rotation the
    # header and version.key_id differ by design. The header is still authenticated (it is part of
    # every segment's associated data); the wrapped key is bound to the version uid and its key id.
    return decrypt_iter(v.blobs.get(version.blob_key), data_key, uuid.UUID(hex=version.uid).bytes)


def select_version(document: Document, version_no: int | None) -> DocumentVersion:
    if version_no is None:
        if document.current_version is None:
            raise NotFound("this document has no content yet")
        return document.current_version
    for version in document.versions:
        if version.version_no == version_no:
            return version
    raise NotFound("document {id} has no version {version_no}",
                   params={"id": document.id, "version_no": version_no}, code="version_not_found")


def upload_queue(session: Session, actor: User, limit: int = 20) -> list[Document]:
    """Documents (within clearance) whose current version is not indexed yet or failed, newest first."""
    if not policy.allowed(actor, "document.upload"):
        raise Forbidden("only archivists see the upload queue")
    return list(session.scalars(
        select(Document).join(DocumentVersion, Document.current_version_id == DocumentVersion.id)
        .join(Dossier, Dossier.id == Document.dossier_id)
        .where(DocumentVersion.index_status != IndexStatus.INDEXED, Document.status == DocumentStatus.ACTIVE,
               Dossier.secrecy.in_(policy.levels_within_clearance(actor)))
        .order_by(Document.id.desc()).limit(limit)
    ).all())


def reextract(v: Vault, session: Session, actor: User, document_id: int) -> DocumentVersion:
    """Queue a fresh extraction (text layer and OCR, with today's settings) of the current version, audited;
    archivists only. The version shows as queued until the worker has stored and indexed the new text."""
    document = get_document(session, actor, document_id)
    policy.require(actor, "document.reextract")
    if document.status is not DocumentStatus.ACTIVE:
        raise Gone("document {document_id} was destroyed",
                   params={"document_id": document_id}, code="document_destroyed")
    version = select_version(document, None)
    pending = session.scalars(select(Job.id).where(
        Job.kind == JobKind.INDEX, Job.version_id == version.id,
        Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING))).limit(1)).first()
    if pending is not None:
        raise Conflict("document {document_id} is already waiting for its extraction; wait until it is indexed",
                       params={"document_id": document_id}, code="extraction_pending")
    version.index_status = IndexStatus.QUEUED
    version.index_error = None
    _queue_index_job(v, session, version)
    audit.record(session, actor, "document.reextract_queued", document, now=v.clock.now(),
                 version=version.version_no, ocr_languages=v.settings.ocr_languages)
    return version
