"""Sign-in (flask-login sessions and bearer tokens), CSRF, security headers, client address for audit."""

from __future__ import annotations

import io

from flask import Flask, Request, Response, current_app, flash, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import RequestEntityTooLarge

from config import Settings
from vault import audit
from vault.errors import TooLarge
from vault.models import User
from vault.services import sessions, users
from web.deps import get_vault, runtime_of

csrf = CSRFProtect()
login_manager = LoginManager()


def get_vault_settings(app: Flask) -> Settings:
    """The settings the app was built with (no request needed)."""
    return runtime_of(app).settings


def _bearer_token(req: Request) -> str | None:
    header = req.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


@login_manager.user_loader
def _load_session_user(session_id: str) -> User | None:
    """The user _check_web_session found for this request's cookie (it checks the server-side row)."""
    user = g.get("session_user")
    return user if user is not None and user.get_id() == session_id else None


# the pages that follow a running import check the session without writing: on SQLite the import holds the
# write lock for its whole transaction, and they must answer meanwhile (its last-seen mark waits for another page)
READ_ONLY_SESSION_ENDPOINTS = frozenset({"customer_io.import_job_page", "customer_io.import_job_progress"})


def _check_web_session() -> ResponseReturnValue | None:
    """Hold a cookie session against its row on the server: ended, idle or expired sessions sign out.

    On the pages, an idle or expired session says so and offers to sign in again.
    """
    if "_user_id" not in session or request.path.startswith("/static/"):
        return None
    v = get_vault()
    read_only = request.endpoint in READ_ONLY_SESSION_ENDPOINTS
    with v.read_session() if read_only else v.session() as s:
        check = sessions.check_web_session(v, s, session.get("sid"), str(session["_user_id"]), write=not read_only)
        if check.user is not None:
            s.expunge(check.user)
    if check.user is not None:
        g.session_user = check.user
        return None
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    if request.path.startswith("/api/") or "auth.login" not in current_app.view_functions:
        return None  # the request goes on unauthenticated: 401 where sign-in is needed
    if check.reason == "idle":
        flash(gettext("You were signed out after a period of inactivity."), "info")
    elif check.reason == "expired":
        flash(gettext("Your session reached its time limit. Please sign in again."), "info")
    else:
        flash(gettext("Your session has ended. Please sign in again."), "info")
    return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))


@login_manager.request_loader
def _load_token_user(req: Request) -> User | None:
    token = _bearer_token(req)
    if token is None:
        return None
    v = get_vault()
    with v.session_factory() as s:
        user = users.user_for_token(v, s, token)
        if user is not None:
            s.expunge(user)
            g.auth_via_token = True
        return user


# routes whose body is a streamed multipart upload: bounded by max_upload_bytes in the upload service
UPLOAD_ENDPOINTS = frozenset({"api.upload_document", "api.add_version", "api.upload_stack"})
UPLOAD_OVERHEAD = 64 * 1024  # multipart boundaries and the small fields beside the file


def _body_too_large() -> TooLarge:
    """The 413 for a body over max_body_bytes, saying the limit, in the reader's language on the pages."""
    limit = get_vault().settings.max_body_bytes
    size = f"{limit // 1024} KiB" if limit < 1024 * 1024 else f"{limit // (1024 * 1024)} MiB"
    if request.path.startswith("/api/"):
        return TooLarge("the request body is larger than {size}; send only the fields this endpoint takes "
                        "(files go to the upload endpoints)", params={"size": size}, code="body_too_large",
                        limit=limit)
    return TooLarge("The form sent is larger than {size}. Shorten what you typed and send it again.",
                    params={"size": size}, code="body_too_large", limit=limit)


def _bound_request_body() -> None:
    """Refuse a non-upload body over max_body_bytes before anything reads it (413).

    A declared length is refused at once; a body without one (chunked) is cut off by the request
    stream at the limit. Uploads keep streaming, up to max_upload_bytes.
    """
    settings = get_vault().settings
    if request.endpoint in UPLOAD_ENDPOINTS:
        request.max_content_length = settings.max_upload_bytes + UPLOAD_OVERHEAD
        return
    limit = settings.max_body_bytes
    request.max_content_length = limit
    length = request.content_length
    if length is not None and length > limit:
        raise _body_too_large()
    if length is None and "wsgi.input_terminated" in request.environ:
        # a chunked body: read at most one byte over the limit, so that a truncated body is never parsed
        data = request.environ["wsgi.input"].read(limit + 1)
        if len(data) > limit:
            raise _body_too_large()
        request.environ["wsgi.input"] = io.BytesIO(data)
        request.environ["CONTENT_LENGTH"] = str(len(data))


def init_security(app: Flask) -> None:
    # registered before CSRF protection, which reads the form: nothing reads an oversized body
    app.config["MAX_CONTENT_LENGTH"] = get_vault_settings(app).max_body_bytes
    app.before_request(_bound_request_body)

    @app.errorhandler(RequestEntityTooLarge)
    def _stream_too_large(exc: RequestEntityTooLarge) -> Response:
        from web.errors import error_response

        err = _body_too_large()
        return error_response(err.status, err.code, err.message, template=err.template, params=err.params,
                              limit=err.details.get("limit"))

    app.before_request(_check_web_session)
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    csrf.init_app(app)

    @app.before_request
    def _client_addr() -> None:
        audit.client_addr_var.set(request.remote_addr)

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
            "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        )
        if request.path.startswith("/api/"):
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp
