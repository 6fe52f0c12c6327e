"""Accounts over the API: users (admin), grant requests (a second person decides), API tokens."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from vault.errors import Invalid
from vault.models import GrantRequest, Role, Secrecy
from vault.services import grants, tokens, users
from web.api import bp, json_body
from web.deps import actor, get_vault, unit_of_work
from web.openapi import ENUM, _body, _err, _json, _path, _q, register
from web.serialize import iso, user_json

S = {"type": "string"}
ROLE = ENUM(*(r for r in Role if r is not Role.SYSTEM))  # the system user never logs in nor is created
CLEARANCE = ENUM(*Secrecy)


def grant_json(req: GrantRequest) -> dict[str, Any]:
    return {"id": req.id, "user": req.user.username, "role": None if req.role is None else req.role.value,
            "clearance": None if req.clearance is None else req.clearance.value, "status": req.status.value,
            "requested_by": req.requested_by.username, "requested_at": iso(req.requested_at),
            "decided_at": iso(req.decided_at)}


def token_json(t: tokens.TokenView) -> dict[str, Any]:
    return {"id": t.id, "user": t.username, "created_at": iso(t.created_at), "expires_at": iso(t.expires_at),
            "revoked_at": iso(t.revoked_at), "active": t.active}


def _text(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if required and (not isinstance(value, str) or not value):
        raise Invalid(name, "{field} must be text and is required")
    if not isinstance(value, str):
        raise Invalid(name, "{field} must be text")
    return value


@bp.post("/users")
def create_user() -> tuple[Response, int]:
    body = json_body()
    with unit_of_work() as s:
        user, req = grants.create_user(
            get_vault(), s, actor(), _text(body, "username", required=True) or "",
            _text(body, "role", required=True) or "", _text(body, "password", required=True) or "",
            clearance=_text(body, "clearance") or "internal", display_name=_text(body, "display_name") or "")
        out = {"user": user_json(user), "pending_request": None if req is None else grant_json(req)}
    return jsonify(out), 201


@bp.patch("/users/<username>")
def change_user(username: str) -> Response:
    body = json_body()
    v = get_vault()
    active = body.get("active")
    if active is not None and not isinstance(active, bool):
        raise Invalid("active", "active must be true or false")
    with unit_of_work() as s:
        me = actor()
        user, req = grants.change_user(v, s, me, username, role=_text(body, "role"),
                                       clearance=_text(body, "clearance"))
        if active is not None and active != user.active:
            user = users.set_active(v, s, me, username, active)
        out = {"user": user_json(user), "pending_request": None if req is None else grant_json(req)}
    return jsonify(out)


@bp.get("/grant-requests")
def list_grant_requests() -> Response:
    pending_only = request.args.get("status", "pending") == "pending"
    with unit_of_work() as s:
        items = [grant_json(r) for r in grants.list_requests(s, actor(), pending_only=pending_only)]
    return jsonify({"items": items})


@bp.post("/grant-requests/<int:request_id>/<any(approve, reject):decision>")
def decide_grant_request(request_id: int, decision: str) -> Response:
    with unit_of_work() as s:
        decide = grants.approve if decision == "approve" else grants.reject
        done = decide(get_vault(), s, actor(), request_id)
        out: dict[str, Any] = {"request": grant_json(done.request)}
        if done.one_time_password is not None:
            # shown once, to the approver, who hands it to the person; the requester never sees it
            out["one_time_password"] = done.one_time_password
    return jsonify(out)


@bp.get("/tokens")
def list_api_tokens() -> Response:
    with unit_of_work() as s:
        items = tokens.list_tokens(get_vault(), s, actor(), username=request.args.get("user") or None,
                                   everyone=request.args.get("all") in ("1", "true"))
        return jsonify({"items": [token_json(t) for t in items]})


@bp.delete("/tokens/<int:token_id>")
def revoke_api_token(token_id: int) -> Response:
    with unit_of_work() as s:
        return jsonify(token_json(tokens.revoke_token(get_vault(), s, actor(), token_id)))


_USERNAME = {"name": "username", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}
_GRANT = {"200": _json(), **_err(400, 401, 403, 404, 409, 422)}
register("post", "/api/v1/users", {
    "summary": "Add a user (admin); a content role, the admin role or a clearance above internal waits "
               "for a second person's approval",
    "requestBody": _body({"username": S, "role": ROLE, "password": S, "clearance": CLEARANCE, "display_name": S},
                         ["username", "role", "password"]),
    "responses": {"201": _json(), **_err(400, 401, 403, 409, 413, 422)}})
register("patch", "/api/v1/users/{username}", {
    "summary": "Change role, clearance or active (admin); raising waits for approval, the last admin stays",
    "parameters": [_USERNAME], "requestBody": _body({"role": ROLE, "clearance": CLEARANCE,
                                                     "active": {"type": "boolean"}}),
    "responses": _GRANT})
register("get", "/api/v1/grant-requests", {
    "summary": "Account requests waiting for a second person (manager, admin)",
    "parameters": [_q("status", {"type": "string", "enum": ["pending", "all"]})],
    "responses": {"200": _json(), **_err(401, 403)}})
register("post", "/api/v1/grant-requests/{request_id}/{decision}", {
    "summary": "Approve or reject an account request (a manager or another admin; never the requester)",
    "parameters": [_path("request_id"), {"name": "decision", "in": "path", "required": True,
                                         "schema": {"type": "string", "enum": ["approve", "reject"]}}],
    "responses": {"200": _json(), **_err(401, 403, 404, 409)}})
register("get", "/api/v1/tokens", {
    "summary": "Your API tokens that still work; an admin may name `user` or ask for `all`",
    "parameters": [_q("user"), _q("all", {"type": "string", "enum": ["1", "true"]})],
    "responses": {"200": _json(), **_err(401, 403, 404)}})
register("delete", "/api/v1/tokens/{token_id}", {
    "summary": "Revoke an API token now (its owner or an admin)", "parameters": [_path("token_id")],
    "responses": {"200": _json(), **_err(401, 404)}})
