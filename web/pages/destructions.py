"""Retention due, destruction batches (propose, approve, execute, certificate) and the register (销毁清册)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from vault import policy
from vault.errors import Conflict, Forbidden, Invalid
from vault.services import destruction as svc
from vault.services import retention
from web.api.destructions import certificate_response
from web.deps import actor, get_vault, unit_of_work
from web.pages.common import field_message, page_args
from web.serialize import documents_json

bp = Blueprint("destructions", __name__)


@bp.get("/destructions")
def list_page() -> ResponseReturnValue:
    v = get_vault()
    me = actor()
    page, per_page = page_args()
    due: list[dict[str, Any]] = []
    with unit_of_work() as s:
        result = svc.list_batches(s, me, page, per_page)
        batches = [{
            "id": b.id, "status": b.status.value, "reason": b.reason, "proposed_by": b.proposed_by.username,
            "proposed_at": b.proposed_at, "executed_at": b.executed_at,
            "executed_by": b.executed_by.username if b.executed_by else None,
            "manager": b.manager_approver.username if b.manager_approver else None,
            "legal": b.legal_approver.username if b.legal_approver else None,
            "entries": [{"document_id": i.document_id, "archive_no": i.archive_no, "title": i.title,
                         "doc_type": i.doc_type.value, "due_on": i.due_on} for i in b.items],
            "can_approve": may.may_approve, "can_execute": may.may_execute,
        } for b, may in ((b, policy.batch_actions(me, b)) for b in result.items)]
        if policy.allowed(me, "retention.due"):
            listed = retention.list_due(v, s, me)
            due = [{"document": row, "due_on": d.due_on, "basis": d.basis, "held": bool(d.holds),
                    "batch_id": d.open_batch_id}
                   for d, row in zip(listed, documents_json(v, [d.document for d in listed]), strict=True)]
    pages = max(1, -(-result.total // per_page))
    return render_template("pages/destructions.html", batches=batches, due=due, total=result.total, page=page,
                           pages=pages, can_propose=policy.allowed(me, "destruction.propose"))


def awaiting_approval(s: Any, me: Any) -> list[dict[str, Any]]:
    """Proposed batches that still need this manager's or legal's approval (the home page's "to approve")."""
    if not policy.allowed(me, "destruction.approve"):
        return []
    return [{"id": b.id, "reason": b.reason, "proposed_by": b.proposed_by.username, "proposed_at": b.proposed_at,
             "documents": len(b.items)}
            for b in svc.list_batches(s, me, 1, 50).items
            if policy.batch_actions(me, b).awaits_me]


def _flash_refusal(exc: Exception) -> None:
    if isinstance(exc, Invalid):
        flash(field_message(exc), "error")
    elif isinstance(exc, Conflict | Forbidden):
        flash(field_message(exc), "error")


@bp.post("/destructions")
def propose() -> ResponseReturnValue:
    ids = [int(x) for x in request.form.getlist("document_ids") if x.isdigit()]
    try:
        with unit_of_work() as s:
            batch = svc.propose(get_vault(), s, actor(), ids, request.form.get("reason", ""))
            batch_id = batch.id
    except (Invalid, Conflict, Forbidden) as exc:
        _flash_refusal(exc)
    else:
        flash(_("Destruction batch %(id)s proposed; it needs a manager's and legal's approval.", id=batch_id),
              "success")
    return redirect(url_for("destructions.list_page"))


@bp.post("/destructions/<int:batch_id>/approve")
def approve(batch_id: int) -> ResponseReturnValue:
    try:
        with unit_of_work() as s:
            svc.approve(get_vault(), s, actor(), batch_id, request.form.get("comment", ""))
    except (Invalid, Conflict, Forbidden) as exc:
        _flash_refusal(exc)
    else:
        flash(_("Destruction batch %(id)s approved.", id=batch_id), "success")
    return redirect(url_for("destructions.list_page"))


@bp.post("/destructions/<int:batch_id>/execute")
def execute(batch_id: int) -> ResponseReturnValue:
    try:
        svc.execute(get_vault(), actor(), batch_id)
    except (Invalid, Conflict, Forbidden) as exc:
        _flash_refusal(exc)
    else:
        flash(_("Destruction batch %(id)s executed; the certificate is ready.", id=batch_id), "success")
    return redirect(url_for("destructions.list_page"))


@bp.get("/destructions/<int:batch_id>/certificate.pdf")
def certificate(batch_id: int) -> ResponseReturnValue:
    with unit_of_work() as s:
        cert = svc.certificate(s, actor(), batch_id)
    return certificate_response(cert)
