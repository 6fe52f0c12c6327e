"""The summary report and a person's own notifications."""

from __future__ import annotations

from flask import Response, jsonify, request

from vault.services import notifications, reports
from web.api import bp, list_response
from web.deps import actor, get_vault, unit_of_work
from web.openapi import ENUM, PAGING, Op, _err, _json, _path, _q, register
from web.serialize import notification_json


@bp.get("/reports/summary")
def report_summary() -> Response:
    v = get_vault()
    with unit_of_work() as session:
        out = reports.summary(v, session, actor())
    return jsonify(out)


@bp.get("/notifications")
def list_notifications() -> Response:
    unread = request.args.get("unread") in ("1", "true", "yes")
    return list_response(lambda s, page, per_page: notifications.list_notifications(
        s, actor(), unread_only=unread, page=page, per_page=per_page), notification_json)


@bp.post("/notifications/<int:notification_id>/read")
def read_notification(notification_id: int) -> Response:
    v = get_vault()
    with unit_of_work() as session:
        out = notification_json(notifications.mark_read(v, session, actor(), notification_id))
    return jsonify(out)


# -- OpenAPI entries -------------------------------------------------------------------------------

_OPERATIONS: list[tuple[str, str, Op]] = [
    ("get", "/api/v1/reports/summary", {
        "summary": "Dossiers by grade/type/status, documents by type, checkouts by status and month, overdue, "
                   "retention due in 90 days, stale credit reports, incomplete dossiers",
        "responses": {"200": _json(), **_err(401, 403)}}),
    ("get", "/api/v1/notifications", {"summary": "Your notifications, newest first",
                                      "parameters": [_q("unread", ENUM("1")), *PAGING],
                                      "responses": {"200": _json(), **_err(401)}}),
    ("post", "/api/v1/notifications/{notification_id}/read", {
        "summary": "Mark one of your notifications read", "parameters": [_path("notification_id")],
        "responses": {"200": _json(), **_err(401, 404)}}),
]
for _method, _p, _op in _OPERATIONS:
    register(_method, _p, _op)
