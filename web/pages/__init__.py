"""The web pages: server-rendered, in Chinese (default) and English, one blueprint per area."""

from __future__ import annotations

from typing import Any

from flask import Flask, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from vault import policy
from vault.models import Role
from web.pages import (
    admin,
    audit,
    auth,
    calendar,
    cards,
    checkouts,
    common,
    customer_file,
    customer_io,
    destructions,
    documents,
    dossiers,
    holds,
    home,
    intake,
    registers,
    search,
    stocktakes,
    transfers,
)
from web.pages.i18n import current_lang, init_i18n, remember_lang_choice


def _require_login(app: Flask, blueprints: set[str]) -> None:
    @app.before_request
    def _signed_in() -> ResponseReturnValue | None:
        if request.blueprint in blueprints and not current_user.is_authenticated:
            from web.security import login_manager

            return login_manager.unauthorized()
        return None


def _nav(user: Any) -> list[tuple[str, str, Any]]:
    """Menu entries the user's role may use (the services still decide every request)."""
    items: list[tuple[str, str, Any]] = [("home.index", "/", _l("Home"))]
    if user.role is not Role.ADMIN:
        items.append(("dossiers.list_page", "/dossiers", _l("Dossiers")))
    if policy.allowed(user, "search") and user.role is not Role.ADMIN:
        items.append(("search.search_page", "/search", _l("Search")))
    if user.role is not Role.ADMIN:
        items.append(("checkouts.list_page", "/checkouts", _l("Checkouts")))
        items.append(("customer_file.my_follow_ups", "/follow-ups", _l("My follow-ups")))
        items.append(("cards.review_queue", "/reviews", _l("Reviews")))
        items.append(("transfers.list_page", "/transfers", _l("Transfers")))
    if policy.allowed(user, "hold.list"):
        items.append(("holds.list_page", "/holds", _l("Legal holds")))
    if policy.allowed(user, "document.upload") and user.role is not Role.SYSTEM:
        items.append(intake.nav_entry())
    if policy.allowed(user, "stocktake.view"):
        items.append(stocktakes.nav_entry())
    if policy.allowed(user, "destruction.view"):
        items.append(("destructions.list_page", "/destructions", _l("Retention & destruction")))
    if policy.allowed(user, "ledger.view"):
        items.append(("registers.ledgers_page", "/ledgers", _l("Ledgers")))
    if policy.allowed(user, "report.periodic"):
        items.append(("registers.reports_page", "/reports", _l("Periodic reports")))
    if policy.allowed(user, "audit.list"):
        items.append(("audit.list_page", "/audit", _l("Audit log")))
    if policy.allowed(user, "user.manage"):
        items.append(("admin.users_page", "/admin/users", _l("Users")))
    if policy.allowed(user, "calendar.edit") and user.role is not Role.SYSTEM:
        items.append(calendar.nav_entry())
    if user.role in (Role.ADMIN, Role.MANAGER):  # the second person who approves account requests
        items.append(("admin.approvals_page", "/admin/approvals", _l("Account requests")))
    return items


def register_pages(app: Flask) -> None:
    """Babel, sign-in, and every page blueprint."""
    init_i18n(app)
    auth.init_auth(app)
    app.before_request(remember_lang_choice)
    app.register_blueprint(auth.bp)
    blueprints = [home.bp, dossiers.bp, documents.bp, audit.bp, admin.bp, search.bp, checkouts.bp, holds.bp,
                  destructions.bp, cards.bp, customer_file.bp, customer_io.bp, registers.bp, transfers.bp, intake.bp,
                  stocktakes.bp, calendar.bp]
    for bp in blueprints:
        app.register_blueprint(bp)
    _require_login(app, {bp.name for bp in blueprints})

    @app.context_processor
    def _page_context() -> dict[str, Any]:
        if request.path.startswith("/api/"):
            return {}
        args = request.args.to_dict()
        args.pop("lang", None)

        def lang_url(lang: str) -> str:
            if not (request.endpoint and request.method == "GET"):
                return f"/?lang={lang}"
            values: dict[str, Any] = {**(request.view_args or {}), **args, "lang": lang}
            return url_for(request.endpoint, **values)

        user = current_user if current_user and current_user.is_authenticated else None
        return {
            "lang": current_lang(), "lang_url": lang_url, "user": user,
            "nav": _nav(user) if user else [],
            "L": {"doc_type": common.DOC_TYPES, "index_status": common.INDEX_STATUS, "secrecy": common.SECRECY,
                  "customer_type": common.CUSTOMER_TYPES, "dossier_status": common.DOSSIER_STATUS,
                  "role": common.ROLES, "checkout_status": common.CHECKOUT_STATUS,
                  "checkout_kind": common.CHECKOUT_KINDS},
            "label": common.label, "grades": common.GRADES,
        }
