"""Health, token sign-in, who am I, the OpenAPI document."""

from __future__ import annotations

from flask import Response, jsonify, request
from sqlalchemy import text

from vault.errors import Invalid, NotAuthenticated
from vault.services import users
from web.api import bp, json_body
from web.deps import actor, get_index, get_vault, unit_of_work
from web.serialize import iso, user_json


@bp.get("/health")
def health() -> tuple[Response, int]:
    v = get_vault()
    parts: dict[str, str] = {}
    try:
        with v.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        parts["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - health reports, never raises
        parts["database"] = f"down: {type(exc).__name__}"
    try:
        v.blobs.check()
        parts["storage"] = "ok"
    except Exception as exc:  # noqa: BLE001
        parts["storage"] = f"down: {getattr(exc, 'message', type(exc).__name__)}"
    try:
        get_index().check()
        parts["index"] = "ok"
    except Exception as exc:  # noqa: BLE001
        parts["index"] = f"down: {type(exc).__name__}"
    ok = all(p == "ok" for p in parts.values())
    return jsonify({"status": "ok" if ok else "degraded", **parts}), 200 if ok else 503


@bp.post("/auth/token")
def issue_token() -> tuple[Response, int]:
    body = json_body()
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not username:
        raise Invalid("username", "username is required")
    if not isinstance(password, str) or not password:
        raise Invalid("password", "password is required")
    v = get_vault()
    # the failed attempt must be recorded even though the request fails: commit it on its own
    with unit_of_work() as session:
        user = users.check_credentials(v, session, username, password, request.remote_addr)
        if user is not None:
            token, expires = users.issue_token(v, session, user)
    if user is None:  # the failed attempt is committed above, so it counts toward the lock-out
        raise NotAuthenticated(users.WRONG_CREDENTIALS, code="invalid_credentials")
    return jsonify({"token": token, "expires_at": iso(expires)}), 201


@bp.get("/me")
def me() -> Response:
    return jsonify(user_json(actor()))


@bp.get("/openapi.json")
def openapi() -> Response:
    from web.openapi import build_spec

    return jsonify(build_spec())
