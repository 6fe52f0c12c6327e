"""Transfer pages (移交/接收): the list, a new transfer, one transfer with its check, receipt and confirmation."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from vault.errors import Conflict, Forbidden, Invalid, NotFound
from vault.paper_models import Transfer
from vault.services import transfers as svc
from vault.services.common import resolve_archive_no
from vault.services.item_numbers import item_code
from web.deps import actor, get_vault, unit_of_work
from web.pages import cards
from web.pages.common import field_message, page_args

bp = Blueprint("transfers", __name__)

TRANSFER_STATUS = {"sent": _l("sent"), "returned": _l("sent back"), "checked": _l("checked"),
                   "received": _l("received"), "overdue": _l("overdue")}
ITEM_STATES = {"present": _l("present"), "missing": _l("missing"), "differs": _l("differs")}
ITEM_FIELDS = ("title", "doc_type", "doc_date", "pages", "responsible", "remarks")
BLANK_ROWS = 5
#: a customer the archive has never seen: the transfer opens its dossier (the fields of dossier creation)
NEW_CUSTOMER_FIELDS = ("customer_name", "customer_kind", "credit_code", "id_number", "customer_type", "grade",
                       "industry", "region", "owner", "secrecy")


def transfer_row(t: Transfer, me: Any, today: Any) -> dict[str, Any]:
    """A transfer for the templates, with what the viewer may do to it now."""
    status = t.display_status(today)
    may = svc.transfer_actions(me, t)

    def who(user: Any) -> str | None:
        return None if user is None else user.username

    return {
        "id": t.id, "dossier_id": t.dossier_id, "archive_no": t.dossier.archive_no,
        "customer_name": t.dossier.customer_name, "status": status, "stored_status": t.status.value,
        "note": t.note, "business_date": t.business_date, "deadline": t.deadline, "sender": who(t.sender),
        "sent_at": t.sent_at, "checked_by": who(t.checked_by), "checked_at": t.checked_at,
        "returned_by": who(t.returned_by), "returned_at": t.returned_at, "missing": t.return_note,
        "received_by": who(t.received_by), "received_at": t.received_at, "receipt_no": t.receipt_no,
        "sender_confirmed_at": t.sender_confirmed_at, "pages": sum(i.pages for i in t.items),
        "items": [{"index": i.position, "title": i.title, "doc_type": i.doc_type.value, "doc_date": i.doc_date,
                   "pages": i.pages, "original": i.original, "responsible": i.responsible, "remarks": i.remarks,
                   "state": None if i.state is None else i.state.value, "note": i.receive_note,
                   "document_id": i.document_id,
                   "item_code": None if i.document is None else item_code(t.dossier.archive_no, i.document.item_no)}
                  for i in t.items],
        "can_check": may.may_check, "can_resend": may.may_resend,
        "can_receive": may.may_receive, "can_confirm": may.may_confirm,
    }


@bp.get("/transfers")
def list_page() -> ResponseReturnValue:
    v = get_vault()
    me = actor()
    page, per_page = page_args()
    sees_all = svc.sees_all_transfers(me)
    view = request.args.get("view", "all" if sees_all else "mine")
    status = request.args.get("status", "")
    filters: dict[str, Any] = {"status": status} if status in svc.STATUS_FILTERS else {}
    if view == "mine" or not sees_all:
        filters["mine"] = "1"
    if request.args.get("dossier_id", "").isdigit():
        filters["dossier_id"] = request.args["dossier_id"]
    today = v.clock.now().date()
    with unit_of_work() as s:
        result = svc.list_transfers(v, s, me, filters, page, per_page)
        rows = [transfer_row(t, me, today) for t in result.items]
    pages = max(1, -(-result.total // per_page))
    return render_template("pages/transfers.html", rows=rows, total=result.total, page=page, pages=pages,
                           view=view, status=status, sees_all=sees_all, statuses=list(TRANSFER_STATUS),
                           TS=TRANSFER_STATUS)


def _form_items(form: MultiDict[str, str]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The filled rows of the item table as API items, and every row as typed (to show again)."""
    typed: list[dict[str, str]] = []
    items: list[dict[str, Any]] = []
    for n in range(_count(form.get("rows"), BLANK_ROWS)):
        row = {f: form.get(f"{f}-{n}", "").strip() for f in ITEM_FIELDS}
        row["original"] = "yes" if form.get(f"original-{n}") else ""
        typed.append(row)
        if not row["title"] and not row["pages"]:
            continue
        pages: Any = row["pages"]
        try:
            pages = int(pages)
        except ValueError:
            pass  # the service says what is wrong, naming the item
        items.append({"title": row["title"], "doc_type": row["doc_type"], "doc_date": row["doc_date"] or None,
                      "pages": pages, "original": bool(row["original"]), "responsible": row["responsible"],
                      "remarks": row["remarks"]})
    return items, typed


def _count(raw: str | None, default: int) -> int:
    """How many rows the form had (a number the page wrote; anything else is the default)."""
    return min(int(raw), svc.MAX_ITEMS) if raw and raw.isdigit() else default


def _blank(n: int) -> list[dict[str, str]]:
    return [{"title": "", "doc_type": "contract", "doc_date": "", "pages": "", "responsible": "", "remarks": "",
             "original": "yes"} for _ in range(n)]


@bp.get("/transfers/new")
def new_page() -> ResponseReturnValue:
    archive_no = ""
    if request.args.get("dossier_id", "").isdigit():
        try:
            with unit_of_work() as s:
                archive_no = resolve_archive_no(s, actor(), int(request.args["dossier_id"])).archive_no
        except NotFound:
            archive_no = ""
    return render_template("pages/transfer_new.html", form={"archive_no": archive_no, "note": "",
                                                            "business_date": "", **_new_customer_defaults()},
                           rows=_blank(BLANK_ROWS), errors={}, KL=cards.KIND_LABELS)


def _new_customer_defaults() -> dict[str, str]:
    return {"customer_name": "", "customer_kind": "organisation", "credit_code": "", "id_number": "",
            "customer_type": "client", "grade": "B", "industry": "", "region": "", "owner": "",
            "secrecy": "internal"}


def _new_customer(form: dict[str, str]) -> dict[str, str] | None:
    """The new customer's fields when the form names no archive number but a customer name (else None)."""
    if form["archive_no"] or not form["customer_name"]:
        return None
    return {k: form[k] for k in NEW_CUSTOMER_FIELDS if form[k]}


@bp.post("/transfers/new")
def create() -> ResponseReturnValue:
    v = get_vault()
    me = actor()
    form = {k: request.form.get(k, "").strip() for k in ("archive_no", "note", "business_date",
                                                          *NEW_CUSTOMER_FIELDS)}
    items, typed = _form_items(request.form)
    errors: dict[str, str] = {}
    customer = _new_customer(form)
    where = "customer_name" if customer is not None else "archive_no"  # who answers for the dossier's errors
    try:
        with unit_of_work() as s:
            body: dict[str, Any] = {"items": items, "note": form["note"]}
            if customer is not None:
                body["customer"] = customer
            else:
                body["dossier_id"] = resolve_archive_no(s, me, form["archive_no"]).id
            if form["business_date"]:
                body["business_date"] = form["business_date"]
            created = svc.create_transfer(v, s, me, body)
            new_id, archive_no = created.id, created.dossier.archive_no
    except Invalid as exc:
        known = ("items", "note", "business_date", *(NEW_CUSTOMER_FIELDS if customer is not None else ()))
        errors[exc.field if exc.field in known else where] = field_message(exc)
    except Conflict as exc:
        errors["credit_code" if exc.code == "duplicate_credit_code" and customer is not None
               else "id_number" if exc.code == "duplicate_id_number" else where] = field_message(exc)
    except (NotFound, Forbidden) as exc:
        errors[where] = field_message(exc)
    else:
        if customer is not None:
            flash(_("Dossier %(no)s opened for the new customer.", no=archive_no), "success")
        flash(_("Transfer %(id)s sent to the archive.", id=new_id), "success")
        return redirect(url_for("transfers.detail", transfer_id=new_id))
    form["id_number"] = ""  # a sensitive value is not sent back in the page; it is typed again
    return render_template("pages/transfer_new.html", form=form, rows=typed, errors=errors,
                           KL=cards.KIND_LABELS), 422


@bp.get("/transfers/<int:transfer_id>")
def detail(transfer_id: int) -> ResponseReturnValue:
    v = get_vault()
    me = actor()
    with unit_of_work() as s:
        row = transfer_row(svc.get_transfer(s, me, transfer_id), me, v.clock.now().date())
    return render_template("pages/transfer.html", t=row, TS=TRANSFER_STATUS, STATES=ITEM_STATES,
                           resend_rows=row["items"] if row["can_resend"] else [])


@bp.post("/transfers/<int:transfer_id>/<any(check, resend, receive, confirm):action>")
def act(transfer_id: int, action: str) -> ResponseReturnValue:
    v = get_vault()
    me = actor()
    try:
        with unit_of_work() as s:
            if action == "check":
                svc.check_transfer(v, s, me, transfer_id, ok=request.form.get("ok") == "yes",
                                   missing=request.form.get("missing", ""))
            elif action == "resend":
                items, _typed = _form_items(request.form)
                svc.resend_transfer(v, s, me, transfer_id, {"items": items})
            elif action == "receive":
                count = _count(request.form.get("rows"), 0)
                states = [{"index": n, "state": request.form.get(f"state-{n}", ""),
                           "note": request.form.get(f"note-{n}", "")} for n in range(1, count + 1)]
                svc.receive_transfer(v, s, me, transfer_id, {"items": states})
            else:
                svc.confirm_transfer(v, s, me, transfer_id)
    except (Invalid, Conflict, Forbidden) as exc:
        flash(_("Transfer %(id)s: %(msg)s", id=transfer_id, msg=field_message(exc)), "error")
    else:
        messages = {"check": _("Transfer %(id)s checked."), "resend": _("Transfer %(id)s sent again."),
                    "receive": _("Transfer %(id)s received and registered."),
                    "confirm": _("Transfer %(id)s: receipt confirmed.")}
        flash(messages[action] % {"id": transfer_id}, "success")
    return redirect(url_for("transfers.detail", transfer_id=transfer_id))
