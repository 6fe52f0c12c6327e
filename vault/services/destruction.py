"""Destruction (销毁): proposed by an archivist -> approved by a manager and by legal (two distinct people,
neither the proposer) -> executed by an archivist, with a certificate kept for ever.

Execution is one transaction that repeats the hold and due checks, erases every version
(`vault.services.erasure`: wrapped data key and extracted text erased, so the blob is unreadable from
that commit on; index purge queued for the index worker, the index's only writer; document a
tombstone) and stores the certificate. When the batch leaves a closed dossier with no live document, the
dossier's content is destroyed with it: its card key is erased (every sealed card value with it, and the
lookup digests go) and the dossier becomes `destroyed`. Blob deletion follows the commit from an outbox
(`blob_erasures`), so a crash or a store that is down leaves only unreadable ciphertext, which
`retry_blob_erasures` (and `dossier verify --orphans`) remove later.

Clearance: a batch is as secret as its most secret document. A batch holding any document of a
dossier above the caller's clearance is 404 to them (the batch, its approval and execution, its
certificate), and the register leaves it out and does not count it (`policy.batches_above_clearance`).
Nobody is shown part of a batch: approving or executing it means seeing all of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vault import audit, audit_checkpoints, policy
from vault.core import Vault
from vault.errors import Conflict, Forbidden, Invalid, NotFound, phrase
from vault.models import (
    AuditHead,
    DestructionBatch,
    DestructionItem,
    DestructionStatus,
    Document,
    DocumentStatus,
    DossierStatus,
    Role,
    User,
)
from vault.paging import Page, page_of
from vault.services import cards, retention
from vault.services.certificate import render_certificate
from vault.services.common import queue_reindex
from vault.services.erasure import checkpoint, erase_documents, retry_blob_erasures
from vault.services.fields import may_exist
from vault.services.holds import holds_covering


def _reason(raw: Any, field: str) -> str:
    if not isinstance(raw, str) or not " ".join(raw.split()):
        raise Invalid(field, "{field} is required")
    return " ".join(raw.split())[:2000]


def _problems(v: Vault, session: Session, documents: Sequence[Document], *, batch_id: int | None) -> list[
        dict[str, Any]]:
    """Why each document may not be destroyed now: destroyed, legal hold, not yet due, in another batch."""
    rules = retention.effective_rules(v, session)
    today = v.clock.now().date()
    holds = holds_covering(session, documents)
    other_batches = retention.open_batches_of(session, [d.id for d in documents])
    out: list[dict[str, Any]] = []
    for d in documents:
        if d.status is DocumentStatus.DESTROYED:
            out.append({"document_id": d.id, "problem": "destroyed",
                        "message": phrase("document {id} was destroyed already", id=d.id)})
            continue
        if holds.get(d.id):
            out.append({"document_id": d.id, "problem": "legal_hold", "hold_ids": [h.id for h in holds[d.id]],
                        "message": phrase("document {id} ({title}) is under legal hold {holds}", id=d.id,
                                          title=d.title, holds=", ".join(str(h.id) for h in holds[d.id]))})
        years = rules[d.doc_type]
        due = retention.due_on(d, years)
        if due is None:
            out.append({"document_id": d.id, "problem": "not_due", "due_on": None,
                        "message": phrase("document {id} ({title}) is kept permanently ({doc_type})", id=d.id,
                                          title=d.title, doc_type=d.doc_type.value)})
        elif due > today:
            out.append({"document_id": d.id, "problem": "not_due", "due_on": due.isoformat(),
                        "message": phrase("document {id} ({title}) is not due before {due_on}", id=d.id,
                                          title=d.title, due_on=due.isoformat())})
        other = other_batches.get(d.id)
        if other is not None and other != batch_id:
            out.append({"document_id": d.id, "problem": "in_batch", "batch_id": other,
                        "message": phrase("document {id} is in destruction batch {batch_id} already", id=d.id,
                                          batch_id=other)})
    return out


def _raise_problems(problems: list[dict[str, Any]], action: str) -> None:
    if not problems:
        return
    params = {"problems": [p["message"] for p in problems]}
    documents = [{k: val for k, val in p.items() if k != "message"} for p in problems]
    if action == "execution":
        raise Conflict("execution refused: {problems}", params=params, code="not_destroyable", documents=documents)
    raise Conflict("destruction refused: {problems}", params=params, code="not_destroyable", documents=documents)


def propose(v: Vault, session: Session, actor: User, document_ids: Any, reason: Any) -> DestructionBatch:
    """An archivist proposes destroying documents whose retention ended; 409 names each one that may not go."""
    policy.require(actor, "destruction.propose")
    if not isinstance(document_ids, list) or not document_ids or not all(
            isinstance(x, int) and not isinstance(x, bool) for x in document_ids):
        raise Invalid("document_ids", "document_ids must be a non-empty list of document ids")
    text = _reason(reason, "reason")
    docs = []
    for doc_id in sorted(set(document_ids)):
        doc = session.get(Document, doc_id) if may_exist(doc_id) else None
        if doc is None or not policy.can_see(actor, doc.dossier):
            raise NotFound("document {doc_id} not found", params={"doc_id": doc_id}, code="document_not_found")
        docs.append(doc)
    _raise_problems(_problems(v, session, docs, batch_id=None), "destruction")
    rules = retention.effective_rules(v, session)
    now = v.clock.now()
    batch = DestructionBatch(reason=text, status=DestructionStatus.PROPOSED, proposed_by_id=actor.id,
                             proposed_at=now)
    for d in docs:
        years = rules[d.doc_type]
        batch.items.append(DestructionItem(
            document_id=d.id, archive_no=d.dossier.archive_no, title=d.title, doc_type=d.doc_type,
            doc_date=d.doc_date, retention_basis=retention.basis_text(d, years), due_on=retention.due_on(d, years),
            ciphertext_sha256="\n".join(ver.ciphertext_sha256 for ver in d.versions)))
    session.add(batch)
    session.flush()
    audit.record(session, actor, "destruction.proposed", batch, now=now, reason=text,
                 document_ids=[d.id for d in docs])
    return batch


def get_batch(session: Session, actor: User, batch_id: int) -> DestructionBatch:
    """One batch of the register; 404 when it does not exist or holds anything above the actor's clearance."""
    policy.require(actor, "destruction.view")
    batch = session.get(DestructionBatch, batch_id)
    if batch is None or not policy.can_see_batch(actor, batch):
        raise NotFound("destruction batch {batch_id} not found", params={"batch_id": batch_id}, code="batch_not_found")
    return batch


def approve(v: Vault, session: Session, actor: User, batch_id: int, comment: Any = None) -> DestructionBatch:
    """A manager and legal each approve once; neither may be the proposer, nor the same person twice."""
    policy.require(actor, "destruction.approve")
    batch = get_batch(session, actor, batch_id)
    if actor.id == batch.proposed_by_id:
        raise Forbidden("nobody approves a batch they proposed", code="own_batch")
    if batch.status is not DestructionStatus.PROPOSED:
        raise Conflict("batch {id} is {status}, not waiting for approval",
                       params={"id": batch.id, "status": batch.status.value}, code="not_proposed")
    if actor.id in (batch.manager_approver_id, batch.legal_approver_id):
        raise Forbidden("the two approvals come from two different people", code="same_approver")
    text = " ".join(comment.split())[:2000] if isinstance(comment, str) else ""
    now = v.clock.now()
    if actor.role is Role.MANAGER:
        if batch.manager_approver_id is not None:
            raise Conflict("batch {id} is approved by a manager already",
                           params={"id": batch.id}, code="already_approved")
        batch.manager_approver_id, batch.manager_approved_at, batch.manager_comment = actor.id, now, text or None
    else:
        if batch.legal_approver_id is not None:
            raise Conflict("batch {id} is approved by legal already", params={"id": batch.id}, code="already_approved")
        batch.legal_approver_id, batch.legal_approved_at, batch.legal_comment = actor.id, now, text or None
    if batch.manager_approver_id is not None and batch.legal_approver_id is not None:
        batch.status = DestructionStatus.APPROVED
    audit.record(session, actor, "destruction.approved", batch, now=now, role=actor.role.value, comment=text,
                 fully_approved=batch.status is DestructionStatus.APPROVED)
    return batch


def _execute_in(v: Vault, session: Session, actor: User, batch_id: int) -> DestructionBatch:
    """The executing transaction: checks repeated, keys and text erased, index purge queued, certificate stored."""
    policy.require(actor, "destruction.execute")
    batch = get_batch(session, actor, batch_id)
    if batch.status is not DestructionStatus.APPROVED:
        raise Conflict("batch {id} is {status}; it is executed once a manager and legal have approved it",
                       params={"id": batch.id, "status": batch.status.value}, code="not_approved")
    docs = [item.document for item in batch.items]
    _raise_problems(_problems(v, session, docs, batch_id=batch.id), "execution")
    now = v.clock.now()
    erase_documents(session, actor, docs, now, batch=batch, batch_id=batch.id)
    _destroy_emptied_dossiers(session, actor, docs, batch.id, now)
    batch.status = DestructionStatus.EXECUTED
    batch.executed_by_id, batch.executed_at = actor.id, now
    audit.record(session, actor, "destruction.executed", batch, now=now, document_ids=[d.id for d in docs],
                 index_purge="queued")
    head = session.get(AuditHead, 1)
    assert head is not None
    batch.audit_head_seq, batch.audit_head_hash = head.seq, head.hash
    session.flush()
    pdf = render_certificate(batch)
    batch.certificate_pdf, batch.certificate_sha256 = pdf, hashlib.sha256(pdf).hexdigest()
    return batch


def _destroy_emptied_dossiers(session: Session, actor: User, docs: Sequence[Document], batch_id: int,
                              now: Any) -> None:
    """A closed dossier left without a live document: its card's sealed values erased with its key."""
    for dossier in {d.dossier.id: d.dossier for d in docs}.values():
        if dossier.status is not DossierStatus.CLOSED:
            continue
        if any(d.status is DocumentStatus.ACTIVE for d in dossier.documents):
            continue
        key_erased = cards.erase_secrets(session, dossier.id)
        dossier.status, dossier.updated_at = DossierStatus.DESTROYED, now
        queue_reindex(session, dossier, now)  # its contacts' and records' entries leave the search index
        audit.record(session, actor, "dossier.content_destroyed", dossier, now=now, batch_id=batch_id,
                     card_key_erased=key_erased)


def execute(v: Vault, actor: User, batch_id: int) -> int:
    """Execute an approved batch (its own transaction), then delete the blobs and checkpoint SQLite's WAL."""
    with v.session() as session:
        batch = _execute_in(v, session, actor, batch_id)
        executed_id = batch.id
    retry_blob_erasures(v, batch_id=executed_id)
    checkpoint(v)
    audit_checkpoints.try_sign_head(v)  # the destruction's events, signed outside the database at once
    return executed_id


def list_batches(session: Session, actor: User, page: int, per_page: int) -> Page:
    """The destruction register (销毁清册), newest first: every batch whose documents are all within the
    actor's clearance; the others are neither listed nor counted."""
    policy.require(actor, "destruction.view")
    q = select(DestructionBatch).where(DestructionBatch.id.not_in(policy.batches_above_clearance(actor)))
    return page_of(session, q.order_by(DestructionBatch.id.desc()), page, per_page)


@dataclass(frozen=True)
class Certificate:
    batch_id: int
    pdf: bytes
    sha256: str


def certificate(session: Session, actor: User, batch_id: int) -> Certificate:
    """The stored certificate of an executed batch; 404 like the batch when it is above the actor's clearance."""
    batch = get_batch(session, actor, batch_id)
    if batch.status is not DestructionStatus.EXECUTED or batch.certificate_pdf is None:
        raise Conflict("batch {id} is {status}; its certificate exists once executed",
                       params={"id": batch.id, "status": batch.status.value},
                       code="not_executed")
    return Certificate(batch.id, batch.certificate_pdf, batch.certificate_sha256 or "")
