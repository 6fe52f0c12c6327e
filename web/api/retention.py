"""Retention: the documents whose time is up, and the years per document type."""

from __future__ import annotations

from flask import Response, jsonify

from vault.services import retention
from web.api import bp, json_body, query_paging
from web.deps import actor, get_vault, unit_of_work
from web.openapi import ENUM, PAGING, Op, _err, _json, register
from web.serialize import due_json, page_json


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


# -- OpenAPI entries -------------------------------------------------------------------------------

_OPERATIONS: list[tuple[str, str, Op]] = [
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
]
for _method, _p, _op in _OPERATIONS:
    register(_method, _p, _op)
