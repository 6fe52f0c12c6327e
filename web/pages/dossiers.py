"""Dossiers: list with filters and paging, the dossier page, create and edit forms, the upload panel."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from vault import policy
from vault.errors import Conflict, Invalid
from vault.models import DocType, DossierStatus
from vault.services import checkouts, dossiers, holds
from vault.services.cards import create_customer
from vault.services.common import get_dossier
from web.deps import actor, get_vault, unit_of_work
from web.pages import cards, customer_file, customer_io
from web.pages.common import checkout_rows, field_message, page_args
from web.serialize import documents_json, dossier_json, dossiers_json

bp = Blueprint("dossiers", __name__)

CREATE_FIELDS = ("customer_name", "credit_code", "customer_type", "grade", "industry", "region", "owner",
                 "secrecy", "location")
EDIT_FIELDS = CREATE_FIELDS + ("status", "next_review_date", "reason")
FILTERS = ("q", "grade", "customer_type", "status", "owner", "stage", "customer_kind", "industry", "region",
           "review_due", "incomplete", "sort")
SORT_LINKS = (("name", "-name"), ("archive_no", "-archive_no"), ("updated", "-updated"))


@bp.get("/dossiers")
def list_page() -> ResponseReturnValue:
    me = actor()
    page, per_page = page_args()
    filters = {k: request.args.get(k, "").strip() for k in FILTERS}
    errors: dict[str, str] = {}
    with unit_of_work() as s:
        try:
            result = dossiers.list_dossiers(s, me, {k: v for k, v in filters.items() if v}, page, per_page,
                                            v=get_vault())
        except Invalid as exc:
            errors[exc.field] = field_message(exc)
            result = dossiers.list_dossiers(s, me, {}, page, per_page, v=get_vault())
        rows = dossiers_json(get_vault(), result.items)
    pages = max(1, -(-result.total // per_page))
    return render_template("pages/dossiers.html", rows=rows, total=result.total, page=page, pages=pages,
                           per_page=per_page, filters=filters, errors=errors, CL=cards.labels(),
                           sort_links=SORT_LINKS, can_create=policy.allowed(me, "dossier.create"),
                           can_import=customer_io.can_import(me)), \
        422 if errors else 200


def _form_data(fields: tuple[str, ...]) -> dict[str, str]:
    return {k: request.form.get(k, "").strip() for k in fields}


def _save_errors(exc: Exception) -> dict[str, str]:
    if isinstance(exc, Invalid):
        return {exc.field: field_message(exc)}
    assert isinstance(exc, Conflict)
    if exc.code == "duplicate_credit_code":
        return {"credit_code": _("A dossier for this credit code exists already: one customer, one dossier.")}
    return {"_form": field_message(exc)}


@bp.route("/dossiers/new", methods=["GET", "POST"])
def create_page() -> ResponseReturnValue:
    me = actor()
    policy.require(me, "dossier.create")
    form: dict[str, str] = {"customer_type": "client", "grade": "B", "secrecy": "internal", "owner": me.username}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = _form_data(CREATE_FIELDS)
        data = {k: v for k, v in form.items() if v}
        if not form["customer_name"]:
            data["customer_name"] = ""
        try:
            with unit_of_work() as s:
                # as POST /api/v1/dossiers: with its (organisation's) card, searchable by name once the worker ran
                created = create_customer(get_vault(), s, me, data)
                new_id, archive_no = created.id, created.archive_no
        except (Invalid, Conflict) as exc:
            errors = _save_errors(exc)
        else:
            flash(_("Dossier %(no)s created.", no=archive_no), "success")
            return redirect(url_for("dossiers.detail", dossier_id=new_id))
    return render_template("pages/dossier_form.html", form=form, errors=errors, editing=None), \
        422 if errors else 200


@bp.route("/dossiers/<int:dossier_id>/edit", methods=["GET", "POST"])
def edit_page(dossier_id: int) -> ResponseReturnValue:
    me = actor()
    errors: dict[str, str] = {}
    with unit_of_work() as s:
        d = get_dossier(s, me, dossier_id)
        policy.require(me, "dossier.update")
        current = dossier_json(get_vault(), d)
    form = {k: ("" if current.get(k) is None else str(current.get(k))) for k in EDIT_FIELDS}
    if request.method == "POST":
        form = _form_data(EDIT_FIELDS)
        try:
            with unit_of_work() as s:
                edit = dossiers.edit_dossier(get_vault(), s, me, dossier_id, form)
        except (Invalid, Conflict) as exc:
            errors = _save_errors(exc)
        else:
            flash(_("Changes saved."), "success")
            if edit.owner_change_id is not None:
                flash(_("The new owner %(owner)s takes over when a manager approves the change (request "
                        "#%(id)s).", owner=form.get("owner", ""), id=edit.owner_change_id), "info")
            return redirect(url_for("dossiers.detail", dossier_id=dossier_id))
    return render_template("pages/dossier_form.html", form=form, errors=errors, editing=current), \
        422 if errors else 200


def detail_context(dossier_id: int) -> dict[str, Any]:
    """Everything the dossier page shows, read through the services as the signed-in user."""
    v = get_vault()
    me = actor()
    with unit_of_work() as s:
        d = get_dossier(s, me, dossier_id)
        docs = documents_json(v, d.documents)
        ctx: dict[str, Any] = {"d": dossier_json(v, d), "documents": docs,
                               "completeness": dossiers.completeness(v, d),
                               "can_edit": policy.allowed(me, "dossier.update"),
                               "can_upload": policy.allowed(me, "document.upload") and d.status is DossierStatus.ACTIVE,
                               "doc_types": list(DocType)}
        ctx["holds"] = [{"id": h.id, "document_id": h.document_id, "reason": h.reason, "placed_at": h.placed_at,
                         "placed_by": h.placed_by.username} for h in holds.holds_on_dossier(s, d.id)]
        ctx["can_hold"] = policy.allowed(me, "hold.manage")
        ctx["checkouts"] = checkout_rows(v, checkouts.list_checkouts(v, s, me, {"dossier_id": d.id}, 1, 50).items)
        ctx["can_request"] = policy.allowed(me, "checkout.request") and d.status is not DossierStatus.DESTROYED
        holder = checkouts.paper_holder(s, d.id)
        ctx["paper_holder"] = holder.requester.username if holder is not None else None
        ctx["max_days"] = v.settings.checkout_max_days
        ctx["rel"] = customer_file.section_context(v, s, me, d)
        held_docs = {h["document_id"] for h in ctx["holds"] if h["document_id"]}
        for row in docs:
            row["held"] = row["id"] in held_docs or any(h["document_id"] is None for h in ctx["holds"])
        ctx.update(cards.card_context(v, s, me, d))  # the customer card's section (pages/_dossier_card.html)
    return ctx


@bp.get("/dossiers/<int:dossier_id>")
def detail(dossier_id: int) -> ResponseReturnValue:
    if dossier_id <= 0:
        abort(404)
    return render_template("pages/dossier.html", **detail_context(dossier_id), checkout_errors={},
                           checkout_form={"kind": "view", "days": "7"})
