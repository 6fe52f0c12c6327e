"""Stock-take (盘点) pages: start one for a room or cabinet, scan cover codes or tick dossiers, close it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from vault import policy
from vault.errors import VaultError
from vault.intake_models import StocktakeStatus
from vault.services import stocktake as svc
from web.deps import actor, get_vault, unit_of_work
from web.pages.common import field_message

bp = Blueprint("stocktakes", __name__)

STATE_TITLES = {"present": _l("Present"), "missing": _l("Missing"), "checked_out": _l("Checked out"),
                "unexpected": _l("Unexpected (belongs elsewhere)")}


@bp.get("/stocktakes")
def list_page() -> ResponseReturnValue:
    with unit_of_work() as s:
        me = actor()
        rows = [{"id": st.id, "scope": st.scope, "status": st.status.value, "started_by": st.started_by.username,
                 "started_at": st.started_at, "closed_at": st.closed_at} for st in svc.list_stocktakes(s, me)]
    return render_template("pages/stocktakes.html", rows=rows, can_run=policy.allowed(me, "stocktake.run"))


@bp.post("/stocktakes")
def start() -> ResponseReturnValue:
    try:
        with unit_of_work() as s:
            st = svc.start(get_vault(), s, actor(), request.form.get("scope", ""))
            stocktake_id = st.id
    except VaultError as exc:
        flash(_("Stock-take not started: %(msg)s", msg=field_message(exc)), "error")
        return redirect(url_for("stocktakes.list_page"))
    return redirect(url_for("stocktakes.detail", stocktake_id=stocktake_id))


@bp.get("/stocktakes/<int:stocktake_id>")
def detail(stocktake_id: int) -> ResponseReturnValue:
    with unit_of_work() as s:
        me = actor()
        result = svc.result(s, me, svc.get(s, me, stocktake_id))
    return render_template("pages/stocktake.html", r=result, titles=STATE_TITLES,
                           can_run=policy.allowed(me, "stocktake.run") and result["status"] == StocktakeStatus.OPEN)


def _said_mark(out: dict[str, Any]) -> None:
    if out["already"]:
        flash(_("%(archive_no)s was marked present already.", archive_no=out["archive_no"]), "success")
    elif out["state"] == "unexpected":
        flash(_("%(archive_no)s belongs elsewhere (%(location)s): listed as unexpected.",
                archive_no=out["archive_no"], location=out["location"] or "—"), "error")
    else:
        flash(_("%(archive_no)s present.", archive_no=out["archive_no"]), "success")


@bp.post("/stocktakes/<int:stocktake_id>/marks")
def mark(stocktake_id: int) -> ResponseReturnValue:
    raw_id = (request.form.get("dossier_id") or "").strip()
    try:
        with unit_of_work() as s:
            out = svc.mark(get_vault(), s, actor(), stocktake_id, code=request.form.get("code") if not raw_id else None,
                           dossier_id=int(raw_id) if raw_id.isdigit() and len(raw_id) < 19 else None)
    except VaultError as exc:
        flash(_("Not marked: %(msg)s", msg=field_message(exc)), "error")
    else:
        _said_mark(out)
    return redirect(url_for("stocktakes.detail", stocktake_id=stocktake_id) + "#scan")


@bp.post("/stocktakes/<int:stocktake_id>/close")
def close(stocktake_id: int) -> ResponseReturnValue:
    try:
        with unit_of_work() as s:
            svc.close(get_vault(), s, actor(), stocktake_id)
    except VaultError as exc:
        flash(_("Not closed: %(msg)s", msg=field_message(exc)), "error")
    else:
        flash(_("Stock-take %(id)s closed; its result is kept.", id=stocktake_id), "success")
    return redirect(url_for("stocktakes.detail", stocktake_id=stocktake_id))


def nav_entry() -> tuple[str, str, Any]:
    return ("stocktakes.list_page", "/stocktakes", _l("Stock-takes"))
