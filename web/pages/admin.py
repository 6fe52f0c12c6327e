"""Users and roles for administrators; account requests for the second person who approves them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from vault import policy
from vault.errors import Conflict, Forbidden, Invalid
from vault.models import User
from vault.services import checkouts, grants, tokens, users
from web.deps import actor, get_vault, unit_of_work
from web.pages.common import field_message

bp = Blueprint("admin", __name__)
FIELDS = ("username", "display_name", "role", "clearance", "password")


def _user_rows() -> list[dict[str, object]]:
    me = actor()
    with unit_of_work() as s:
        return [{"username": u.username, "display_name": u.display_name, "role": u.role.value,
                 "clearance": u.clearance.value, "active": u.active, "created_at": u.created_at,
                 "is_me": u.id == me.id}
                for u in users.list_users(s, me)]


def _request_rows(me: User) -> list[dict[str, object]]:
    with unit_of_work() as s:
        return [{"id": r.id, "user": r.user.username, "role": None if r.role is None else r.role.value,
                 "clearance": None if r.clearance is None else r.clearance.value,
                 "requested_by": r.requested_by.username, "requested_at": r.requested_at,
                 "may_approve": me.id not in (r.requested_by_id, r.user_id), "may_reject": me.id != r.user_id}
                for r in grants.list_requests(s, me)]


def _token_rows(me: User) -> list[tokens.TokenView]:
    with unit_of_work() as s:
        return tokens.list_tokens(get_vault(), s, me, everyone=True)


def _pending_flash(name: str) -> None:
    flash(_("User %(name)s added. The role or clearance you chose waits for approval by a manager or "
            "another administrator; until then the account has the employee role and internal clearance.",
            name=name), "info")


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
                _user, pending = grants.create_user(get_vault(), s, me, form["username"], form["role"],
                                                    request.form.get("password", ""), clearance=form["clearance"],
                                                    display_name=form["display_name"])
        except Invalid as exc:
            errors[exc.field] = field_message(exc)
        except Conflict:
            errors["username"] = _("This username is taken.")
        else:
            if pending is None:
                flash(_("User %(name)s added.", name=form["username"]), "success")
            else:
                _pending_flash(form["username"])
            return redirect(url_for("admin.users_page"))
        form.pop("password", None)
    return render_template("pages/admin_users.html", rows=_user_rows(), form=form, errors=errors,
                           requests=_request_rows(me), tokens=_token_rows(me)), 422 if errors else 200


@bp.post("/admin/users/<username>/<any(activate, deactivate):action>")
def set_active(username: str, action: str) -> ResponseReturnValue:
    """Activate, or deactivate handing the person's customers, open checkouts and follow-ups over to a colleague
    (as `dossier user deactivate --handover-to`); one who has such work is not deactivated without a successor."""
    successor = request.form.get("handover_to", "").strip()
    moved: dict[str, Any] | None = None
    try:
        with unit_of_work() as s:
            if action == "deactivate" and successor:
                moved = checkouts.deactivate_with_handover(get_vault(), s, actor(), username, successor)
            elif action == "deactivate" and checkouts.has_work_to_hand_over(s, users.get_user(s, username)):
                flash(_("%(name)s owns dossiers, has open checkouts or follow-ups: choose who takes them over.",
                        name=username), "error")
                return redirect(url_for("admin.users_page"))
            else:
                users.set_active(get_vault(), s, actor(), username, action == "activate")
    except Conflict as exc:
        if exc.code == "last_admin":
            flash(_("%(name)s is the last active administrator and stays active. Add another administrator "
                    "first.", name=username), "error")
        else:
            flash(field_message(exc), "error")
        return redirect(url_for("admin.users_page"))
    except Invalid as exc:
        flash(field_message(exc), "error")
        return redirect(url_for("admin.users_page"))
    if moved is not None:
        flash(_("User %(name)s deactivated; %(dossiers)s dossier(s), %(checkouts)s checkout(s) closed and "
                "%(follow_ups)s follow-up(s) handed over to %(successor)s.", name=username,
                dossiers=len(moved["dossiers_moved"]),
                checkouts=len(moved["checkouts_closed"]),
                follow_ups=len(moved["follow_ups_moved"]), successor=successor), "success")
        return redirect(url_for("admin.users_page"))
    flash(_("User %(name)s activated.", name=username) if action == "activate"
          else _("User %(name)s deactivated; their sessions have ended.", name=username), "success")
    return redirect(url_for("admin.users_page"))


@bp.post("/admin/users/<username>/change")
def change_user(username: str) -> ResponseReturnValue:
    try:
        with unit_of_work() as s:
            _user, pending = grants.change_user(get_vault(), s, actor(), username, role=request.form.get("role"),
                                                clearance=request.form.get("clearance"))
    except Conflict as exc:
        if exc.code == "last_admin":
            flash(_("%(name)s is the last active administrator and keeps the role. Add another administrator "
                    "first.", name=username), "error")
        else:
            flash(_("A request for %(name)s is already waiting for approval.", name=username), "error")
    except Invalid as exc:
        flash(field_message(exc), "error")
    else:
        flash(_("The change for %(name)s waits for approval by a manager or another administrator.",
                name=username) if pending is not None else _("User %(name)s changed.", name=username),
              "info" if pending is not None else "success")
    return redirect(url_for("admin.users_page"))


@bp.post("/admin/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int) -> ResponseReturnValue:
    with unit_of_work() as s:
        tokens.revoke_token(get_vault(), s, actor(), token_id)
    flash(_("The API token was revoked."), "success")
    return redirect(url_for("admin.users_page"))


@bp.get("/admin/approvals")
def approvals_page() -> ResponseReturnValue:
    return render_template("pages/admin_approvals.html", requests=_request_rows(actor()), one_time=None)


@bp.post("/admin/approvals/<int:request_id>/<any(approve, reject):decision>")
def decide(request_id: int, decision: str) -> ResponseReturnValue:
    me = actor()
    try:
        with unit_of_work() as s:
            done = (grants.approve if decision == "approve" else grants.reject)(get_vault(), s, me, request_id)
            username = done.request.user.username
    except (Forbidden, Conflict) as exc:
        flash(_("You approve only requests that someone else made, for someone else, within your own "
                "clearance.") if isinstance(exc, Forbidden) else _("This request was decided already."), "error")
        return redirect(url_for("admin.approvals_page"))
    if done.one_time_password is None:
        flash(_("Request approved for %(name)s.", name=username) if decision == "approve"
              else _("Request rejected for %(name)s.", name=username), "success")
        return redirect(url_for("admin.approvals_page"))
    # the new password is shown once, here, to the approver; never in a redirect, the cookie or a log
    one_time = {"user": username, "password": done.one_time_password}
    resp = make_response(render_template("pages/admin_approvals.html", requests=_request_rows(me),
                                         one_time=one_time))
    resp.headers["Cache-Control"] = "no-store"
    return resp
