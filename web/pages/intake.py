"""Scanning intake pages: send a scanned stack, watch its progress and result, work the unfiled inbox."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from vault.errors import VaultError
from vault.intake_models import StackStatus
from vault.services import intake as svc
from vault.services.common import resolve_archive_no
from web.deps import actor, get_vault, unit_of_work
from web.pages.common import DOC_TYPES, field_message

bp = Blueprint("intake", __name__)

REASONS = {
    "no_codes": _l("The stack has no readable separator code: nothing could be filed automatically."),
    "before_first_separator": _l("These pages come before the first separator sheet."),
    "damaged_code": _l("A QR code on the first page of this part is damaged or unreadable."),
    "unknown_dossier": _l("The code names no dossier you may file into (it does not exist, or you may not add to it)."),
    "unknown_doc_type": _l("The code names a document type the archive does not know."),
    "dossier_not_active": _l("The dossier the code names is closed or destroyed."),
}
STACK_STATUS = {"queued": _l("queued"), "running": _l("in progress"), "done": _l("done"), "failed": _l("failed")}


def _reason(code: str | None) -> str:
    return str(REASONS.get(code or "", code or ""))


@bp.get("/intake")
def intake_page() -> ResponseReturnValue:
    with unit_of_work() as s:
        me = actor()
        stacks = [{"id": st.id, "filename": st.filename, "source": st.source, "status": st.status.value,
                   "status_label": str(STACK_STATUS.get(st.status.value, st.status.value)), "pages": st.pages,
                   "done_pages": st.done_pages, "created_at": st.created_at} for st in svc.recent_stacks(s, me)]
        inbox = [{**svc.unfiled_json(row), "stack_id": row.stack_id, "reason_text": _reason(row.reason),
                  "created_at": row.created_at} for row in svc.unfiled_inbox(s, me)]
    return render_template("pages/intake.html", stacks=stacks, inbox=inbox, doc_types=DOC_TYPES)


@bp.get("/intake/<int:stack_id>")
def stack_page(stack_id: int) -> ResponseReturnValue:
    with unit_of_work() as s:
        me = actor()
        stack = svc.get_stack(s, me, stack_id)
        result = svc.stack_result(s, me, stack)
        filename = stack.filename
    for row in result["unfiled"]:
        row["reason_text"] = _reason(row["reason_code"])
    result["status_label"] = str(STACK_STATUS.get(result["status"], result["status"]))
    return render_template("pages/intake_stack.html", r=result, filename=filename,
                           working=result["status"] in (StackStatus.QUEUED, StackStatus.RUNNING))


@bp.post("/intake/unfiled/<int:part_id>/assign")
def assign(part_id: int) -> ResponseReturnValue:
    v = get_vault()
    try:
        with unit_of_work() as s:
            me = actor()
            dossier = resolve_archive_no(s, me, request.form.get("archive_no", ""))
            row = svc.assign_part(v, s, me, part_id, dossier.id, doc_type=request.form.get("doc_type") or "other",
                                  title=request.form.get("title") or None)
            document_id, archive_no = row.document_id, dossier.archive_no
    except VaultError as exc:
        flash(_("Not filed: %(msg)s", msg=field_message(exc)), "error")
    else:
        flash(_("Filed into %(archive_no)s as document %(id)s.", archive_no=archive_no, id=document_id), "success")
    return redirect(url_for("intake.intake_page"))


@bp.post("/intake/unfiled/<int:part_id>/discard")
def discard(part_id: int) -> ResponseReturnValue:
    v = get_vault()
    try:
        with unit_of_work() as s:
            keys = svc.discard_part(v, s, actor(), part_id)
    except VaultError as exc:
        flash(_("Not discarded: %(msg)s", msg=field_message(exc)), "error")
    else:
        for key in keys:
            v.blobs.delete(key)
        flash(_("The part was discarded."), "success")
    return redirect(url_for("intake.intake_page"))


def nav_entry() -> tuple[str, str, Any]:
    return ("intake.intake_page", "/intake", _l("Scanning intake"))
