"""The audit log viewer: filters, paging and the chain's verify status."""

from __future__ import annotations

import json

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from vault import policy
from vault.errors import Invalid, NotFound
from vault.models import Dossier, User
from vault.services import audit_log
from vault.services.common import resolve_archive_no
from web.deps import actor, get_vault, unit_of_work
from web.pages.common import field_message, page_args

bp = Blueprint("audit", __name__)
FILTERS = ("archive_no", "document_id", "actor", "action", "since")


@bp.get("/audit")
def list_page() -> ResponseReturnValue:
    me = actor()
    policy.require(me, "audit.list")
    page, per_page = page_args(50)
    filters = {k: request.args.get(k, "").strip() for k in FILTERS}
    filters["archive_no"] = filters["archive_no"] or request.args.get("dossier_id", "").strip()  # older links
    errors: dict[str, str] = {}
    verify = None
    with unit_of_work() as s:
        try:
            wanted = {k: v for k, v in filters.items() if v and k != "archive_no"}
            if filters["archive_no"]:
                wanted["dossier_id"] = str(resolve_archive_no(s, me, filters["archive_no"]).id)
            result = audit_log.list_events(s, me, wanted, page, per_page)
        except (Invalid, NotFound) as exc:
            errors[getattr(exc, "field", "archive_no")] = field_message(exc)
            result = audit_log.list_events(s, me, {}, page, per_page)
        named = _dossier_names(s, me, {e.dossier_id for e in result.items if e.dossier_id})
        rows = [{"seq": e.seq, "at": e.at, "actor": e.actor_name, "action": e.action, "dossier_id": e.dossier_id,
                 "dossier": named.get(e.dossier_id), "document_id": e.document_id, "client_addr": e.client_addr,
                 "details": json.dumps(json.loads(e.details), ensure_ascii=False)[:300]} for e in result.items]
        if policy.allowed(me, "audit.verify"):
            verify = audit_log.verify(s, me, get_vault())
    pages = max(1, -(-result.total // per_page))
    return render_template("pages/audit.html", rows=rows, total=result.total, page=page, pages=pages,
                           filters=filters, errors=errors, verify=verify)


def _dossier_names(session: Session, me: User, ids: set[int]) -> dict[int, dict[str, str]]:
    """Archive number and customer of each dossier the reader may see (others keep their bare id)."""
    if not ids:
        return {}
    found = session.scalars(select(Dossier).where(Dossier.id.in_(ids))).all()
    return {d.id: {"archive_no": d.archive_no, "customer_name": d.customer_name}
            for d in found if policy.can_see(me, d)}
