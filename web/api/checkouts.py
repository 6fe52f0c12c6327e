"""Checkouts (借阅): request, approve or reject, hand over, return, receive the paper file back."""

from __future__ import annotations

from flask import Response, jsonify, request

from vault.models import CheckoutKind, CheckoutStatus
from vault.services import checkouts
from web.api import bp, json_body, list_response, optional_body
from web.deps import actor, get_vault, unit_of_work
from web.openapi import ENUM, PAGING, Op, S, _body, _err, _json, _path, _q, register
from web.serialize import checkout_json


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
    return list_response(lambda s, page, n: checkouts.list_checkouts(v, s, actor(), request.args, page, n),
                         lambda c: checkout_json(v, c))


@bp.get("/checkouts/<int:checkout_id>")
def get_checkout(checkout_id: int) -> Response:
    v = get_vault()
    with unit_of_work() as session:
        out = checkout_json(v, checkouts.get_checkout(session, actor(), checkout_id))
    return jsonify(out)


@bp.post("/checkouts/<int:checkout_id>/approve")
def approve_checkout(checkout_id: int) -> Response:
    body = optional_body()
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
    body = optional_body()
    v = get_vault()
    with unit_of_work() as session:
        out = checkout_json(v, checkouts.hand_over(v, session, actor(), checkout_id, body.get("note")))
    return jsonify(out)


@bp.post("/checkouts/<int:checkout_id>/return")
def return_checkout(checkout_id: int) -> Response:
    optional_body()
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


# -- OpenAPI entries -------------------------------------------------------------------------------

_CO = "/api/v1/checkouts"
_KIND = ENUM(*CheckoutKind)
_STATUS = ENUM(*CheckoutStatus, "overdue")  # overdue: derived from the due date, never stored
_COMMENT = _body({"comment": S})
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
]
for _method, _p, _op in _OPERATIONS:
    register(_method, _p, _op)
