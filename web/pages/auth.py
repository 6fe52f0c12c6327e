"""Sign-in, sign-out, change password, idle timeout."""

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
from vault.services import users
from web.deps import get_vault, unit_of_work
from web.pages.common import field_message

bp = Blueprint("auth", __name__)
limiter = Limiter(key_func=get_remote_address, storage_uri="memory://", default_limits=[])
LOGIN_RATE = "30 per minute"  # per client address, on top of the per-username lock-out in the service


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
            try:
                with unit_of_work() as s:  # commits the attempt, failed or not
                    user = users.check_credentials(v, s, username[:64], password, request.remote_addr)
                    if user is not None:
                        s.flush()
                        s.expunge(user)
            except TooManyAttempts:
                # the same answer whether the username exists or not
                error, status = _("Too many failed sign-ins. Wait 15 minutes and try again."), 429
            else:
                if user is None:
                    error, status = _("Wrong username or password."), 401
                else:
                    lang = session.get("lang")
                    session.clear()  # nothing from before sign-in carries over
                    if lang:
                        session["lang"] = lang
                    login_user(user)
                    session["seen"] = v.clock.now().timestamp()
                    return redirect(_safe_next(request.form.get("next") or request.args.get("next")))
    return render_template("pages/login.html", error=error, username=username,
                           next=request.args.get("next", "")), status


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    lang = session.get("lang")
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
                    s.flush()
                    s.expunge(me)
            except Invalid as exc:
                errors["new_password" if exc.field == "password" else exc.field] = field_message(exc)
            else:
                login_user(me)  # this session continues with the new epoch; every other one has ended
                flash(_("Password changed. Other sessions were signed out."), "success")
                return redirect(url_for("home.index"))
    return render_template("pages/password.html", errors=errors), 422 if errors else 200


def init_auth(app: Flask) -> None:
    """Login view, throttling, and the idle timeout for cookie sessions."""
    from web.security import login_manager

    login_manager.login_view = "auth.login"  # type: ignore[assignment]
    login_manager.login_message = ""  # type: ignore[assignment]
    limiter.init_app(app)

    @app.before_request
    def _idle_timeout() -> ResponseReturnValue | None:
        if request.path.startswith(("/api/", "/static/")) or "_user_id" not in session:
            return None
        v = get_vault()
        now = v.clock.now().timestamp()
        seen = session.get("seen")
        if seen is not None and now - float(seen) > v.settings.session_idle_minutes * 60:
            lang = session.get("lang")
            logout_user()
            session.clear()
            if lang:
                session["lang"] = lang
            flash(_("You were signed out after a period of inactivity."), "info")
            return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
        session["seen"] = now
        return None
