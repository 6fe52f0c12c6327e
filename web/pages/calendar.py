"""The holiday calendar page: the year's public holidays and make-up working days (调休), and for
administrators a form that lists a day or a range as holiday, working day or normal again."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from vault import policy
from vault.errors import Invalid
from vault.services import workdays
from web.deps import actor, get_vault, unit_of_work
from web.pages.common import field_message

bp = Blueprint("calendar", __name__)
DAY_TYPES = {"holiday": _l("holiday"), "workday": _l("make-up working day"), "normal": _l("normal (by weekday)")}
FIELDS = ("from", "to", "day_type", "name")


def nav_entry() -> tuple[str, str, Any]:
    return ("calendar.calendar_page", "/admin/calendar", _l("Holiday calendar"))


@bp.route("/admin/calendar", methods=["GET", "POST"])
def calendar_page() -> ResponseReturnValue:
    v = get_vault()
    me = actor()
    raw_year = request.args.get("year", "")
    year = int(raw_year) if raw_year.isdigit() and 1900 <= int(raw_year) <= 2999 else v.clock.now().year
    form = {"from": "", "to": "", "day_type": "holiday", "name": ""}
    errors: dict[str, str] = {}
    if request.method == "POST":
        policy.require(me, "calendar.edit")
        form = {k: request.form.get(k, "").strip() for k in FIELDS}
        entry: dict[str, Any] = {"day_type": form["day_type"], "name": form["name"]}
        if form["to"] and form["to"] != form["from"]:
            entry.update({"from": form["from"], "to": form["to"]})
        else:
            entry["date"] = form["from"]
        try:
            with unit_of_work() as s:
                changed = workdays.set_days(v, s, me, [entry])
        except Invalid as exc:
            errors["from" if exc.field == "date" else exc.field if exc.field in FIELDS else "from"] = \
                field_message(exc)
        else:
            flash(_("%(count)s day(s) set.", count=len(changed)), "success")
            return redirect(url_for("calendar.calendar_page", year=changed[0].year))
    with unit_of_work() as s:
        rows = [{"date": d.day, "day_type": "workday" if d.working else "holiday", "name": d.name}
                for d in workdays.list_days(s, year)]
    this_year = v.clock.now().year  # links to last, this and next year only (other years by ?year=)
    return render_template("pages/calendar.html", rows=rows, year=year, form=form, errors=errors,
                           years=range(this_year - 1, this_year + 2),
                           DT=DAY_TYPES, can_edit=policy.allowed(me, "calendar.edit")), 422 if errors else 200
