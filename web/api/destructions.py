"""Destruction batches (销毁): propose, approve twice, execute, the register and the certificate."""

from __future__ import annotations

from flask import Response, jsonify

from vault.services import destruction
from web.api import bp, json_body, list_response, optional_body
from web.deps import actor, get_vault, unit_of_work
from web.openapi import PAGING, Op, S, _body, _err, _json, _path, register
from web.serialize import batch_json


@bp.post("/destructions")
def propose_destruction() -> tuple[Response, int]:
    body = json_body()
    v = get_vault()
    with unit_of_work() as session:
        out = batch_json(destruction.propose(v, session, actor(), body.get("document_ids"), body.get("reason")))
    return jsonify(out), 201


@bp.get("/destructions")
def destruction_register() -> Response:
    return list_response(lambda s, page, per_page: destruction.list_batches(s, actor(), page, per_page), batch_json)


@bp.get("/destructions/<int:batch_id>")
def get_destruction(batch_id: int) -> Response:
    with unit_of_work() as session:
        out = batch_json(destruction.get_batch(session, actor(), batch_id))
    return jsonify(out)


@bp.post("/destructions/<int:batch_id>/approve")
def approve_destruction(batch_id: int) -> Response:
    body = optional_body()
    v = get_vault()
    with unit_of_work() as session:
        out = batch_json(destruction.approve(v, session, actor(), batch_id, body.get("comment")))
    return jsonify(out)


@bp.post("/destructions/<int:batch_id>/execute")
def execute_destruction(batch_id: int) -> Response:
    optional_body()
    user = actor()
    executed = destruction.execute(get_vault(), user, batch_id)
    with unit_of_work() as session:
        out = batch_json(destruction.get_batch(session, user, executed))
    return jsonify(out)


@bp.get("/destructions/<int:batch_id>/certificate")
def destruction_certificate(batch_id: int) -> Response:
    with unit_of_work() as session:
        cert = destruction.certificate(session, actor(), batch_id)
    return certificate_response(cert)


def certificate_response(cert: destruction.Certificate) -> Response:
    """The certificate as a download, with its SHA-256 (as the register records it) in a header: the API's
    and the page's response alike."""
    resp = Response(cert.pdf, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'attachment; filename="destruction-certificate-{cert.batch_id}.pdf"'
    resp.headers["X-Certificate-SHA256"] = cert.sha256
    resp.headers["Cache-Control"] = "no-store"
    return resp


# -- OpenAPI entries -------------------------------------------------------------------------------

_COMMENT = _body({"comment": S})
_PDF = {"description": "PDF", "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}
_IDS = {"type": "array", "items": {"type": "integer"}}

_OPERATIONS: list[tuple[str, str, Op]] = [
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
]
for _method, _p, _op in _OPERATIONS:
    register(_method, _p, _op)
