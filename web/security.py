"""Sign-in (flask-login sessions and bearer tokens), CSRF, security headers, client address for audit."""

from __future__ import annotations

from flask import Flask, Request, Response, g, request
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from vault import audit
from vault.models import User
from vault.services import users
from web.deps import get_vault

csrf = CSRFProtect()
login_manager = LoginManager()


def _bearer_token(req: Request) -> str | None:
    header = req.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


@login_manager.user_loader
def _load_session_user(session_id: str) -> User | None:
    v = get_vault()
    with v.sessions() as s:
        user = users.user_for_session(s, session_id)
        if user is not None:
            s.expunge(user)
        return user


@login_manager.request_loader
def _load_token_user(req: Request) -> User | None:
    token = _bearer_token(req)
    if token is None:
        return None
    v = get_vault()
    with v.sessions() as s:
        user = users.user_for_token(v, s, token)
        if user is not None:
            s.expunge(user)
            g.auth_via_token = True
        return user


def init_security(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    login_manager.login_view = "pages.login"  # type: ignore[assignment]
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
