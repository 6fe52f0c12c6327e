"""Legal holds: list, place on a dossier or a document, release with a reason."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from vault import policy
from vault.errors import Conflict, Invalid, NotFound
from vault.models import Document, Dossier
from vault.services import holds as svc
from web.deps import actor, get_vault, unit_of_work
from web.pages.common import field_message, page_args

bp = Blueprint("holds", __name__)


@bp.get("/holds")
def list_page() -> ResponseReturnValue:
    me = actor()
    page, per_page = page_args()
    active_only = request.args.get("all") != "1"
    with unit_of_work() as s:
        result = svc.list_holds(s, me, active_only=active_only, page=page, per_page=per_page)
        rows = [{"id": h.id, "dossier_id": h.dossier_id, "document_id": h.document_id, "reason": h.reason,
                 "placed_by": h.placed_by.username, "placed_at": h.placed_at, "released_at": h.released_at,
                 "release_reason": h.release_reason, **_covers(s, h)} for h in result.items]
    pages = max(1, -(-result.total // per_page))
    return render_template("pages/holds.html", rows=rows, total=result.total, page=page, pages=pages,
                           active_only=active_only, can_manage=policy.allowed(me, "hold.manage"))


def _covers(session: Any, hold: Any) -> dict[str, Any]:
    """What a hold covers, as people know it: archive number and customer, and the document's title.

    list_holds returns only holds on dossiers the reader may see, so naming them here shows nothing new."""
    document = session.get(Document, hold.document_id) if hold.document_id else None
    dossier = document.dossier if document is not None else session.get(Dossier, hold.dossier_id)
    return {"archive_no": dossier.archive_no if dossier else "", "customer_name": dossier.customer_name if dossier
            else "", "covers_dossier_id": dossier.id if dossier else None,
            "document_title": document.title if document is not None else ""}


def _int_or_raw(raw: str | None) -> int | str | None:
    """A typed id as a number; other text goes to the service as it is, which names what is wrong."""
    raw = (raw or "").strip()
    if not raw:
        return None
    return int(raw) if raw.isdigit() and len(raw) <= 30 else raw


@bp.post("/holds")
def place() -> ResponseReturnValue:
    archive_no = (request.form.get("archive_no") or request.form.get("dossier_id") or "").strip() or None
    document_id = _int_or_raw(request.form.get("document_id"))
    try:
        with unit_of_work() as s:
            hold = svc.place_hold(get_vault(), s, actor(), archive_no=archive_no, document_id=document_id,
                                  reason=request.form.get("reason", ""))
            hold_id = hold.id
    except (Invalid, NotFound) as exc:
        flash(_("Legal hold not placed: %(msg)s", msg=field_message(exc)), "error")
    except Conflict as exc:
        flash(_("Legal hold not placed: %(msg)s", msg=field_message(exc)), "error")
    else:
        flash(_("Legal hold %(id)s placed.", id=hold_id), "success")
    return redirect(request.form.get("back") or url_for("holds.list_page"))


@bp.post("/holds/<int:hold_id>/release")
def release(hold_id: int) -> ResponseReturnValue:
    try:
        with unit_of_work() as s:
            svc.release_hold(get_vault(), s, actor(), hold_id, request.form.get("reason", ""))
    except Invalid as exc:
        flash(_("Legal hold not released: %(msg)s", msg=field_message(exc)), "error")
    except Conflict as exc:
        flash(_("Legal hold not released: %(msg)s", msg=field_message(exc)), "error")
    else:
        flash(_("Legal hold %(id)s released.", id=hold_id), "success")
    return redirect(url_for("holds.list_page"))
