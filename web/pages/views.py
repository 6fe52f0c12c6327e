"""Domain objects as plain dicts for templates (read inside the unit of work, rendered after it)."""

from __future__ import annotations

import math
from typing import Any

from vault.core import Vault
from vault.models import Document, Dossier
from vault.services.dossiers import is_stale
from vault.services.item_numbers import item_code
from vault.services.transfer_register import received_item


def dossier_row(d: Dossier) -> dict[str, Any]:
    return {"id": d.id, "archive_no": d.archive_no, "customer_name": d.customer_name,
            "credit_code": d.credit_code, "customer_type": d.customer_type.value, "grade": d.grade.value,
            "industry": d.industry, "region": d.region, "owner": d.owner.username, "secrecy": d.secrecy.value,
            "status": d.status.value, "location": d.location, "next_review_date": d.next_review_date,
            "created_at": d.created_at, "updated_at": d.updated_at}


def document_row(v: Vault, doc: Document) -> dict[str, Any]:
    cur = doc.current_version
    paper = received_item(doc) if cur is None else None  # received on paper, no scan yet
    return {"id": doc.id, "dossier_id": doc.dossier_id, "archive_no": doc.dossier.archive_no,
            "customer_name": doc.dossier.customer_name, "doc_type": doc.doc_type.value, "title": doc.title,
            "doc_date": doc.doc_date, "status": doc.status.value, "expires_on": doc.expires_on,
            "stale": is_stale(v, doc), "pages": cur.pages if cur else (paper.pages if paper else None),
            "mime": cur.mime if cur else None,
            "size": cur.plaintext_size if cur else None, "filename": cur.original_filename if cur else None,
            "version": cur.version_no if cur else None,
            "index_status": cur.index_status.value if cur else None,
            "index_error": cur.index_error if cur else None, "created_at": doc.created_at,
            "item_no": doc.item_no, "item_code": item_code(doc.dossier.archive_no, doc.item_no)}


def checkout_row(v: Vault, c: Any) -> dict[str, Any]:
    now = v.clock.now()
    due = c.due_at
    # time left counts started units: a 3-day checkout an hour old has 3 days left (2 d 23 h), not 2
    seconds = (due - now).total_seconds() if due is not None else 0.0
    return {"id": c.id, "dossier_id": c.dossier_id, "archive_no": c.dossier.archive_no,
            "customer_name": c.dossier.customer_name, "requester": c.requester.username,
            "purpose": c.purpose, "kind": c.kind.value, "days": c.days, "status": c.display_status(now),
            "requested_at": c.requested_at, "due_at": due,
            "decided_by": c.decided_by.username if c.decided_by else None,
            "comment": c.decision_comment, "returned_at": c.returned_at,
            "document_ids": list(c.document_ids),
            "decided_at": c.decided_at, "active_from": c.active_from,
            "hours_left": math.ceil(seconds / 3600) if seconds > 0 else 0,
            "days_left": math.ceil(seconds / 86400) if seconds > 0 else 0}
