"""Audit trail: list with filters, verify the chain."""

from __future__ import annotations

from flask import Response, jsonify, request

from vault.errors import Invalid
from vault.services import audit_log
from vault.services.common import resolve_archive_no
from web.api import bp, query_paging
from web.deps import actor, get_vault, unit_of_work
from web.serialize import event_json, page_json


@bp.get("/audit")
def list_audit() -> Response:
    page, per_page = query_paging()
    filters = request.args.to_dict()
    with unit_of_work() as session:
        if filters.get("archive_no") and filters.get("dossier_id"):
            raise Invalid("archive_no", "give either archive_no or dossier_id, not both")
        if filters.get("archive_no"):
            # the archive number a person knows, resolved within the caller's visibility (else 404)
            filters["dossier_id"] = str(resolve_archive_no(session, actor(), filters.pop("archive_no")).id)
        result = audit_log.list_events(session, actor(), filters, page, per_page)
        items = [event_json(e) for e in result.items]
    return jsonify(page_json(items, result.total, page, per_page))


@bp.get("/audit/verify")
def verify_audit() -> Response:
    with unit_of_work() as session:
        report = audit_log.verify(session, actor(), get_vault())
    return jsonify(report.as_json())
