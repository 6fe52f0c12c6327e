"""The customer card on the pages: the card section of the dossier page (masked as the reader may see),
its edit form with a reason, the history, the review form, and the review queue."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from config.settings import CARD_FIELDS
from vault.core import Vault
from vault.errors import Conflict, Forbidden, Invalid
from vault.models import Dossier, DossierStatus, Role, User
from vault.services import cards, owner_changes, reviews
from vault.services.card_fields import DERIVED, PARTNER_KINDS, SEALED, STAGES, sensitive
from vault.services.common import get_dossier
from web.api.cards import history_json
from web.deps import actor, get_vault, unit_of_work
from web.pages.common import CUSTOMER_TYPES, GRADES, field_message

bp = Blueprint("cards", __name__)

FIELD_LABELS = {
    "customer_name": _l("Registered name"), "relationship": _l("Relationship"), "partner_kind": _l("Partner kind"),
    "stage": _l("Stage"), "grade": _l("Grade"), "backup_owner": _l("Backup owner (B 岗)"), "phone": _l("Phone"),
    "email": _l("E-mail"), "bank_name": _l("Bank"), "bank_account": _l("Bank account"),
    "total_assets": _l("Total assets"), "annual_income": _l("Annual income"), "total_debts": _l("Total debts"),
    "credit_rating": _l("Credit rating"), "credit_rating_source": _l("Credit rating source"),
    "credit_rating_on": _l("Credit rating date"), "credit_code": _l("Unified social credit code"),
    "former_names": _l("Former names"), "legal_representative": _l("Legal representative"),
    "registered_address": _l("Registered address"), "business_address": _l("Business address"),
    "registered_capital": _l("Registered capital"), "currency": _l("Currency"), "founded_on": _l("Founded on"),
    "business_scope": _l("Business scope"), "main_products": _l("Main products"), "staff_size": _l("Staff size"),
    "website": _l("Website"), "id_number": _l("Resident ID number"), "gender": _l("Gender"),
    "birth_date": _l("Birth date"), "address": _l("Address"),
    "owner": _l("Owner"), "review": _l("Periodic review"),
}
STAGE_LABELS = {"prospect": _l("prospect"), "target": _l("target"), "potential": _l("potential"),
                "inactive": _l("inactive for now"), "customer": _l("customer"), "lost": _l("lost")}
PARTNER_LABELS = {"law_firm": _l("law firm"), "accountant": _l("accountant"), "bank": _l("bank"),
                  "insurer": _l("insurer"), "advertising_pr": _l("advertising / PR"), "financing": _l("financing")}
GENDER_LABELS = {"male": _l("male"), "female": _l("female")}
KIND_LABELS = {"organisation": _l("organisation"), "individual": _l("individual")}
RESULT_LABELS = {"confirmed": _l("confirmed"), "corrected": _l("corrected")}
CHOICES: dict[str, dict[str, Any]] = {"stage": STAGE_LABELS, "partner_kind": {"": "—", **PARTNER_LABELS},
                                      "gender": {"": "—", **GENDER_LABELS}, "relationship": CUSTOMER_TYPES,
                                      "grade": {g: g for g in GRADES}}
LONG = ("business_scope", "main_products", "former_names")
DATES = ("founded_on", "credit_rating_on")
assert set(STAGE_LABELS) == set(STAGES) and set(PARTNER_LABELS) == set(PARTNER_KINDS)


def labels() -> dict[str, Any]:
    """The label tables the card templates use."""
    return {"fields": FIELD_LABELS, "stage": STAGE_LABELS, "partner_kind": PARTNER_LABELS, "gender": GENDER_LABELS,
            "kind": KIND_LABELS, "result": RESULT_LABELS, "relationship": CUSTOMER_TYPES}


def card_context(v: Vault, s: Session, me: User, d: Dossier) -> dict[str, Any]:
    """What the dossier page's card section shows: the card as the reader may see it, history, who may act."""
    view = cards.read_card(v, s, me, d.id)
    card = cards.card_of(s, d, create=False)
    kind = card.customer_kind
    may = cards.may_edit(me, d, card) and me.role is not Role.SYSTEM
    return {"card": {"fields": view.fields, "missing": view.missing, "masked": view.masked, "kind": kind,
                     "order": [f for f in CARD_FIELDS[kind] if f not in ("customer_name", "credit_code")],
                     "sensitive": [f for f in SEALED if sensitive(kind, f)]},
            "card_history": [history_json(h) for h in cards.history(s, me, d.id)],
            "can_edit_card": may, "can_review": may and d.status is DossierStatus.ACTIVE,
            "can_ask_owner": may or me.role is Role.MANAGER,
            "CL": labels(), "review_stages": STAGES, "review_results": reviews.RESULTS}


def _form_fields(kind: str) -> list[str]:
    return [f for f in CARD_FIELDS[kind] if f not in DERIVED]


def _changed(kind: str, current: dict[str, Any]) -> dict[str, Any]:
    """The fields the form changes: a sealed value only when typed (empty keeps it), others when different."""
    out: dict[str, Any] = {}
    for f in _form_fields(kind):
        if f not in request.form:
            continue
        value = request.form.get(f, "").strip()
        if f in SEALED:
            if value:
                out[f] = value
        elif value != ("" if current.get(f) is None else str(current.get(f))):
            out[f] = value
    return out


@bp.route("/dossiers/<int:dossier_id>/card/edit", methods=["GET", "POST"])
def edit_card(dossier_id: int) -> ResponseReturnValue:
    if dossier_id <= 0:
        abort(404)
    v, me = get_vault(), actor()
    with unit_of_work() as s:
        d = get_dossier(s, me, dossier_id)
        card = cards.card_of(s, d, create=False)
        if not cards.may_edit(me, d, card):
            raise Forbidden("only the owner, the backup owner or an archivist edits this card", code="forbidden")
        view = cards.read_card(v, s, me, d.id, reveal=False)  # the form shows sensitive values masked
        kind = card.customer_kind
        head = {"id": d.id, "archive_no": d.archive_no, "customer_name": d.customer_name}
    current = {k: ("" if k in SEALED else val) for k, val in view.fields.items()}
    form = {f: ("" if current.get(f) is None else str(current.get(f))) for f in _form_fields(kind)}
    errors: dict[str, str] = {}
    reason = ""
    if request.method == "POST":
        reason = request.form.get("reason", "")
        form.update({f: request.form.get(f, "") for f in form if f not in SEALED})
        changes = _changed(kind, current)
        if not changes:
            errors["_form"] = _("Nothing was changed.")
        else:
            try:
                with unit_of_work() as s:
                    cards.update_card(v, s, me, dossier_id, {"fields": changes, "reason": reason})
            except Invalid as exc:
                errors[exc.field] = field_message(exc)
            except Conflict as exc:
                errors["_form"] = field_message(exc)
            else:
                flash(_("The card was saved; the change is in its history."), "success")
                return redirect(url_for("dossiers.detail", dossier_id=dossier_id) + "#card")
    return render_template("pages/card_form.html", d=head, form=form, reason=reason, errors=errors,
                           fields=_form_fields(kind), masked_now=view.fields, choices=CHOICES,
                           long_fields=LONG, date_fields=DATES, sealed=SEALED, CL=labels()), 422 if errors else 200


@bp.post("/dossiers/<int:dossier_id>/review")
def review(dossier_id: int) -> ResponseReturnValue:
    body = {k: request.form.get(k, "").strip() for k in ("result", "grade", "stage", "reason", "next_review_on")}
    body = {k: val for k, val in body.items() if val or k == "reason"}
    try:
        with unit_of_work() as s:
            done = reviews.record_review(get_vault(), s, actor(), dossier_id, body)
            next_on = done.next_review_on
    except (Invalid, Conflict, Forbidden) as exc:
        flash(_("The review was not recorded: %(msg)s", msg=field_message(exc)), "error")
    else:
        flash(_("Review recorded; the next one is due on %(date)s.", date=next_on.isoformat()), "success")
    return redirect(url_for("dossiers.detail", dossier_id=dossier_id) + "#review")


@bp.post("/dossiers/<int:dossier_id>/owner-change")
def ask_owner(dossier_id: int) -> ResponseReturnValue:
    body = {k: request.form.get(k, "").strip() for k in ("owner", "reason")}
    try:
        with unit_of_work() as s:
            owner_changes.request_change(get_vault(), s, actor(), dossier_id, body)
    except (Invalid, Conflict, Forbidden) as exc:
        flash(_("The change of owner was not asked for: %(msg)s", msg=field_message(exc)), "error")
    else:
        flash(_("The change of owner waits for a manager's approval."), "success")
    return redirect(url_for("dossiers.detail", dossier_id=dossier_id) + "#history")


@bp.post("/owner-changes/<int:change_id>/<any(approve, reject):decision>")
def decide_owner(change_id: int, decision: str) -> ResponseReturnValue:
    try:
        with unit_of_work() as s:
            owner_changes.decide(get_vault(), s, actor(), change_id, approve=decision == "approve")
    except (Conflict, Forbidden) as exc:
        flash(_("Not decided: %(msg)s", msg=field_message(exc)), "error")
    else:
        flash(_("Change of owner approved.") if decision == "approve" else _("Change of owner rejected."), "success")
    return redirect(url_for("cards.review_queue"))


@bp.get("/reviews")
def review_queue() -> ResponseReturnValue:
    v, me = get_vault(), actor()
    try:
        within = max(0, min(366, int(request.args.get("within_days", v.settings.review_reminder_days))))
    except ValueError:
        within = v.settings.review_reminder_days
    with unit_of_work() as s:
        due = reviews.due_reviews(v, s, me, within_days=within)
        today = v.clock.now().date()
        rows = [{"id": r.dossier.id, "archive_no": r.dossier.archive_no, "customer_name": r.dossier.customer_name,
                 "grade": r.dossier.grade.value, "owner": r.dossier.owner.username, "backup_owner": r.backup_owner,
                 "due_on": r.due_on, "overdue_days": r.overdue_days, "upcoming": r.due_on > today} for r in due]
        changes = []
        if me.role is Role.MANAGER:
            for c in owner_changes.pending(s, me):
                d = s.get(Dossier, c.dossier_id)
                new = s.get(User, c.to_owner_id)
                asker = s.get(User, c.requested_by_id)
                assert d is not None and new is not None and asker is not None
                changes.append({"id": c.id, "dossier_id": d.id, "archive_no": d.archive_no, "from": d.owner.username,
                                "to": new.username, "reason": c.reason, "asked_by": asker.username,
                                "asked_at": c.requested_at})
    return render_template("pages/reviews.html", rows=rows, within=within, changes=changes)
