"""Audit trail: list with filters, verify the chain."""

from __future__ import annotations

from flask import Response, jsonify, request

from vault.services import audit_log, dossiers
from web.api import bp
from web.deps import actor, get_vault, unit_of_work
from web.serialize import event_json, page_json


@bp.get("/audit")
def list_audit() -> Response:
    page, per_page = dossiers.paging(request.args.get("page"), request.args.get("per_page"))
    with unit_of_work() as session:
        result = audit_log.list_events(session, actor(), request.args, page, per_page)
        items = [event_json(e) for e in result.items]
    return jsonify(page_json(items, result.total, page, per_page))


@bp.get("/audit/verify")
def verify_audit() -> Response:
    with unit_of_work() as session:
        report = audit_log.verify(session, actor(), get_vault())
    return jsonify(report.as_json())
