"""Users and roles, for administrators."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select

from vault import policy
from vault.errors import Conflict, Invalid
from vault.models import Role, User
from vault.services import users
from web.deps import actor, get_vault, unit_of_work
from web.pages.common import field_message

bp = Blueprint("admin", __name__)
FIELDS = ("username", "display_name", "role", "clearance", "password")


def _user_rows() -> list[dict[str, object]]:
    me = actor()
    policy.require(me, "user.manage")
    with unit_of_work() as s:
        return [{"username": u.username, "display_name": u.display_name, "role": u.role.value,
                 "clearance": u.clearance.value, "active": u.active, "created_at": u.created_at,
                 "is_me": u.id == me.id}
                for u in s.scalars(select(User).where(User.role != Role.SYSTEM).order_by(User.username)).all()]


@bp.route("/admin/users", methods=["GET", "POST"])
def users_page() -> ResponseReturnValue:
    me = actor()
    policy.require(me, "user.manage")
    form = {"role": "employee", "clearance": "internal"}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = {k: request.form.get(k, "").strip() for k in FIELDS}
        try:
            with unit_of_work() as s:
                users.create_user(get_vault(), s, me, form["username"], form["role"], request.form.get("password", ""),
                                  clearance=form["clearance"], display_name=form["display_name"])
        except Invalid as exc:
            errors[exc.field] = field_message(exc)
        except Conflict:
            errors["username"] = _("This username is taken.")
        else:
            flash(_("User %(name)s added.", name=form["username"]), "success")
            return redirect(url_for("admin.users_page"))
        form.pop("password", None)
    return render_template("pages/admin_users.html", rows=_user_rows(), form=form, errors=errors), \
        422 if errors else 200


@bp.post("/admin/users/<username>/<any(activate, deactivate):action>")
def set_active(username: str, action: str) -> ResponseReturnValue:
    with unit_of_work() as s:
        users.set_active(get_vault(), s, actor(), username, action == "activate")
    flash(_("User %(name)s activated.", name=username) if action == "activate"
          else _("User %(name)s deactivated; their sessions have ended.", name=username), "success")
    return redirect(url_for("admin.users_page"))
