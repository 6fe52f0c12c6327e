"""Sign-in, sign-out, change password."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Flask, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user

from vault.errors import Invalid, TooManyAttempts
from vault.models import User
from vault.services import sessions, tokens, users
from web.deps import actor, get_vault, unit_of_work
from web.pages.common import field_message

bp = Blueprint("auth", __name__)
limiter = Limiter(key_func=get_remote_address, storage_uri="memory://", default_limits=[])
LOGIN_RATE = "30 per minute"  # requests per client address, on top of the failure counts in the service


def _safe_next(target: str | None) -> str:
    """Only local paths: never redirect to another site after sign-in."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(LOGIN_RATE, methods=["POST"])
def login() -> ResponseReturnValue:
    if request.method == "GET" and current_user.is_authenticated:
        return redirect(url_for("home.index"))
    error = None
    status = 200
    username = request.form.get("username", "").strip()
    if request.method == "POST":
        password = request.form.get("password", "")
        if not username or not password:
            error, status = _("Enter your username and password."), 422
        else:
            v = get_vault()
            user: User | None = None
            sid = ""
            try:
                with unit_of_work() as s:  # commits the attempt, failed or not
                    user = users.check_credentials(v, s, username[:64], password, request.remote_addr)
                    if user is not None:
                        sid = sessions.start_web_session(v, s, user, request.remote_addr)
                        s.flush()
                        s.expunge(user)
            except TooManyAttempts as exc:
                # the same answer whether the username exists or not
                error, status = _("Too many failed sign-ins. Wait %(seconds)s seconds and try again.",
                                  seconds=exc.details.get("retry_after", 60)), 429
            else:
                if user is None:
                    error, status = _("Wrong username or password."), 401
                else:
                    lang = session.get("lang")
                    session.clear()  # nothing from before sign-in carries over
                    if lang:
                        session["lang"] = lang
                    login_user(user)
                    session["sid"] = sid  # the server-side session: sign-out ends it for every copy
                    return redirect(_safe_next(request.form.get("next") or request.args.get("next")))
    return render_template("pages/login.html", error=error, username=username,
                           next=request.args.get("next", "")), status


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """End this session on the server (a copied cookie stops working too), then forget the cookie."""
    lang = session.get("lang")
    with unit_of_work() as s:
        sessions.end_web_session(get_vault(), s, session.get("sid"))
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> ResponseReturnValue:
    errors: dict[str, str] = {}
    if request.method == "POST":
        old, new, again = (request.form.get(k, "") for k in ("old_password", "new_password", "confirm"))
        if new != again:
            errors["confirm"] = _("The two new passwords differ.")
        else:
            v = get_vault()
            try:
                with unit_of_work() as s:
                    me = s.get(User, current_user.id)
                    assert me is not None
                    users.change_password(v, s, me, old, new)
                    sessions.end_all_web_sessions(v, s, me, keep=session.get("sid"))
                    s.flush()
                    s.expunge(me)
            except Invalid as exc:
                errors["new_password" if exc.field == "password" else exc.field] = field_message(exc)
            else:
                login_user(me)  # this session continues with the new epoch; every other one has ended
                flash(_("Password changed. Other sessions were signed out."), "success")
                return redirect(url_for("home.index"))
    with unit_of_work() as s:
        my_tokens = tokens.list_tokens(get_vault(), s, actor())
    return render_template("pages/password.html", errors=errors, tokens=my_tokens), 422 if errors else 200


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> ResponseReturnValue:
    """Revoke one of one's own API tokens (someone else's is not found)."""
    with unit_of_work() as s:
        tokens.revoke_token(get_vault(), s, actor(), token_id)
    flash(_("The API token was revoked."), "success")
    return redirect(url_for("auth.change_password"))


def init_auth(app: Flask) -> None:
    """Login view and throttling (web.security holds cookie sessions against their server-side row)."""
    from web.security import login_manager

    login_manager.login_view = "auth.login"
    login_manager.login_message = ""
    limiter.init_app(app)
