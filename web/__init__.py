"""The web entry points: the app factory, built on the runtime of web.bootstrap (the composition root)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from config import Settings, load_settings
from vault.core import Vault
from web import errors, security
from web.api import bp as api_bp
from web.bootstrap import Runtime, compose, open_runtime
from web.deps import RUNTIME_KEY
from web.pages import register_pages


def create_app(overrides: Mapping[str, Any] | None = None, *, vault: Vault | None = None,
               settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the web app; tests pass overrides (or a ready runtime or vault) instead of touching the environment."""
    settings = settings or (runtime.settings if runtime else vault.settings if vault else load_settings(overrides))
    logging.basicConfig(level=settings.log_level)
    app = Flask(__name__)
    secret = settings.secret_key_file.read_text().strip() if settings.secret_key_file.exists() else None
    if not secret:
        raise RuntimeError(f"no secret key at {settings.secret_key_file}: run `dossier init` first")
    app.config.update(
        SECRET_KEY=secret,
        MAX_CONTENT_LENGTH=None,  # uploads are streamed and limited by the service, not buffered
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=settings.session_cookie_secure,
        JSON_SORT_KEYS=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    if settings.trusted_proxy_hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # the client's address as the trusted proxies saw it: throttling by address and the audit need it
        hops = settings.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    # the composition root (web.bootstrap): handlers reach it through web.deps
    app.extensions[RUNTIME_KEY] = runtime or (compose(vault) if vault else open_runtime(settings))

    security.init_security(app)
    errors.init_errors(app)

    app.register_blueprint(api_bp)
    register_pages(app)
    return app
