"""The dossier page's contacts and records sections, their add forms, the complaint status form, and
each person's "my follow-ups" page (issue 12). The services decide who reads, sees and adds."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from sqlalchemy.orm import Session

from vault import policy
from vault.core import Vault
from vault.errors import Conflict, Invalid
from vault.models import Dossier, Role, User
from vault.services import contacts, customer_access, customer_records, follow_ups
from web.deps import actor, get_vault, unit_of_work
from web.pages.common import field_message

bp = Blueprint("customer_file", __name__)

RECORD_KINDS = {"visit": _l("visit"), "call": _l("call"), "meeting": _l("meeting"), "service": _l("service"),
                "inquiry": _l("inquiry"), "complaint": _l("complaint"), "suggestion": _l("suggestion"),
                "follow_up": _l("follow-up visit"), "transaction": _l("transaction")}
DECISION_ROLES = {"decision_maker": _l("decision maker"), "finance": _l("finance"),
                  "purchasing": _l("purchasing"), "technical": _l("technical")}
COMPLAINT_STATUS = {"received": _lp("complaint", "received"), "handling": _lp("complaint", "handling"),
                    "resolved": _lp("complaint", "resolved"), "closed": _lp("complaint", "closed"),
                    "overdue": _lp("complaint", "overdue")}
CURRENCY_NAMES = {"CNY": _l("Chinese yuan"), "USD": _l("US dollar"), "EUR": _l("euro"),
                  "HKD": _l("Hong Kong dollar"), "JPY": _l("Japanese yen"), "GBP": _l("pound sterling"),
                  "TWD": _l("New Taiwan dollar"), "MOP": _l("Macanese pataca"), "SGD": _l("Singapore dollar"),
                  "KRW": _l("South Korean won"), "AUD": _l("Australian dollar"), "CAD": _l("Canadian dollar"),
                  "CHF": _l("Swiss franc")}
CONTACT_FIELDS = ("name", "position", "department", "phone", "email", "decision_role", "since", "left_on")
RECORD_FIELDS = ("kind", "occurred_at", "channel", "summary", "details", "outcome", "next_action",
                 "next_action_due", "assignee", "corrects", "follow_up_of")
KIND_FIELDS = {"complaint": ("handler", "deadline"),
               "transaction": ("amount", "currency", "item", "payment_terms", "contract_document_id")}
ID_FIELDS = ("corrects", "follow_up_of", "contract_document_id")


def section_context(v: Vault, s: Session, me: User, d: Dossier) -> dict[str, Any]:
    """What the dossier page's contacts and records sections show the signed-in user (reads audited)."""
    contact_views, readable = contacts.list_contacts(v, s, me, d.id)
    record_views, _readable = customer_records.list_records(v, s, me, d.id)
    may_status = me.role in (Role.ARCHIVIST, Role.MANAGER) or policy.is_keeper(s, me, d)
    rows = []
    for r in record_views:
        row = dict(vars(r))
        row["state"] = "overdue" if r.overdue else r.status
        row["may_status"] = not r.masked and r.kind == "complaint" and r.status in follow_ups.NEXT_STATUS \
            and (may_status or r.handler == me.username)
        row["next_status"] = follow_ups.NEXT_STATUS.get(r.status or "")
        rows.append(row)
    return {"contacts": [vars(c) for c in contact_views], "contacts_readable": readable,
            "records": rows, "records_readable": readable, "may_add": customer_access.may_add(s, me, d),
            "totals": customer_records.yearly_totals(v, s, me, d.id),
            "RK": RECORD_KINDS, "DR": DECISION_ROLES, "CS": COMPLAINT_STATUS,
            "currencies": customer_records.CURRENCIES, "CN": CURRENCY_NAMES}


def _rerender(dossier_id: int, errors: dict[str, str], which: str, form: dict[str, str]) -> ResponseReturnValue:
    from web.pages.dossiers import detail_context

    return render_template("pages/dossier.html", **detail_context(dossier_id), checkout_errors={},
                           checkout_form={"kind": "view", "days": "7"}, rel_errors=errors, rel_which=which,
                           rel_form=form), 422


def _error(exc: Exception) -> dict[str, str]:
    if isinstance(exc, Invalid):
        return {exc.field: field_message(exc)}
    assert isinstance(exc, Conflict)
    return {"_form": field_message(exc)}


@bp.post("/dossiers/<int:dossier_id>/contacts")
def add_contact(dossier_id: int) -> ResponseReturnValue:
    form = {k: request.form.get(k, "").strip() for k in CONTACT_FIELDS}
    body: dict[str, Any] = {k: val for k, val in form.items() if val}
    body["name"] = form["name"]
    body["primary"] = request.form.get("primary") == "1"
    try:
        with unit_of_work() as s:
            contacts.add_contact(get_vault(), s, actor(), dossier_id, body)
    except (Invalid, Conflict) as exc:
        return _rerender(dossier_id, _error(exc), "contact", form)
    flash(_("Contact %(name)s added.", name=form["name"]), "success")
    return redirect(url_for("dossiers.detail", dossier_id=dossier_id) + "#contacts")


@bp.post("/dossiers/<int:dossier_id>/records")
def add_record(dossier_id: int) -> ResponseReturnValue:
    kind = request.form.get("kind", "")
    names = RECORD_FIELDS + KIND_FIELDS.get(kind, ())
    form = {k: request.form.get(k, "").strip() for k in names}
    form["details"] = request.form.get("details", "").strip()
    body: dict[str, Any] = {k: val for k, val in form.items() if val}
    body.setdefault("summary", "")
    body.setdefault("occurred_at", "")
    for key in ID_FIELDS:
        if key in body:
            body[key] = int(body[key]) if body[key].isdigit() else body[key]
    doc_ids = request.form.getlist("document_ids")
    if doc_ids:
        body["document_ids"] = [int(x) if x.isdigit() else x for x in doc_ids]
    try:
        with unit_of_work() as s:
            made = customer_records.add_record(get_vault(), s, actor(), dossier_id, body)
    except (Invalid, Conflict) as exc:
        return _rerender(dossier_id, _error(exc), "record", form)
    flash(_("Record %(id)s added.", id=made.id), "success")
    return redirect(url_for("dossiers.detail", dossier_id=dossier_id) + "#records")


@bp.post("/records/<int:record_id>/status")
def complaint_status(record_id: int) -> ResponseReturnValue:
    form = {k: request.form.get(k, "").strip() for k in ("status", "result", "satisfaction")}
    body: dict[str, Any] = {k: val for k, val in form.items() if val}
    if "satisfaction" in body:
        body["satisfaction"] = int(body["satisfaction"]) if body["satisfaction"].isdigit() else body["satisfaction"]
    me = actor()
    with unit_of_work() as s:
        dossier_id = customer_records.get_record(s, me, record_id).dossier_id
    try:
        with unit_of_work() as s:
            follow_ups.set_complaint_status(get_vault(), s, me, record_id, body)
    except (Invalid, Conflict) as exc:
        return _rerender(dossier_id, _error(exc), f"status-{record_id}", form)
    flash(_("The complaint is now: %(status)s.", status=COMPLAINT_STATUS[form["status"]]), "success")
    return redirect(url_for("dossiers.detail", dossier_id=dossier_id) + "#records")


@bp.get("/follow-ups")
def my_follow_ups() -> ResponseReturnValue:
    with unit_of_work() as s:
        items = [vars(f) for f in follow_ups.my_follow_ups(get_vault(), s, actor())]
    return render_template("pages/follow_ups.html", items=items, RK=RECORD_KINDS, CS=COMPLAINT_STATUS)
