"""Contacts, records of contact, complaint status and "my follow-ups" (issue 12; ../shared/API-next.md)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from flask import Response, jsonify, request

from vault.services import contacts, customer_records, follow_ups
from web.api import bp, json_body
from web.deps import actor, get_vault, unit_of_work
from web.openapi import ENUM, S, _body, _err, _json, _path, _q, register


def _plain(obj: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date | datetime) else v) for k, v in asdict(obj).items()}


def record_json(view: customer_records.RecordView) -> dict[str, Any]:
    """A record: kind, date and staff only (`masked: true`) for those who may not read the dossier's content."""
    out = _plain(view)
    if view.masked:
        return {k: out[k] for k in ("id", "dossier_id", "kind", "occurred_at", "staff", "masked", "corrected_by")}
    if view.kind != "complaint":
        for k in ("status", "handler", "deadline", "result", "satisfaction", "overdue"):
            out.pop(k)
    if view.kind != "transaction":
        for k in ("amount", "currency", "item", "payment_terms", "contract_document_id"):
            out.pop(k)
    return out


def contact_json(view: contacts.ContactView) -> dict[str, Any]:
    out = _plain(view)
    out["phone"] = None if view.phones is None else ", ".join(view.phones)
    return out


@bp.get("/dossiers/<int:dossier_id>/contacts")
def list_contacts(dossier_id: int) -> Response:
    with unit_of_work() as session:
        items, readable = contacts.list_contacts(get_vault(), session, actor(), dossier_id)
        out = {"items": [contact_json(c) for c in items], "total": len(items), "masked": not readable}
    return jsonify(out)


@bp.post("/dossiers/<int:dossier_id>/contacts")
def add_contact(dossier_id: int) -> tuple[Response, int]:
    body = json_body()
    with unit_of_work() as session:
        out = contact_json(contacts.add_contact(get_vault(), session, actor(), dossier_id, body))
    return jsonify(out), 201


@bp.get("/dossiers/<int:dossier_id>/records")
def list_records(dossier_id: int) -> Response:
    v = get_vault()
    with unit_of_work() as session:
        items, readable = customer_records.list_records(v, session, actor(), dossier_id, request.args.get("kind"))
        totals = customer_records.yearly_totals(v, session, actor(), dossier_id)
        out = {"items": [record_json(r) for r in items], "total": len(items), "masked": not readable,
               "transaction_totals": totals}
    return jsonify(out)


@bp.post("/dossiers/<int:dossier_id>/records")
def add_record(dossier_id: int) -> tuple[Response, int]:
    body = json_body()
    with unit_of_work() as session:
        out = record_json(customer_records.add_record(get_vault(), session, actor(), dossier_id, body))
    return jsonify(out), 201


@bp.post("/records/<int:record_id>/status")
def complaint_status(record_id: int) -> Response:
    body = json_body()
    with unit_of_work() as session:
        out = record_json(follow_ups.set_complaint_status(get_vault(), session, actor(), record_id, body))
    return jsonify(out)


@bp.get("/follow-ups")
def my_follow_ups() -> Response:
    with unit_of_work() as session:
        items = [_plain(f) for f in follow_ups.my_follow_ups(get_vault(), session, actor())]
    return jsonify({"items": items, "total": len(items)})


_D = "/api/v1/dossiers/{dossier_id}"
_DATE = {"type": "string", "format": "date"}
_IDS = {"type": "array", "items": {"type": "integer"}, "maxItems": 50}
CONTACT = {"name": S, "position": S, "department": S, "phone": S, "email": S,
           "decision_role": ENUM(*contacts.DECISION_ROLES), "primary": {"type": "boolean"}, "since": _DATE,
           "left_on": _DATE}
RECORD = {"kind": ENUM(*customer_records.KINDS),
          "occurred_at": {"type": "string", "description": "ISO date or date-time, not in the future"},
          "channel": S, "staff": {"type": "string", "description": "username; default the caller"},
          "contact_ids": _IDS, "summary": S, "details": {"type": "string", "description": "sealed"},
          "outcome": S, "next_action": S, "next_action_due": _DATE,
          "assignee": {"type": "string", "description": "username"}, "document_ids": _IDS,
          "corrects": {"type": "integer", "description": "the record this one corrects"},
          "follow_up_of": {"type": "integer", "description": "the record whose next step this one carries out"},
          "handler": {"type": "string", "description": "complaints: username (default the owner)"},
          "deadline": _DATE,
          "amount": {"type": "string", "description": "transactions: a decimal like 12000.50"},
          "currency": ENUM(*customer_records.CURRENCIES), "item": S, "payment_terms": S,
          "contract_document_id": {"type": "integer"}}
for _method, _path_, _op in (
    ("get", _D + "/contacts", {
        "summary": "The dossier's contacts: names and personal fields for content readers only (read audited)",
        "parameters": [_path("dossier_id")], "responses": {"200": _json(), **_err(401, 404)}}),
    ("post", _D + "/contacts", {
        "summary": "Add a contact (owner, archivist); phones and e-mail sealed",
        "parameters": [_path("dossier_id")], "requestBody": _body(CONTACT, ["name"]),
        "responses": {"201": _json(), **_err(400, 401, 403, 404, 422)}}),
    ("get", _D + "/records", {
        "summary": "The register of contact, newest first: kind, date and staff only unless the caller reads the "
                   "dossier's content (read audited); transaction totals per year for content readers",
        "parameters": [_path("dossier_id"), _q("kind", ENUM(*customer_records.KINDS))],
        "responses": {"200": _json(), **_err(401, 404, 422)}}),
    ("post", _D + "/records", {
        "summary": "Append a record (owner, archivist); never edited or deleted: a correction names `corrects`",
        "parameters": [_path("dossier_id")], "requestBody": _body(RECORD, ["kind", "occurred_at", "summary"]),
        "responses": {"201": _json(), **_err(400, 401, 403, 404, 422)}}),
    ("post", "/api/v1/records/{record_id}/status", {
        "summary": "Move a complaint one step: received -> handling -> resolved -> closed (handler, owner, "
                   "archivist, manager)",
        "parameters": [_path("record_id")],
        "requestBody": _body({"status": ENUM("handling", "resolved", "closed"), "result": S,
                              "satisfaction": {"type": "integer", "minimum": 1, "maximum": 5},
                              "handler": S, "deadline": _DATE}, ["status"]),
        "responses": {"200": _json(), **_err(400, 401, 403, 404, 409, 422)}}),
    ("get", "/api/v1/follow-ups", {
        "summary": "The caller's open follow-ups and the open complaints they handle, earliest due first",
        "responses": {"200": _json(), **_err(401)}}),
):
    register(_method, _path_, _op)
