"""Workflow endpoints: checkouts (借阅), legal holds, retention, destruction (销毁), reports, notifications."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from vault.models import CheckoutKind, CheckoutStatus
from vault.services import checkouts, destruction, holds, notifications, reports, retention
from web.api import bp, json_body, query_paging
from web.deps import actor, get_vault, unit_of_work
from web.openapi import ENUM, PAGING, Op, S, _body, _err, _json, _path, _q, register
from web.serialize import (
    batch_json,
    checkout_json,
    due_json,
    hold_json,
    notification_json,
    page_json,
)


def _optional_body() -> dict[str, Any]:
    """A JSON object when one was sent; nothing sent is an empty object."""
    if not request.get_data(cache=True) and not request.is_json:
        return {}
    return json_body()


# -- checkouts -------------------------------------------------------------------------------------

@bp.post("/checkouts")
def request_checkout() -> tuple[Response, int]:
    body = json_body()
    v = get_vault()
    with unit_of_work() as session:
        out = checkout_json(v, checkouts.request_checkout(v, session, actor(), body))
    return jsonify(out), 201


@bp.get("/checkouts")
def list_checkouts() -> Response:
    v = get_vault()
    page, per_page = query_paging()
    with unit_of_work() as session:
        result = checkouts.list_checkouts(v, session, actor(), request.args, page, per_page)
        items = [checkout_json(v, c) for c in result.items]
    return jsonify(page_json(items, result.total, page, per_page))


@bp.get("/checkouts/<int:checkout_id>")
def get_checkout(checkout_id: int) -> Response:
    v = get_vault()
    with unit_of_work() as session:
        out = checkout_json(v, checkouts.get_checkout(session, actor(), checkout_id))
    return jsonify(out)


@bp.post("/checkouts/<int:checkout_id>/approve")
def approve_checkout(checkout_id: int) -> Response:
    body = _optional_body()
    v = get_vault()
    with unit_of_work() as session:
        out = checkout_json(v, checkouts.approve_checkout(v, session, actor(), checkout_id, body.get("comment")))
    return jsonify(out)


@bp.post("/checkouts/<int:checkout_id>/reject")
def reject_checkout(checkout_id: int) -> Response:
    body = json_body()
    v = get_vault()
    with unit_of_work() as session:
        out = checkout_json(v, checkouts.reject_checkout(v, session, actor(), checkout_id, body.get("comment")))
    return jsonify(out)


@bp.post("/checkouts/<int:checkout_id>/handover")
def hand_over_checkout(checkout_id: int) -> Response:
    body = _optional_body()
    v = get_vault()
    with unit_of_work() as session:
        out = checkout_json(v, checkouts.hand_over(v, session, actor(), checkout_id, body.get("note")))
    return jsonify(out)


@bp.post("/checkouts/<int:checkout_id>/return")
def return_checkout(checkout_id: int) -> Response:
    _optional_body()
    v = get_vault()
    with unit_of_work() as session:
        out = checkout_json(v, checkouts.return_checkout(v, session, actor(), checkout_id))
    return jsonify(out)


@bp.post("/checkouts/<int:checkout_id>/receive")
def receive_checkout(checkout_id: int) -> Response:
    body = json_body()
    v = get_vault()
    with unit_of_work() as session:
        out = checkout_json(v, checkouts.receive(v, session, actor(), checkout_id, body.get("condition"),
                                                 body.get("pages_complete")))
    return jsonify(out)


# -- legal holds -----------------------------------------------------------------------------------

@bp.post("/holds")
def place_hold() -> tuple[Response, int]:
    body = json_body()
    v = get_vault()
    with unit_of_work() as session:
        hold = holds.place_hold(v, session, actor(), dossier_id=body.get("dossier_id"),
                                document_id=body.get("document_id"), reason=body.get("reason"),
                                archive_no=body.get("archive_no"))
        out = hold_json(hold)
    return jsonify(out), 201


@bp.get("/holds")
def list_holds() -> Response:
    page, per_page = query_paging()
    active_only = request.args.get("active", "1") not in ("0", "false", "no")
    with unit_of_work() as session:
        result = holds.list_holds(session, actor(), active_only=active_only, page=page, per_page=per_page)
        items = [hold_json(h) for h in result.items]
    return jsonify(page_json(items, result.total, page, per_page))


@bp.post("/holds/<int:hold_id>/release")
def release_hold(hold_id: int) -> Response:
    body = json_body()
    v = get_vault()
    with unit_of_work() as session:
        out = hold_json(holds.release_hold(v, session, actor(), hold_id, body.get("reason")))
    return jsonify(out)


# -- retention -------------------------------------------------------------------------------------

@bp.get("/retention/due")
def retention_due() -> Response:
    v = get_vault()
    page, per_page = query_paging()
    with unit_of_work() as session:
        due = retention.list_due(v, session, actor())
        items = [due_json(x) for x in due[(page - 1) * per_page: page * per_page]]
    return jsonify(page_json(items, len(due), page, per_page))


@bp.get("/retention/rules")
def retention_rules() -> Response:
    v = get_vault()
    with unit_of_work() as session:
        out = retention.rules_listing(v, session, actor())
    return jsonify({"items": out})


@bp.put("/retention/rules")
def set_retention_rules() -> Response:
    body = json_body()
    v = get_vault()
    with unit_of_work() as session:
        out = retention.set_rules(v, session, actor(), body)
    return jsonify({"items": out})


# -- destruction -----------------------------------------------------------------------------------

@bp.post("/destructions")
def propose_destruction() -> tuple[Response, int]:
    body = json_body()
    v = get_vault()
    with unit_of_work() as session:
        out = batch_json(destruction.propose(v, session, actor(), body.get("document_ids"), body.get("reason")))
    return jsonify(out), 201


@bp.get("/destructions")
def destruction_register() -> Response:
    page, per_page = query_paging()
    with unit_of_work() as session:
        result = destruction.list_batches(session, actor(), page, per_page)
        items = [batch_json(b) for b in result.items]
    return jsonify(page_json(items, result.total, page, per_page))


@bp.get("/destructions/<int:batch_id>")
def get_destruction(batch_id: int) -> Response:
    with unit_of_work() as session:
        out = batch_json(destruction.get_batch(session, actor(), batch_id))
    return jsonify(out)


@bp.post("/destructions/<int:batch_id>/approve")
def approve_destruction(batch_id: int) -> Response:
    body = _optional_body()
    v = get_vault()
    with unit_of_work() as session:
        out = batch_json(destruction.approve(v, session, actor(), batch_id, body.get("comment")))
    return jsonify(out)


@bp.post("/destructions/<int:batch_id>/execute")
def execute_destruction(batch_id: int) -> Response:
    _optional_body()
    user = actor()
    executed = destruction.execute(get_vault(), user, batch_id)
    with unit_of_work() as session:
        out = batch_json(destruction.get_batch(session, user, executed))
    return jsonify(out)


@bp.get("/destructions/<int:batch_id>/certificate")
def destruction_certificate(batch_id: int) -> Response:
    with unit_of_work() as session:
        cert = destruction.certificate(session, actor(), batch_id)
    resp = Response(cert.pdf, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'attachment; filename="destruction-certificate-{cert.batch_id}.pdf"'
    resp.headers["X-Certificate-SHA256"] = cert.sha256
    resp.headers["Cache-Control"] = "no-store"
    return resp


# -- reports and notifications ---------------------------------------------------------------------

@bp.get("/reports/summary")
def report_summary() -> Response:
    v = get_vault()
    with unit_of_work() as session:
        out = reports.summary(v, session, actor())
    return jsonify(out)


@bp.get("/notifications")
def list_notifications() -> Response:
    page, per_page = query_paging()
    unread = request.args.get("unread") in ("1", "true", "yes")
    with unit_of_work() as session:
        result = notifications.list_notifications(session, actor(), unread_only=unread, page=page, per_page=per_page)
        items = [notification_json(n) for n in result.items]
    return jsonify(page_json(items, result.total, page, per_page))


@bp.post("/notifications/<int:notification_id>/read")
def read_notification(notification_id: int) -> Response:
    v = get_vault()
    with unit_of_work() as session:
        out = notification_json(notifications.mark_read(v, session, actor(), notification_id))
    return jsonify(out)


# -- OpenAPI entries -------------------------------------------------------------------------------

_CO = "/api/v1/checkouts"
_KIND = ENUM(*CheckoutKind)
_STATUS = ENUM(*CheckoutStatus, "overdue")  # overdue: derived from the due date, never stored
_COMMENT = _body({"comment": S})
_PDF = {"description": "PDF", "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}
_IDS = {"type": "array", "items": {"type": "integer"}}

_OPERATIONS: list[tuple[str, str, Op]] = [
    ("post", _CO, {
        "summary": "Request a checkout (借阅申请): view in the browser, copy = stamped download, physical = paper",
        "requestBody": _body({"dossier_id": {"type": "integer"}, "document_ids": _IDS, "purpose": S, "kind": _KIND,
                              "days": {"type": "integer", "minimum": 1}}, ["dossier_id", "purpose", "kind"]),
        "responses": {"201": _json(), **_err(400, 401, 403, 404, 409, 422)}}),
    ("get", _CO, {"summary": "Checkouts: own; archivist, legal and manager see all within clearance",
                  "parameters": [_q("status", _STATUS), _q("mine", ENUM("1")), _q("dossier_id"), *PAGING],
                  "responses": {"200": _json(), **_err(401, 422)}}),
    ("get", _CO + "/{checkout_id}", {"summary": "One checkout", "parameters": [_path("checkout_id")],
                                     "responses": {"200": _json(), **_err(401, 404)}}),
    ("post", _CO + "/{checkout_id}/approve", {
        "summary": "Approve (archivist; manager for secret dossiers; never the requester)",
        "parameters": [_path("checkout_id")], "requestBody": _COMMENT,
        "responses": {"200": _json(), **_err(400, 401, 403, 404, 409, 422)}}),
    ("post", _CO + "/{checkout_id}/reject", {
        "summary": "Reject with a reason (same approvers)", "parameters": [_path("checkout_id")],
        "requestBody": _body({"comment": S}, ["comment"]),
        "responses": {"200": _json(), **_err(400, 401, 403, 404, 409, 422)}}),
    ("post", _CO + "/{checkout_id}/handover", {
        "summary": "Hand the paper file over (archivist): a physical checkout becomes active",
        "parameters": [_path("checkout_id")], "requestBody": _body({"note": S}),
        "responses": {"200": _json(), **_err(400, 401, 403, 404, 409)}}),
    ("post", _CO + "/{checkout_id}/return", {
        "summary": "Return (requester): electronic access ends at once", "parameters": [_path("checkout_id")],
        "responses": {"200": _json(), **_err(401, 403, 404, 409)}}),
    ("post", _CO + "/{checkout_id}/receive", {
        "summary": "Confirm a paper file came back (archivist), with its condition",
        "parameters": [_path("checkout_id")],
        "requestBody": _body({"condition": S, "pages_complete": {"type": "boolean"}}, ["condition"]),
        "responses": {"200": _json(), **_err(400, 401, 403, 404, 409, 422)}}),
    ("post", "/api/v1/holds", {
        "summary": "Place a legal hold on a dossier (by dossier_id or archive_no) or a document (legal)",
        "requestBody": _body({"dossier_id": {"type": "integer"}, "archive_no": S, "document_id": {"type": "integer"},
                              "reason": S}, ["reason"]),
        "responses": {"201": _json(), **_err(400, 401, 403, 404, 409, 422)}}),
    ("get", "/api/v1/holds", {"summary": "Legal holds (archivist, legal, manager)",
                              "parameters": [_q("active", ENUM("1", "0")), *PAGING],
                              "responses": {"200": _json(), **_err(401, 403)}}),
    ("post", "/api/v1/holds/{hold_id}/release", {
        "summary": "Release a legal hold with a reason (legal)", "parameters": [_path("hold_id")],
        "requestBody": _body({"reason": S}, ["reason"]),
        "responses": {"200": _json(), **_err(400, 401, 403, 404, 409, 422)}}),
    ("get", "/api/v1/retention/due", {
        "summary": "Documents whose retention has ended, with hold status (archivist, legal, manager)",
        "parameters": PAGING, "responses": {"200": _json(), **_err(401, 403)}}),
    ("get", "/api/v1/retention/rules", {"summary": "Retention years per document type (null = permanent)",
                                        "responses": {"200": _json(), **_err(401, 403)}}),
    ("put", "/api/v1/retention/rules", {
        "summary": "Change retention per document type (admin): {\"contract\": 30, \"other\": \"permanent\"}",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": {"oneOf": [{"type": "integer"}, ENUM("permanent")]}}}}},
        "responses": {"200": _json(), **_err(400, 401, 403, 422)}}),
    ("post", "/api/v1/destructions", {
        "summary": "Propose a destruction batch (archivist); 409 names each document under hold or not due",
        "requestBody": _body({"document_ids": _IDS, "reason": S}, ["document_ids", "reason"]),
        "responses": {"201": _json(), **_err(400, 401, 403, 404, 409, 422)}}),
    ("get", "/api/v1/destructions", {"summary": "The destruction register (销毁清册): every batch",
                                     "parameters": PAGING, "responses": {"200": _json(), **_err(401, 403)}}),
    ("get", "/api/v1/destructions/{batch_id}", {"summary": "One destruction batch", "parameters": [_path("batch_id")],
                                                "responses": {"200": _json(), **_err(401, 403, 404)}}),
    ("post", "/api/v1/destructions/{batch_id}/approve", {
        "summary": "Approve (a manager and legal: two distinct people, neither the proposer)",
        "parameters": [_path("batch_id")], "requestBody": _COMMENT,
        "responses": {"200": _json(), **_err(400, 401, 403, 404, 409)}}),
    ("post", "/api/v1/destructions/{batch_id}/execute", {
        "summary": "Execute an approved batch (archivist): keys erased, blobs deleted, index purge queued, certificate",
        "parameters": [_path("batch_id")], "responses": {"200": _json(), **_err(401, 403, 404, 409, 503)}}),
    ("get", "/api/v1/destructions/{batch_id}/certificate", {
        "summary": "The destruction certificate, PDF in Chinese and English (archivist, legal, manager)",
        "parameters": [_path("batch_id")], "responses": {"200": _PDF, **_err(401, 403, 404, 409)}}),
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
