"""The customer card: card, history, exact lookup, periodic reviews, changes of owner (issue 12)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from vault.customer_models import CardHistory, CardReview, OwnerChange
from vault.errors import Invalid
from vault.models import User
from vault.services import cards, lookup, owner_changes, reviews
from web.api import bp, json_body
from web.deps import actor, get_vault, unit_of_work
from web.openapi import ENUM, S, _body, _err, _json, _path, _q, register
from web.serialize import iso

CHANGED = "changed"


def history_json(h: CardHistory) -> dict[str, Any]:
    """One history line; a sensitive field's values are never told, only that it changed."""
    return {"at": iso(h.at), "actor": h.actor_name, "field": h.field,
            "old": None if h.sensitive else h.old, "new": CHANGED if h.sensitive else h.new, "reason": h.reason}


def review_json(r: CardReview, reviewer: User | None) -> dict[str, Any]:
    return {"id": r.id, "dossier_id": r.dossier_id, "reviewed_on": iso(r.reviewed_on), "result": r.result,
            "grade": r.grade, "stage": r.stage, "reason": r.reason, "next_review_on": iso(r.next_review_on),
            "reviewer": None if reviewer is None else reviewer.username, "checked": r.checked}


def owner_change_json(c: OwnerChange, names: dict[int, str]) -> dict[str, Any]:
    return {"id": c.id, "dossier_id": c.dossier_id, "owner": names.get(c.to_owner_id), "reason": c.reason,
            "status": c.status, "requested_by": names.get(c.requested_by_id), "requested_at": iso(c.requested_at),
            "decided_by": names.get(c.decided_by_id) if c.decided_by_id else None, "decided_at": iso(c.decided_at)}


def _names(session: Any, *ids: int | None) -> dict[int, str]:
    return {i: u.username for i in ids if i is not None and (u := session.get(User, i)) is not None}


@bp.get("/dossiers/<int:dossier_id>/card")
def get_card(dossier_id: int) -> Response:
    v = get_vault()
    with unit_of_work() as session:
        view = cards.read_card(v, session, actor(), dossier_id)
    return jsonify({"fields": view.fields, "missing": view.missing, "masked": view.masked})


@bp.patch("/dossiers/<int:dossier_id>/card")
def patch_card(dossier_id: int) -> Response:
    body = json_body()
    v = get_vault()
    with unit_of_work() as session:
        view = cards.update_card(v, session, actor(), dossier_id, body)
    return jsonify({"fields": view.fields, "missing": view.missing, "masked": view.masked})


@bp.get("/dossiers/<int:dossier_id>/history")
def card_history(dossier_id: int) -> Response:
    with unit_of_work() as session:
        items = [history_json(h) for h in cards.history(session, actor(), dossier_id)]
    return jsonify({"items": items})


@bp.post("/lookup")
def lookup_value() -> Response:
    body = json_body()
    v = get_vault()
    with unit_of_work() as session:
        found = lookup.lookup(v, session, actor(), body)
        items = [{"id": d.id, "archive_no": d.archive_no, "customer_name": d.customer_name,
                  "owner": d.owner.username, "status": d.status.value} for d in found]
    return jsonify({"items": items})


def _within_days() -> int:
    raw = request.args.get("within_days", "0")
    try:
        return int(raw)
    except ValueError:
        raise Invalid("within_days", "{field} must be a whole number of days") from None


@bp.get("/reviews/due")
def reviews_due() -> Response:
    v = get_vault()
    days = _within_days()
    with unit_of_work() as session:
        due = reviews.due_reviews(v, session, actor(), within_days=days)
        items = [{"dossier_id": r.dossier.id, "archive_no": r.dossier.archive_no,
                  "customer_name": r.dossier.customer_name, "grade": r.dossier.grade.value,
                  "owner": r.dossier.owner.username, "backup_owner": r.backup_owner, "due_on": iso(r.due_on),
                  "overdue_days": r.overdue_days} for r in due]
    return jsonify({"items": items})


@bp.post("/dossiers/<int:dossier_id>/reviews")
def add_review(dossier_id: int) -> tuple[Response, int]:
    body = json_body()
    v = get_vault()
    with unit_of_work() as session:
        me = actor()
        review = reviews.record_review(v, session, me, dossier_id, body)
        out = review_json(review, me)
    return jsonify(out), 201


@bp.post("/dossiers/<int:dossier_id>/owner-changes")
def ask_owner_change(dossier_id: int) -> tuple[Response, int]:
    body = json_body()
    v = get_vault()
    with unit_of_work() as session:
        change = owner_changes.request_change(v, session, actor(), dossier_id, body)
        out = owner_change_json(change, _names(session, change.to_owner_id, change.requested_by_id))
    return jsonify(out), 201


@bp.get("/owner-changes")
def list_owner_changes() -> Response:
    with unit_of_work() as session:
        rows = owner_changes.pending(session, actor())
        items = [owner_change_json(c, _names(session, c.to_owner_id, c.requested_by_id)) for c in rows]
    return jsonify({"items": items})


@bp.post("/owner-changes/<int:change_id>/<any(approve, reject):decision>")
def decide_owner_change(change_id: int, decision: str) -> Response:
    v = get_vault()
    with unit_of_work() as session:
        change = owner_changes.decide(v, session, actor(), change_id, approve=decision == "approve")
        out = owner_change_json(change, _names(session, change.to_owner_id, change.requested_by_id,
                                               change.decided_by_id))
    return jsonify(out)


_DOSSIER = [_path("dossier_id")]
_CARD = {"type": "object", "properties": {
    "fields": {"type": "object", "description": "card fields; sensitive ones masked unless `masked` is false"},
    "missing": {"type": "array", "items": S}, "masked": {"type": "boolean"}}}
register("get", "/api/v1/dossiers/{dossier_id}/card", {
    "summary": "The customer card (资料卡): sensitive fields masked unless you may read the dossier's content",
    "parameters": _DOSSIER, "responses": {"200": _json(_CARD), **_err(401, 404)}})
register("patch", "/api/v1/dossiers/{dossier_id}/card", {
    "summary": "Change card fields with a reason (owner, backup owner, archivist); kept in the history",
    "parameters": _DOSSIER,
    "requestBody": _body({"fields": {"type": "object"}, "reason": {"type": "string", "maxLength": 500}},
                         ["fields", "reason"]),
    "responses": {"200": _json(_CARD), **_err(400, 401, 403, 404, 409, 413, 422)}})
register("get", "/api/v1/dossiers/{dossier_id}/history", {
    "summary": "Card, stage, grade, owner and review changes: at, actor, field, old, new, reason",
    "parameters": _DOSSIER, "responses": {"200": _json(), **_err(401, 404)}})
register("post", "/api/v1/lookup", {
    "summary": "The visible dossiers holding exactly this ID number, phone or bank account (keyed digest)",
    "requestBody": _body({"id_number": S, "phone": S, "bank_account": S}),
    "responses": {"200": _json(), **_err(400, 401, 403, 413, 422)}})
register("get", "/api/v1/reviews/due", {
    "summary": "Dossiers whose periodic review is due or overdue (owners their own; archivists, managers all)",
    "parameters": [_q("within_days", {"type": "integer", "minimum": 0, "maximum": 366},
                      "also those due within this many days")],
    "responses": {"200": _json(), **_err(401, 403, 422)}})
register("post", "/api/v1/dossiers/{dossier_id}/reviews", {
    "summary": "Record a periodic review (owner, backup owner, archivist); 201",
    "parameters": _DOSSIER,
    "requestBody": _body({"result": ENUM("confirmed", "corrected"), "grade": ENUM("A", "B", "C", "D"),
                          "stage": ENUM("prospect", "target", "potential", "inactive", "customer", "lost"),
                          "reason": S, "next_review_on": {"type": "string", "format": "date"}},
                         ["result", "reason"]),
    "responses": {"201": _json(), **_err(400, 401, 403, 404, 409, 413, 422)}})
register("post", "/api/v1/dossiers/{dossier_id}/owner-changes", {
    "summary": "Ask for a new owner with a reason; applied when a manager approves",
    "parameters": _DOSSIER, "requestBody": _body({"owner": S, "reason": S}, ["owner", "reason"]),
    "responses": {"201": _json(), **_err(400, 401, 403, 404, 409, 413, 422)}})
register("get", "/api/v1/owner-changes", {
    "summary": "Changes of owner waiting for a manager", "responses": {"200": _json(), **_err(401, 403)}})
register("post", "/api/v1/owner-changes/{change_id}/{decision}", {
    "summary": "Approve or reject a change of owner (a manager; not the asker, nor the new owner)",
    "parameters": [_path("change_id"), {"name": "decision", "in": "path", "required": True,
                                        "schema": {"type": "string", "enum": ["approve", "reject"]}}],
    "responses": {"200": _json(), **_err(401, 403, 404, 409)}})
