"""The JSON API v1 (../shared/API.md): handlers parse input, call one service, serialise the result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy.orm import Session

from vault.errors import VaultError
from vault.paging import Page, paging
from web.security import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

_PUBLIC = {"api.health", "api.issue_token", "api.openapi"}


class BadJson(VaultError):
    status = 400
    code = "malformed_json"


@bp.before_request
def _require_auth_and_csrf() -> None:
    from web.deps import actor

    if request.endpoint in _PUBLIC:
        return
    actor()  # 401 unless signed in
    # cookie-authenticated writes (the pages' own scripts) must carry the CSRF token header
    if request.method not in ("GET", "HEAD", "OPTIONS") and not g.get("auth_via_token"):
        _check_csrf_header()


def _check_csrf_header() -> None:
    """The token from the X-CSRFToken header only: csrf.protect() would read request.form first, which
    parses (and uses up) a streamed multipart upload before the handler can read it."""
    from flask_wtf.csrf import CSRFError, validate_csrf
    from wtforms import ValidationError

    try:
        validate_csrf(request.headers.get("X-CSRFToken") or request.headers.get("X-CSRF-Token"))
    except ValidationError as exc:
        raise CSRFError(str(exc.args[0]) if exc.args else "CSRF token missing") from None


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 that says what to send."""
    if not request.is_json:
        raise BadJson("send a JSON object with Content-Type: application/json", code="expected_json")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadJson("the body is not a JSON object")
    return data


def optional_body() -> dict[str, Any]:
    """A JSON object when one was sent; nothing sent is an empty object."""
    if not request.get_data(cache=True) and not request.is_json:
        return {}
    return json_body()


def query_paging() -> tuple[int, int]:
    """The page and per_page the query string asks for, checked like every list's (`vault.paging`)."""
    return paging(request.args.get("page"), request.args.get("per_page"))


def list_response(fetch: Callable[[Session, int, int], Page], present: Callable[[Any], dict[str, Any]]) -> Response:
    """A list endpoint's answer: the page the query string asks for, read by `fetch(session, page, per_page)` and
    shown with `present`, in one unit of work (the presenters may read relations lazily)."""
    from web.deps import unit_of_work
    from web.serialize import page_json

    page, per_page = query_paging()
    with unit_of_work() as session:
        result = fetch(session, page, per_page)
        items = [present(x) for x in result.items]
    return jsonify(page_json(items, result.total, page, per_page))


# the route modules attach their handlers to `bp`; they import it from here, so they come last
from web.api import (  # noqa: E402,F401
    admin,
    audit_routes,
    calendar,
    cards,
    checkouts,
    core,
    customer_file,
    customer_io,
    destructions,
    documents,
    dossiers,
    holds,
    intake,
    notifications,
    paper,
    registers,
    retention,
    search,
    stocktakes,
)
