"""The ledgers page (台帐: filters and downloads) and the periodic reports page (统计报表: periods)."""

from __future__ import annotations

import tempfile
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from vault import policy
from vault.errors import Invalid
from vault.models import CheckoutStatus, DestructionStatus, DossierStatus
from vault.services import exports, ledgers, periodic_reports
from vault.services.periods import Period, month_of, previous, quarter_of
from web.api.registers import file_response
from web.deps import actor, get_vault, unit_of_work
from web.pages.common import field_message
from web.pages.i18n import current_lang

bp = Blueprint("registers", __name__)
FILTERS = ("industry", "region", "grade", "owner", "status", "period")
LEDGER_NAMES = {"customers": _l("Customer ledger (客户一览表)"), "checkouts": _l("Checkout register (借阅登记表)"),
                "destructions": _l("Destruction register (销毁清册)"), "receipts": _l("Receipt register (接收登记)"),
                "audit": _l("Audit extract")}
STATUSES = {"active": _l("active"), "closed": _l("closed"), "destroyed": _l("destroyed"),
            "pending": _l("pending"), "approved": _l("approved"), "rejected": _l("rejected"),
            "returned": _l("returned"), "overdue": _l("overdue"), "proposed": _l("proposed"),
            "executed": _l("executed")}
_ALL_STATUSES = tuple(dict.fromkeys([s.value for s in DossierStatus] + [s.value for s in CheckoutStatus]
                                    + ["overdue"] + [s.value for s in DestructionStatus]))


def _available(me: Any) -> list[ledgers.Ledger]:
    return [led for led in ledgers.LEDGERS.values()
            if policy.allowed(me, led.action) and (led.name != "audit" or policy.allowed(me, "audit.list"))]


@bp.get("/ledgers")
def ledgers_page() -> ResponseReturnValue:
    me = actor()
    policy.require(me, "ledger.view")
    filters = {k: request.args.get(k, "").strip() for k in FILTERS}
    errors: dict[str, str] = {}
    try:
        ledgers.parse_filters(filters, _ALL_STATUSES)
    except Invalid as exc:
        errors[exc.field] = field_message(exc)
    rows = []
    for led in _available(me):
        wanted: dict[str, Any] = {k: v for k, v in filters.items() if v and (k != "status" or v in led.statuses)}
        rows.append({"name": led.name, "label": LEDGER_NAMES.get(led.name, led.name),
                     "links": [(fmt, url_for("registers.ledger_download", name=led.name, format=fmt, **wanted))
                               for fmt in exports.FORMATS]})
    return render_template("pages/ledgers.html", rows=[] if errors else rows, filters=filters, errors=errors,
                           statuses=_ALL_STATUSES, status_labels=STATUSES)


@bp.get("/ledgers/<name>/download")
def ledger_download(name: str) -> ResponseReturnValue:
    me = actor()
    fh = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - closed by the response
    try:
        with unit_of_work() as s:
            result = ledgers.export(get_vault(), s, me, name, request.args.get("format", "csv"), request.args, fh,
                                    current_lang())
    except Invalid as exc:
        fh.close()
        flash(field_message(exc), "error")
        back: dict[str, Any] = {k: v for k, v in request.args.items() if k in FILTERS}
        return redirect(url_for("registers.ledgers_page", **back))
    except BaseException:
        fh.close()
        raise
    return file_response(fh, exports.MIME[result.fmt], result.filename)


def recent_periods(now: Any, months: int = 12, quarters: int = 4) -> list[Period]:
    """The months and quarters that have begun, newest first: the current ones and those before them."""
    out: list[Period] = []
    month, quarter = month_of(now), quarter_of(now)
    for _ in range(months):
        out.append(month)
        month = previous(month)
    for _ in range(quarters):
        out.append(quarter)
        quarter = previous(quarter)
    return out


@bp.get("/reports")
def reports_page() -> ResponseReturnValue:
    me = actor()
    policy.require(me, "report.periodic")
    now = get_vault().clock.now()
    with unit_of_work() as s:
        generated = {g["period"]: g["generated_at"] for g in periodic_reports.generated_periods(s, me)}
    periods = recent_periods(now)
    names = {p.name for p in periods}
    rows = [{"name": p.name, "kind": p.kind, "start": p.start.date(), "end": p.last_day,
             "generated_at": generated.get(p.name), "open": p.end > now} for p in periods]
    rows += [{"name": name, "kind": "quarter" if "Q" in name else "month", "start": None, "end": None,
              "generated_at": at, "open": False} for name, at in generated.items() if name not in names]
    return render_template("pages/reports.html", months=[r for r in rows if r["kind"] == "month"],
                           quarters=[r for r in rows if r["kind"] == "quarter"])


@bp.get("/reports/download")
def report_download() -> ResponseReturnValue:
    me = actor()
    fh = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - closed by the response
    fmt = request.args.get("format", "pdf")
    try:
        if fmt not in ("pdf", "xlsx"):
            raise Invalid("format", "{field} must be one of: {allowed}", params={"allowed": "pdf, xlsx"})
        with unit_of_work() as s:
            period, fmt = periodic_reports.download(get_vault(), s, me, request.args.get("period"), fmt, fh,
                                                    current_lang())
    except Invalid as exc:
        fh.close()
        flash(field_message(exc), "error")
        return redirect(url_for("registers.reports_page"))
    except BaseException:
        fh.close()
        raise
    return file_response(fh, exports.MIME[fmt], f"report-{period.name}.{fmt}")
