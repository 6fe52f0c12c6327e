"""Legal holds: place on a dossier or a document, list, release."""

from __future__ import annotations

from flask import Response, jsonify, request

from vault.services import holds
from web.api import bp, json_body, list_response
from web.deps import actor, get_vault, unit_of_work
from web.openapi import ENUM, PAGING, Op, S, _body, _err, _json, _path, _q, register
from web.serialize import hold_json


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
    active_only = request.args.get("active", "1") not in ("0", "false", "no")
    return list_response(lambda s, page, per_page: holds.list_holds(s, actor(), active_only=active_only, page=page,
                                                                    per_page=per_page), hold_json)


@bp.post("/holds/<int:hold_id>/release")
def release_hold(hold_id: int) -> Response:
    body = json_body()
    v = get_vault()
    with unit_of_work() as session:
        out = hold_json(holds.release_hold(v, session, actor(), hold_id, body.get("reason")))
    return jsonify(out)


# -- OpenAPI entries -------------------------------------------------------------------------------

_OPERATIONS: list[tuple[str, str, Op]] = [
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
]
for _method, _p, _op in _OPERATIONS:
    register(_method, _p, _op)
