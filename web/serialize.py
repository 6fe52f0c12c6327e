"""Domain objects as the JSON of API.md, and as the pages show them: one presenter per object.

The pages render the same dicts (their date filters take the ISO strings). A list is presented with the
plural helper (`dossiers_json`, `documents_json`), which reads what the items share in a few queries for
the whole list, not a few per item. Never document text, keys or hashes of plaintext."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from vault.core import Vault
from vault.models import (
    AuditEvent,
    Checkout,
    DestructionBatch,
    DestructionItem,
    DestructionStatus,
    Document,
    DocumentVersion,
    Dossier,
    LegalHold,
    Notification,
    User,
)
from vault.services.dossiers import completeness, is_stale
from vault.services.item_numbers import item_code
from vault.services.retention import DueDocument
from vault.services.transfer_register import received_item


def iso(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


def user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "display_name": user.display_name,
            "role": user.role.value, "clearance": user.clearance.value, "active": user.active}


def dossier_json(v: Vault, d: Dossier, *, with_documents: bool = False,
                 workflow: dict[str, Any] | None = None) -> dict[str, Any]:
    """A dossier; ``workflow``: its entry of `dossiers_workflow_json`, when serialising a page of them."""
    out: dict[str, Any] = {
        "id": d.id, "archive_no": d.archive_no, "customer_name": d.customer_name, "credit_code": d.credit_code,
        "customer_type": d.customer_type.value, "grade": d.grade.value, "industry": d.industry,
        "region": d.region, "owner": d.owner.username, "secrecy": d.secrecy.value, "status": d.status.value,
        "next_review_date": iso(d.next_review_date), "location": d.location,
        "created_at": iso(d.created_at), "updated_at": iso(d.updated_at),
    }
    out.update(workflow if workflow is not None else dossiers_workflow_json([d]).get(d.id, {}))
    if with_documents:
        out["documents"] = documents_json(v, d.documents)
        out["completeness"] = completeness(v, d)
    return out


def dossiers_json(v: Vault, dossiers: Sequence[Dossier]) -> list[dict[str, Any]]:
    """A list of dossiers, their holds and paper holders read once for the whole list."""
    workflow = dossiers_workflow_json(dossiers)
    return [dossier_json(v, d, workflow=workflow[d.id]) for d in dossiers]


def version_json(ver: DocumentVersion) -> dict[str, Any]:
    return {
        "version": ver.version_no, "filename": ver.original_filename, "mime": ver.mime,
        "size": ver.plaintext_size, "ciphertext_sha256": ver.ciphertext_sha256, "key_id": ver.key_id,
        "pages": ver.pages, "uploaded_by": ver.uploaded_by.username, "uploaded_at": iso(ver.uploaded_at),
        "index_status": ver.index_status.value, "index_error": ver.index_error,
    }


def document_json(v: Vault, doc: Document, *, with_versions: bool = False,
                  workflow: dict[str, Any] | None = None) -> dict[str, Any]:
    """A document; ``workflow``: its entry of `documents_workflow_json`, when serialising a list of them."""
    cur = doc.current_version
    out: dict[str, Any] = {
        "id": doc.id, "dossier_id": doc.dossier_id, "archive_no": doc.dossier.archive_no,
        "customer_name": doc.dossier.customer_name,
        "doc_type": doc.doc_type.value, "title": doc.title, "doc_date": iso(doc.doc_date),
        "status": doc.status.value, "expires_on": iso(doc.expires_on), "stale": is_stale(v, doc),
        "pages": cur.pages if cur else None, "mime": cur.mime if cur else None,
        "size": cur.plaintext_size if cur else None, "filename": cur.original_filename if cur else None,
        "version": cur.version_no if cur else None,
        "index_status": cur.index_status.value if cur else None,
        "index_error": cur.index_error if cur else None,
        "created_at": iso(doc.created_at), "destroyed_at": iso(doc.destroyed_at),
        "item_no": doc.item_no, "item_code": item_code(doc.dossier.archive_no, doc.item_no),
    }
    if cur is None:  # received on paper, no scan yet: the pages listed at receipt
        paper = received_item(doc)
        out["pages"] = paper.pages if paper is not None else None
        out["paper"] = None if paper is None else {"original": paper.original, "transfer_id": paper.transfer_id}
    out.update(workflow if workflow is not None else documents_workflow_json([doc]).get(doc.id, {}))
    if with_versions:
        out["versions"] = [version_json(x) for x in doc.versions]
    return out


def documents_json(v: Vault, documents: Sequence[Document]) -> list[dict[str, Any]]:
    """A list of documents, their holds and destruction batches read once for the whole list."""
    workflow = documents_workflow_json(documents)
    return [document_json(v, doc, workflow=workflow[doc.id]) for doc in documents]


def event_json(e: AuditEvent) -> dict[str, Any]:
    import json

    return {"seq": e.seq, "at": iso(e.at), "actor": e.actor_name, "action": e.action,
            "object_type": e.object_type, "object_id": e.object_id, "dossier_id": e.dossier_id,
            "document_id": e.document_id, "client_addr": e.client_addr, "details": json.loads(e.details),
            "hash": e.hash}


def page_json(items: list[Any], total: int, page: int, per_page: int) -> dict[str, Any]:
    return {"items": items, "total": total, "page": page, "per_page": per_page}


# -- workflows: checkouts, legal holds, retention, destruction, notifications --------------------


def _username(user: User | None) -> str | None:
    return None if user is None else user.username


def hold_json(h: LegalHold) -> dict[str, Any]:
    return {"id": h.id, "dossier_id": h.dossier_id, "document_id": h.document_id, "reason": h.reason,
            "active": h.active, "placed_by": h.placed_by.username, "placed_at": iso(h.placed_at),
            "released_by": _username(h.released_by), "released_at": iso(h.released_at),
            "release_reason": h.release_reason}


def dossiers_workflow_json(dossiers: Sequence[Dossier]) -> dict[int, dict[str, Any]]:
    """For each dossier: holds on it (its own and its documents') and who has the paper file now; a
    few queries for the whole page, not two per dossier."""
    from sqlalchemy.orm import object_session

    from vault.services.checkouts import paper_holders
    from vault.services.holds import holds_on_dossiers

    session = object_session(dossiers[0]) if dossiers else None
    if session is None:
        return {}
    ids = [d.id for d in dossiers]
    holds, holders = holds_on_dossiers(session, ids), paper_holders(session, ids)
    out = {}
    for i in ids:
        holder = holders.get(i)
        out[i] = {
            "legal_holds": [hold_json(h) for h in holds[i]],
            "paper_out": None if holder is None else {
                "checkout_id": holder.id, "with": holder.requester.username, "since": iso(holder.active_from),
                "due_at": iso(holder.due_at), "status": holder.status.value},
        }
    return out


def documents_workflow_json(documents: Sequence[Document]) -> dict[int, dict[str, Any]]:
    """For each document: the holds covering it (its own or its dossier's) and, for a tombstone, its
    destruction batch; two queries for the whole list, not two per document."""
    from sqlalchemy import select
    from sqlalchemy.orm import object_session

    from vault.services.holds import holds_covering

    session = object_session(documents[0]) if documents else None
    if session is None:
        return {doc.id: {} for doc in documents}
    holds = holds_covering(session, documents)
    destroyed = [doc.id for doc in documents if doc.destroyed_at is not None]
    batches: dict[int, int] = {}
    if destroyed:
        batches = {document_id: batch_id for document_id, batch_id in session.execute(
            select(DestructionItem.document_id, DestructionItem.batch_id)
            .join(DestructionBatch, DestructionBatch.id == DestructionItem.batch_id)
            .where(DestructionItem.document_id.in_(destroyed), DestructionBatch.status == DestructionStatus.EXECUTED))}
    out: dict[int, dict[str, Any]] = {}
    for doc in documents:
        covering = holds.get(doc.id, [])
        entry: dict[str, Any] = {"under_legal_hold": bool(covering), "legal_holds": [hold_json(h) for h in covering]}
        if doc.destroyed_at is not None:
            entry["destruction_batch_id"] = batches.get(doc.id)
        out[doc.id] = entry
    return out


def checkout_json(v: Vault, c: Checkout) -> dict[str, Any]:
    now = v.clock.now()
    return {
        "id": c.id, "dossier_id": c.dossier_id, "archive_no": c.dossier.archive_no,
        "customer_name": c.dossier.customer_name, "document_ids": c.document_ids,
        "purpose": c.purpose, "kind": c.kind.value, "days": c.days, "status": c.display_status(now),
        "overdue": c.is_overdue(now), "requester": c.requester.username, "requested_at": iso(c.requested_at),
        "decided_by": _username(c.decided_by), "decided_at": iso(c.decided_at), "comment": c.decision_comment,
        "handed_over_by": _username(c.handed_over_by), "active_from": iso(c.active_from), "due_at": iso(c.due_at),
        "returned_at": iso(c.returned_at), "received_by": _username(c.received_by),
        "received_at": iso(c.received_at), "condition": c.condition, "pages_complete": c.pages_complete,
        "closed_reason": c.closed_reason,
    }


def due_json(x: DueDocument) -> dict[str, Any]:
    d = x.document
    return {"document_id": d.id, "dossier_id": d.dossier_id, "archive_no": d.dossier.archive_no, "title": d.title,
            "doc_type": d.doc_type.value, "doc_date": iso(d.doc_date), "uploaded_at": iso(d.created_at),
            "retention_years": x.years, "retention_basis": x.basis, "due_on": iso(x.due_on),
            "under_legal_hold": bool(x.holds), "hold_ids": [h.id for h in x.holds],
            "destruction_batch_id": x.open_batch_id}


def batch_json(b: DestructionBatch) -> dict[str, Any]:
    executed = b.status is DestructionStatus.EXECUTED
    return {
        "id": b.id, "status": b.status.value, "reason": b.reason,
        "proposed_by": b.proposed_by.username, "proposed_at": iso(b.proposed_at),
        "approvals": {
            "manager": None if b.manager_approver is None else {
                "by": b.manager_approver.username, "at": iso(b.manager_approved_at), "comment": b.manager_comment},
            "legal": None if b.legal_approver is None else {
                "by": b.legal_approver.username, "at": iso(b.legal_approved_at), "comment": b.legal_comment},
        },
        "executed_by": _username(b.executed_by), "executed_at": iso(b.executed_at),
        "audit_head": {"seq": b.audit_head_seq, "hash": b.audit_head_hash} if executed else None,
        "certificate_url": f"/api/v1/destructions/{b.id}/certificate" if executed else None,
        "certificate_sha256": b.certificate_sha256,
        "documents": [{"document_id": i.document_id, "archive_no": i.archive_no, "title": i.title,
                       "doc_type": i.doc_type.value, "doc_date": iso(i.doc_date),
                       "retention_basis": i.retention_basis, "due_on": iso(i.due_on),
                       "ciphertext_sha256": i.ciphertext_sha256.split("\n") if i.ciphertext_sha256 else []}
                      for i in b.items],
    }


def notification_json(n: Notification) -> dict[str, Any]:
    return {"id": n.id, "kind": n.kind, "subject": n.subject, "body": n.body, "checkout_id": n.checkout_id,
            "batch_id": n.batch_id, "created_at": iso(n.created_at), "read_at": iso(n.read_at)}
