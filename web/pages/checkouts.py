"""Checkouts (借阅): request from the dossier page, approvals inbox, my checkouts with return, paper handover."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select

from vault import policy
from vault.errors import Conflict, Forbidden, Invalid
from vault.models import Document
from vault.services import checkouts as svc
from web.deps import actor, get_vault, unit_of_work
from web.pages.common import CHECKOUT_STATUS, checkout_rows, field_message, page_args

bp = Blueprint("checkouts", __name__)


@bp.get("/checkouts")
def list_page() -> ResponseReturnValue:
    v = get_vault()
    me = actor()
    page, per_page = page_args()
    sees_all = policy.allowed(me, "checkout.list_all")
    view = request.args.get("view", "inbox" if sees_all else "mine")
    status = request.args.get("status", "pending" if view == "inbox" else "")
    filters: dict[str, Any] = {"status": status} if status else {}
    if view == "mine" or not sees_all:
        filters["mine"] = "1"
    with unit_of_work() as s:
        result = svc.list_checkouts(v, s, me, filters, page, per_page)
        rows = checkout_rows(v, result.items)
        titles = _titles(s, [i for c in result.items for i in c.document_ids])
        for row, c in zip(rows, result.items, strict=True):
            row["scope"] = [titles.get(i, f"#{i}") for i in c.document_ids]
            may = policy.checkout_actions(me, c)
            row["approver_role"] = may.approver_role.value
            row["can_decide"], row["can_return"] = may.may_decide, may.may_return
            row["can_handover"], row["can_receive"] = may.may_hand_over, may.may_receive
    pages = max(1, -(-result.total // per_page))
    return render_template("pages/checkouts.html", rows=rows, total=result.total, page=page, pages=pages,
                           view=view, status=status, sees_all=sees_all, statuses=list(CHECKOUT_STATUS)[:7])


def _titles(s: Any, document_ids: list[int]) -> dict[int, str]:
    """Titles of the documents checkouts name (each of a dossier the reader may see: the list is filtered)."""
    if not document_ids:
        return {}
    return dict(s.execute(select(Document.id, Document.title).where(Document.id.in_(set(document_ids)))).all())


def _act(checkout_id: int, action: str) -> ResponseReturnValue:
    v = get_vault()
    me = actor()
    comment = request.form.get("comment", "")
    try:
        with unit_of_work() as s:
            if action == "approve":
                svc.approve_checkout(v, s, me, checkout_id, comment)
            elif action == "reject":
                svc.reject_checkout(v, s, me, checkout_id, comment)
            elif action == "return":
                svc.return_checkout(v, s, me, checkout_id)
            elif action == "handover":
                svc.hand_over(v, s, me, checkout_id, comment)
            elif action == "receive":
                complete = request.form.get("pages_complete")
                svc.receive(v, s, me, checkout_id, request.form.get("condition", ""),
                            None if complete is None else complete == "yes")
    except Invalid as exc:
        flash(_("Checkout %(id)s: %(msg)s", id=checkout_id, msg=field_message(exc)), "error")
    except (Conflict, Forbidden) as exc:
        flash(_("Checkout %(id)s: %(msg)s", id=checkout_id, msg=field_message(exc)), "error")
    else:
        messages = {"approve": _("Checkout %(id)s approved."), "reject": _("Checkout %(id)s rejected."),
                    "return": _("Checkout %(id)s returned; access has ended."),
                    "handover": _("Checkout %(id)s: paper file handed over."),
                    "receive": _("Checkout %(id)s: paper file received back.")}
        flash(messages[action] % {"id": checkout_id}, "success")
    return redirect(request.form.get("back") or url_for("checkouts.list_page"))


@bp.post("/checkouts/<int:checkout_id>/<any(approve, reject, return, handover, receive):action>")
def act(checkout_id: int, action: str) -> ResponseReturnValue:
    return _act(checkout_id, action)


@bp.post("/dossiers/<int:dossier_id>/checkouts")
def request_checkout(dossier_id: int) -> ResponseReturnValue:
    from web.pages.dossiers import detail_context

    v = get_vault()
    me = actor()
    form = {k: request.form.get(k, "").strip() for k in ("purpose", "kind", "days")}
    doc_ids = [int(x) for x in request.form.getlist("document_ids") if x.isdigit()]
    errors: dict[str, str] = {}
    try:
        days = int(form["days"])
    except ValueError:
        errors["days"] = _("Enter a number of days.")
    if not errors:
        data: dict[str, Any] = {"dossier_id": dossier_id, "purpose": form["purpose"], "kind": form["kind"],
                                "days": days}
        if doc_ids:
            data["document_ids"] = doc_ids
        try:
            with unit_of_work() as s:
                checkout = svc.request_checkout(v, s, me, data)
                new_id = checkout.id
        except Invalid as exc:
            errors[exc.field] = field_message(exc)
        except Conflict as exc:
            errors["_form"] = field_message(exc)
        else:
            flash(_("Checkout %(id)s requested; it waits for approval.", id=new_id), "success")
            return redirect(url_for("checkouts.list_page", view="mine"))
    return render_template("pages/dossier.html", **detail_context(dossier_id), checkout_errors=errors,
                           checkout_form=form), 422
