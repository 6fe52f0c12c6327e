"""The audit log viewer: filters, paging and the chain's verify status."""

from __future__ import annotations

import json

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from vault import policy
from vault.errors import Invalid
from vault.services import audit_log
from web.deps import actor, get_vault, unit_of_work
from web.pages.common import field_message, page_args

bp = Blueprint("audit", __name__)
FILTERS = ("dossier_id", "document_id", "actor", "action", "since")


@bp.get("/audit")
def list_page() -> ResponseReturnValue:
    me = actor()
    page, per_page = page_args(50)
    filters = {k: request.args.get(k, "").strip() for k in FILTERS}
    errors: dict[str, str] = {}
    verify = None
    with unit_of_work() as s:
        try:
            result = audit_log.list_events(s, me, {k: v for k, v in filters.items() if v}, page, per_page)
        except Invalid as exc:
            errors[exc.field] = field_message(exc)
            result = audit_log.list_events(s, me, {}, page, per_page)
        rows = [{"seq": e.seq, "at": e.at, "actor": e.actor_name, "action": e.action, "dossier_id": e.dossier_id,
                 "document_id": e.document_id, "client_addr": e.client_addr,
                 "details": json.dumps(json.loads(e.details), ensure_ascii=False)[:300]} for e in result.items]
        if policy.allowed(me, "audit.verify"):
            verify = audit_log.verify(s, me, get_vault())
    pages = max(1, -(-result.total // per_page))
    return render_template("pages/audit.html", rows=rows, total=result.total, page=page, pages=pages,
                           filters=filters, errors=errors, verify=verify)
