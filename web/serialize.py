"""Domain objects as the JSON of API.md. Never document text, keys or hashes of plaintext."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from vault.core import Vault
from vault.models import AuditEvent, Document, DocumentVersion, Dossier, User
from vault.services.dossiers import completeness, is_stale


def iso(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


def user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "display_name": user.display_name,
            "role": user.role.value, "clearance": user.clearance.value, "active": user.active}


def dossier_json(v: Vault, d: Dossier, *, with_documents: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": d.id, "archive_no": d.archive_no, "customer_name": d.customer_name, "credit_code": d.credit_code,
        "customer_type": d.customer_type.value, "grade": d.grade.value, "industry": d.industry,
        "region": d.region, "owner": d.owner.username, "secrecy": d.secrecy.value, "status": d.status.value,
        "next_review_date": iso(d.next_review_date), "location": d.location,
        "created_at": iso(d.created_at), "updated_at": iso(d.updated_at),
    }
    if with_documents:
        out["documents"] = [document_json(v, doc) for doc in d.documents]
        out["completeness"] = completeness(v, d)
    return out


def version_json(ver: DocumentVersion) -> dict[str, Any]:
    return {
        "version": ver.version_no, "filename": ver.original_filename, "mime": ver.mime,
        "size": ver.plaintext_size, "ciphertext_sha256": ver.ciphertext_sha256, "key_id": ver.key_id,
        "pages": ver.pages, "uploaded_by": ver.uploaded_by.username, "uploaded_at": iso(ver.uploaded_at),
        "index_status": ver.index_status.value, "index_error": ver.index_error,
    }


def document_json(v: Vault, doc: Document, *, with_versions: bool = False) -> dict[str, Any]:
    cur = doc.current_version
    out: dict[str, Any] = {
        "id": doc.id, "dossier_id": doc.dossier_id, "archive_no": doc.dossier.archive_no,
        "doc_type": doc.doc_type.value, "title": doc.title, "doc_date": iso(doc.doc_date),
        "status": doc.status.value, "expires_on": iso(doc.expires_on), "stale": is_stale(v, doc),
        "pages": cur.pages if cur else None, "mime": cur.mime if cur else None,
        "size": cur.plaintext_size if cur else None, "filename": cur.original_filename if cur else None,
        "version": cur.version_no if cur else None,
        "index_status": cur.index_status.value if cur else None,
        "index_error": cur.index_error if cur else None,
        "created_at": iso(doc.created_at), "destroyed_at": iso(doc.destroyed_at),
    }
    if with_versions:
        out["versions"] = [version_json(x) for x in doc.versions]
    return out


def event_json(e: AuditEvent) -> dict[str, Any]:
    import json

    return {"seq": e.seq, "at": iso(e.at), "actor": e.actor_name, "action": e.action,
            "object_type": e.object_type, "object_id": e.object_id, "dossier_id": e.dossier_id,
            "document_id": e.document_id, "client_addr": e.client_addr, "details": json.loads(e.details),
            "hash": e.hash}


def page_json(items: list[Any], total: int, page: int, per_page: int) -> dict[str, Any]:
    return {"items": items, "total": total, "page": page, "per_page": per_page}
