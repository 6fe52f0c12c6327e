"""One place where errors become HTTP answers: JSON under /api, a page elsewhere."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template_string, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from vault.errors import Invalid, NotFound, TooManyAttempts, VaultError
from vault.services.fields import MAX_ID

log = logging.getLogger("dossier.web")

_PAGE = """<!doctype html><html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ status }}</title>
<link rel="stylesheet" href="/static/app.css"></head><body><main class="error-page">
<h1>{{ status }}</h1><p class="error-message">{{ message }}</p><p><a href="/">{{ home }}</a></p></main></body></html>"""


def error_response(status: int, code: str, message: str, **extra: Any) -> Response:
    """The answer for an error: JSON for API clients, an HTML page for people."""
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        body: dict[str, Any] = {"code": code, "message": message}
        body.update({k: v for k, v in extra.items() if v is not None})
        resp = jsonify({"error": body})
    else:
        try:
            from web.pages.errors import render_error_page
        except ImportError:
            lang = "en" if request.args.get("lang") == "en" else "zh"
            html = render_template_string(_PAGE, status=status, message=message, lang=lang,
                                          home="Home" if lang == "en" else "返回首页")
        else:
            html = render_error_page(status, code, message)
        resp = Response(html, mimetype="text/html")
    resp.status_code = status
    return resp


def init_errors(app: Flask) -> None:
    @app.url_value_preprocessor
    def _ids_in_range(endpoint: str | None, values: dict[str, Any] | None) -> None:
        """An id too large for the database is simply not found (the database would refuse it: a 500)."""
        for name, value in (values or {}).items():
            if isinstance(value, int) and value > MAX_ID:
                raise NotFound(f"{name.removesuffix('_id')} {value} not found")

    @app.errorhandler(VaultError)
    def _vault_error(exc: VaultError) -> Response:
        extra = dict(exc.details)
        if isinstance(exc, Invalid):
            extra["field"] = exc.field
        resp = error_response(exc.status, exc.code, exc.message, **extra)
        if isinstance(exc, TooManyAttempts) and "retry_after" in exc.details:
            resp.headers["Retry-After"] = str(exc.details["retry_after"])
        if exc.status >= 500:
            log.warning("%s: %s", exc.code, exc.message)
        return resp

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Response:
        return error_response(400, "csrf_failed", "the form expired or was not sent from this site; reload the "
                              "page and try again")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)
    def _db_down(exc: Exception) -> Response:
        log.warning("database unavailable: %s", type(exc).__name__)
        resp = error_response(503, "database_unavailable",
                              "the database is busy or unreachable; try again in a moment")
        resp.headers["Retry-After"] = "5"
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "something went wrong on our side; it was logged. "
                              "Try again, and tell the administrator if it keeps happening")
