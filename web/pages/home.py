"""Home per role: what each kind of user needs to see first."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from vault import policy
from vault.models import Role
from vault.services import checkouts, documents, holds, reports, retention
from web.deps import actor, get_vault, unit_of_work
from web.pages.charts import bar_chart
from web.pages.common import DOC_TYPES, checkout_rows, label
from web.pages.destructions import awaiting_approval
from web.serialize import documents_json, dossiers_json

bp = Blueprint("home", __name__)


def _checkouts(v: Any, s: Any, me: Any, *, mine_to_decide: bool = False, **filters: Any) -> list[dict[str, Any]]:
    """Checkouts for a card; `mine_to_decide`: only those this person may approve (their role, not their own)."""
    page = checkouts.list_checkouts(v, s, me, filters, 1, 50 if mine_to_decide else 20)
    items = [c for c in page.items if not mine_to_decide or policy.checkout_actions(me, c).may_decide]
    return checkout_rows(v, items[:20])


@bp.get("/")
def index() -> ResponseReturnValue:
    v = get_vault()
    me = actor()
    ctx: dict[str, Any] = {"role": me.role.value}
    with unit_of_work() as s:
        if me.role is Role.ARCHIVIST:
            ctx["queue"] = documents_json(v, documents.upload_queue(s, me))
            ctx["pending"] = _checkouts(v, s, me, status="pending", mine_to_decide=True)
            ctx["overdue"] = _checkouts(v, s, me, status="overdue")
            ctx["handover"] = _checkouts(v, s, me, status="approved")
            listed = retention.list_due(v, s, me)[:20]
            ctx["due"] = [{"document": row, "due_on": d.due_on, "held": bool(d.holds)}
                          for d, row in zip(listed, documents_json(v, [d.document for d in listed]), strict=True)]
        elif me.role is Role.EMPLOYEE:
            from vault.services import dossiers

            ctx["mine"] = dossiers_json(v, dossiers.list_dossiers(s, me, {"owner": me.username}, 1, 20).items)
            ctx["requests"] = _checkouts(v, s, me, mine="1")
            ctx["open"] = [c for c in ctx["requests"] if c["status"] in ("active", "overdue")]
        elif me.role is Role.LEGAL:
            ctx["batches"] = awaiting_approval(s, me)
            ctx["holds"] = holds.list_holds(s, me, active_only=True, page=1, per_page=20).items
            ctx["hold_rows"] = [{"id": h.id, "dossier_id": h.dossier_id, "document_id": h.document_id,
                                 "reason": h.reason, "placed_at": h.placed_at} for h in ctx["holds"]]
        elif me.role is Role.MANAGER:
            ctx["pending"] = _checkouts(v, s, me, status="pending", mine_to_decide=True)
            ctx["overdue"] = _checkouts(v, s, me, status="overdue")
            ctx["charts"] = _charts(v, s, me)
            ctx["batches"] = awaiting_approval(s, me)
        elif me.role is Role.ADMIN:
            ctx["can_verify"] = policy.allowed(me, "audit.verify")
    return render_template("pages/home.html", **ctx)


def _charts(v: Any, s: Any, me: Any) -> list[Any]:
    """The report summary as SVG bar charts."""
    summary = reports.summary(v, s, me)
    types, grades = summary["documents"]["by_type"], summary["dossiers"]["by_grade"]
    rows = [
        (_("Documents by type"), [(label(DOC_TYPES, t), types.get(t, 0)) for t in DOC_TYPES]),
        (_("Dossiers by grade"), [(g, grades.get(g, 0)) for g in ("A", "B", "C", "D")]),
        (_("Checkouts per month"), sorted(summary["checkouts"]["by_month"].items())[-6:]),
        (_("Overdue checkouts"), [(_("overdue"), len(summary["overdue"]))]),
    ]
    return [(title, bar_chart(title, data)) for title, data in rows]
