"""Scanning intake, the database side: file each part of a split stack, keep the rest in the unfiled inbox.

The splitting itself (rendering pages, reading codes) runs in the extraction sandbox (`indexer.intake`);
this module is handed the parts as files. Each part is filed in its own transaction together with the
row that records it, so a stack interrupted in the middle resumes at the first part without a row
(`begin_stack` finds the stack again by its keyed fingerprint). A part is filed through the normal
upload path (`documents.stage_upload` / `commit_upload`): encrypted, deduplicated, queued for OCR.

Permissions: intake is the archivists' (and the operator's command line). A code naming a dossier that
does not exist, is above the scanning user's clearance, or that they may not add to, sends the part to the
unfiled inbox with one reason for all three, so the answer tells nothing about dossiers one may not see.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vault import audit, paper_codes, policy
from vault.core import Vault
from vault.crypto import decrypt_iter
from vault.errors import Conflict, NotFound, Phrase, VaultError, phrase
from vault.filetypes import PDF
from vault.filetypes.inspector import Inspection
from vault.intake_models import IntakePart, IntakeStack, PartState, StackStatus
from vault.models import DocType, Document, Dossier, User
from vault.services import documents
from vault.services.documents import StagedBlob
from vault.services.fields import may_exist

#: Why a part was not filed: stable codes, and the sentence for each (translated where shown).
REASONS: dict[str, Phrase] = {
    "no_codes": phrase("the stack has no readable separator code: nothing could be filed automatically"),
    "before_first_separator": phrase("these pages come before the first separator sheet"),
    "damaged_code": phrase("a QR code on the first page of this part is damaged or unreadable"),
    "unknown_dossier": phrase("the code names no dossier you may file into (it does not exist, or you may not add "
                              "to it)"),
    "unknown_doc_type": phrase("the code names a document type the archive does not know"),
    "dossier_not_active": phrase("the dossier the code names is closed or destroyed: documents can be added only to "
                                 "an active dossier"),
}


@dataclass(frozen=True)
class PartFile:
    """One part of a split stack, as the sandbox wrote it."""

    index: int
    pages: list[int]
    code: str | None
    problem: str | None
    path: Path


def require_intake(actor: User) -> None:
    """Forbidden unless the actor may run intake (archivists, the operator's command line)."""
    policy.require(actor, "document.upload")


_require = require_intake


def begin_stack(v: Vault, session: Session, actor: User, fingerprint: str, filename: str,
                source: str) -> IntakeStack:
    """The stack's record: a new one, or the earlier one with the same content (to resume or to answer again)."""
    _require(actor)
    earlier = session.scalar(select(IntakeStack).where(
        IntakeStack.fingerprint == fingerprint, IntakeStack.status != StackStatus.FAILED)
        .order_by(IntakeStack.id.desc()).limit(1))
    if earlier is not None and earlier.status in (StackStatus.DONE, StackStatus.RUNNING):
        return earlier
    now = v.clock.now()
    stack = IntakeStack(fingerprint=fingerprint, source=source, filename=filename[:255] or "stack.pdf",
                        status=StackStatus.RUNNING, done_pages=0, created_by_id=actor.id, created_at=now)
    session.add(stack)
    session.flush()
    audit.record(session, actor, "intake.started", None, now=now, stack_id=stack.id, source=source)
    return stack


def done_part_indexes(session: Session, stack_id: int) -> set[int]:
    """Parts of the stack already committed (a resumed stack skips them)."""
    return set(session.scalars(select(IntakePart.part_index).where(IntakePart.stack_id == stack_id)).all())


def _target(session: Session, actor: User, code: str | None) -> tuple[Dossier | None, DocType, str | None]:
    """The dossier and type a part's code names, or the reason it cannot be filed there."""
    decoded = paper_codes.decode(code or "")
    if decoded is None:
        return None, DocType.OTHER, "unknown_dossier"
    try:
        doc_type = DocType(decoded.doc_type) if decoded.doc_type else DocType.OTHER
    except ValueError:
        return None, DocType.OTHER, "unknown_doc_type"
    dossier = session.scalar(select(Dossier).where(Dossier.archive_no == decoded.archive_no.upper()))
    if dossier is None or not policy.can_see(actor, dossier):
        return None, doc_type, "unknown_dossier"
    try:
        documents.prepare_upload(session, actor, dossier.id)
    except Conflict:
        return None, doc_type, "dossier_not_active"
    except VaultError:
        return None, doc_type, "unknown_dossier"
    return dossier, doc_type, None


def _title(stack: IntakeStack, part: PartFile) -> str:
    stem = Path(stack.filename).stem[:200] or "scan"
    return f"{stem} p.{part.pages[0]}-{part.pages[-1]}"


def file_part(v: Vault, session: Session, actor: User, stack: IntakeStack, part: PartFile,
              staged: StagedBlob) -> dict[str, Any]:
    """Record one staged part: a new document of the dossier its code names, a duplicate, or unfiled.

    For a duplicate the answer carries ``discard``: the caller deletes the staged blob after the commit."""
    now = v.clock.now()
    row = IntakePart(stack_id=stack.id, part_index=part.index, first_page=part.pages[0], last_page=part.pages[-1],
                     pages=len(part.pages), code=(part.code or "")[:120] or None, created_at=now,
                     state=PartState.UNFILED)
    dossier, doc_type, reason = (None, DocType.OTHER, part.problem) if part.problem else \
        _target(session, actor, part.code)
    if dossier is not None:
        duplicate = documents._find_duplicate(session, dossier.id, staged.fingerprint)
        if duplicate is not None:
            row.state, row.dossier_id, row.document_id = PartState.DUPLICATE, dossier.id, duplicate.id
            session.add(row)  # the caller deletes the staged blob once this is committed (`discard`)
            return {"dossier_id": dossier.id, "document_id": duplicate.id, "pages": row.pages,
                    "first_page": row.first_page, "last_page": row.last_page, "discard": True}
        document = documents.commit_upload(v, session, actor, dossier.id, staged, doc_type=doc_type.value,
                                           title=_title(stack, part))
        row.state, row.dossier_id, row.document_id = PartState.FILED, dossier.id, document.id
        session.add(row)
        return {"dossier_id": dossier.id, "document_id": document.id, "pages": row.pages,
                "doc_type": doc_type.value, "first_page": row.first_page, "last_page": row.last_page}
    row.reason = reason or "unknown_dossier"
    _keep_blob(row, staged)
    session.add(row)
    documents._settle(session, staged)
    session.flush()
    audit.record(session, actor, "intake.unfiled", None, now=now, stack_id=stack.id, part_id=row.id,
                 pages=row.pages, reason=row.reason)
    return unfiled_json(row)


def _keep_blob(row: IntakePart, staged: StagedBlob) -> None:
    row.blob_key, row.version_uid, row.key_id = staged.blob_key, staged.version_uid, staged.key_id
    row.wrapped_key, row.plaintext_size = staged.wrapped_key, staged.plaintext_size
    row.ciphertext_size, row.ciphertext_sha256 = staged.ciphertext_size, staged.ciphertext_sha256
    row.fingerprint = staged.fingerprint


def unfiled_json(row: IntakePart) -> dict[str, Any]:
    """An unfiled part as the API shows it (the code's text is left out: it may name a dossier one may not see)."""
    return {"part_id": row.id, "pages": row.pages, "first_page": row.first_page, "last_page": row.last_page,
            "reason_code": row.reason, "reason": str(REASONS.get(row.reason or "", row.reason or "")),
            "state": row.state.value}


def stack_result(session: Session, actor: User, stack: IntakeStack) -> dict[str, Any]:
    """The stack's answer: filed (and duplicate) parts within the actor's clearance, and the unfiled ones."""
    filed: list[dict[str, Any]] = []
    duplicates: list[dict[str, Any]] = []
    unfiled: list[dict[str, Any]] = []
    for row in session.scalars(select(IntakePart).where(IntakePart.stack_id == stack.id)
                               .order_by(IntakePart.part_index)):
        if row.state in (PartState.UNFILED, PartState.DISCARDED) and row.dossier_id is None:
            unfiled.append(unfiled_json(row))
            continue
        if row.dossier is None or not policy.can_see(actor, row.dossier):
            continue
        document = session.get(Document, row.document_id) if row.document_id else None
        entry = {"dossier_id": row.dossier_id, "archive_no": row.dossier.archive_no, "document_id": row.document_id,
                 "doc_type": document.doc_type.value if document else None, "pages": row.pages,
                 "first_page": row.first_page, "last_page": row.last_page}
        if row.state is PartState.DUPLICATE:
            duplicates.append({**entry, "reason": "the same file is already in this dossier"})
        elif row.state is PartState.ASSIGNED:
            unfiled.append({**unfiled_json(row), "dossier_id": row.dossier_id, "document_id": row.document_id})
        else:
            filed.append(entry)
    return {"stack_id": stack.id, "status": stack.status.value, "pages": stack.pages, "done_pages": stack.done_pages,
            "error": stack.error, "filed": filed, "duplicates": duplicates, "unfiled": unfiled}


def get_stack(session: Session, actor: User, stack_id: int) -> IntakeStack:
    """A stack's record, to archivists only."""
    _require(actor)
    stack = session.get(IntakeStack, stack_id) if may_exist(stack_id) else None
    if stack is None:
        raise NotFound("intake {stack_id} not found", params={"stack_id": stack_id}, code="intake_not_found")
    return stack


def recent_stacks(session: Session, actor: User, limit: int = 20) -> list[IntakeStack]:
    _require(actor)
    return list(session.scalars(select(IntakeStack).order_by(IntakeStack.id.desc()).limit(limit)))


def finish_stack(v: Vault, session: Session, actor: User, stack_id: int, *, error: str | None = None) -> IntakeStack:
    """Mark the stack done (or failed with a reason) and record it in the audit trail."""
    stack = session.get(IntakeStack, stack_id)
    assert stack is not None
    now = v.clock.now()
    stack.status = StackStatus.FAILED if error else StackStatus.DONE
    stack.error = error
    stack.finished_at = now
    counts: dict[str, int] = {}
    for state in session.scalars(select(IntakePart.state).where(IntakePart.stack_id == stack.id)):
        counts[state.value] = counts.get(state.value, 0) + 1
    audit.record(session, actor, "intake.failed" if error else "intake.finished", None, now=now,
                 stack_id=stack.id, pages=stack.pages, **counts)
    return stack


def unfiled_inbox(session: Session, actor: User, limit: int = 200) -> list[IntakePart]:
    """The parts waiting for an archivist, oldest first."""
    _require(actor)
    return list(session.scalars(select(IntakePart).where(IntakePart.state == PartState.UNFILED)
                                .order_by(IntakePart.id).limit(limit)))


def _unfiled(session: Session, actor: User, part_id: int) -> IntakePart:
    _require(actor)
    row = session.get(IntakePart, part_id) if may_exist(part_id) else None
    if row is None or row.state is not PartState.UNFILED:
        raise NotFound("unfiled part {part_id} not found (it may have been assigned already)",
                       params={"part_id": part_id}, code="unfiled_part_not_found")
    return row


def _staged_of(row: IntakePart) -> StagedBlob:
    assert row.blob_key and row.version_uid and row.wrapped_key is not None and row.key_id is not None
    inspection = Inspection(mime=PDF, extension=".pdf", size=row.plaintext_size or 0, pages=row.pages, warnings=())
    return StagedBlob(blob_key=row.blob_key, version_uid=row.version_uid, key_id=row.key_id,
                      wrapped_key=row.wrapped_key, plaintext_size=row.plaintext_size or 0,
                      ciphertext_size=row.ciphertext_size or 0, ciphertext_sha256=row.ciphertext_sha256 or "",
                      fingerprint=row.fingerprint or "", inspection=inspection,
                      filename=f"intake-{row.stack_id}-{row.part_index + 1}.pdf")


def assign_part(v: Vault, session: Session, actor: User, part_id: int, dossier_id: int, *, doc_type: Any,
                title: Any = None, doc_date: Any = None) -> IntakePart:
    """File an unfiled part into a dossier the archivist chose (a duplicate there is a 409, nothing changes)."""
    row = _unfiled(session, actor, part_id)
    document = documents.commit_upload(v, session, actor, dossier_id, _staged_of(row), doc_type=doc_type,
                                       title=title or f"intake {row.stack_id} p.{row.first_page}-{row.last_page}",
                                       doc_date=doc_date)
    row.state, row.dossier_id, row.document_id = PartState.ASSIGNED, dossier_id, document.id
    row.blob_key = row.wrapped_key = None  # the document's version owns the blob now
    row.assigned_by_id, row.assigned_at = actor.id, v.clock.now()
    audit.record(session, actor, "intake.assigned", document, now=v.clock.now(), part_id=row.id)
    return row


def assigned_document(session: Session, row: IntakePart) -> Document:
    """The document an assigned part became."""
    document = session.get(Document, row.document_id)
    assert document is not None
    return document


def discard_part(v: Vault, session: Session, actor: User, part_id: int) -> list[str]:
    """Drop an unfiled part (a blank page, a duplicate); the blob keys to delete once committed."""
    row = _unfiled(session, actor, part_id)
    keys = [row.blob_key] if row.blob_key else []
    row.state = PartState.DISCARDED
    row.blob_key = row.wrapped_key = None
    row.assigned_by_id, row.assigned_at = actor.id, v.clock.now()
    audit.record(session, actor, "intake.discarded", None, now=v.clock.now(), part_id=row.id)
    return keys


def open_unfiled(v: Vault, session: Session, actor: User, part_id: int) -> Iterable[bytes]:
    """The decrypted content of an unfiled part, so the archivist can see where it belongs (audited)."""
    row = _unfiled(session, actor, part_id)
    staged = _staged_of(row)
    data_key = v.keyring.unwrap(staged.key_id, staged.wrapped_key, uuid.UUID(hex=staged.version_uid).bytes)
    audit.record(session, actor, "intake.unfiled_read", None, now=v.clock.now(), part_id=row.id)
    return decrypt_iter(v.blobs.get(staged.blob_key), data_key, uuid.UUID(hex=staged.version_uid).bytes)


# -- master-key rotation: the inbox's and the waiting stacks' data keys ------------------------------------


def _wrapped_rows(session: Session) -> list[tuple[Any, str, str]]:
    """(row, uid attribute, wrapped_key holder) for every live wrapped key of the inbox and waiting stacks."""
    rows: list[tuple[Any, str, str]] = []
    for part in session.scalars(select(IntakePart).where(IntakePart.wrapped_key.is_not(None))):
        rows.append((part, "version_uid", "part"))
    for stack in session.scalars(select(IntakeStack).where(IntakeStack.wrapped_key.is_not(None))):
        rows.append((stack, "blob_uid", "stack"))
    return rows


def key_usage(v: Vault) -> dict[int, int]:
    """How many unfiled parts and waiting stacks each master key wraps (a key in use is never retired)."""
    usage: dict[int, int] = {}
    with v.session() as s:
        for row, _uid, _kind in _wrapped_rows(s):
            usage[row.key_id] = usage.get(row.key_id, 0) + 1
    return usage


def rewrap_keys(v: Vault) -> int:
    """Re-wrap the inbox's and the waiting stacks' data keys under the current master key; how many."""
    current, done = v.keyring.current_id, 0
    with v.session() as s:
        for row, uid_attr, _kind in _wrapped_rows(s):
            if row.key_id == current:
                continue
            row.key_id, row.wrapped_key = v.keyring.rewrap(row.key_id, row.wrapped_key,
                                                           uuid.UUID(hex=getattr(row, uid_attr)).bytes)
            done += 1
    return done
