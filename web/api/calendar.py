"""The holiday calendar: public holidays and make-up working days (调休) that working-day deadlines follow."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from vault.paper_models import CalendarDay
from vault.services import workdays
from web.api import bp, json_body
from web.deps import actor, get_vault, unit_of_work
from web.openapi import ENUM, S, _body, _err, _json, _q, register


def day_json(d: CalendarDay) -> dict[str, Any]:
    return {"date": d.day.isoformat(), "day_type": "workday" if d.working else "holiday", "name": d.name}


@bp.get("/calendar")
def get_calendar() -> Response:
    v = get_vault()
    year = request.args.get("year") or v.clock.now().year
    with unit_of_work() as session:
        days = [day_json(d) for d in workdays.list_days(session, year)]
    out = {"year": int(year), "days": days}
    return jsonify(out)


@bp.post("/calendar")
def set_calendar() -> Response:
    body = json_body()
    v = get_vault()
    with unit_of_work() as session:
        days = workdays.set_days(v, session, actor(), body.get("entries"))
    return jsonify({"changed": len(days)})


_DATE = {"type": "string", "format": "date"}
_ENTRY = {"type": "object", "required": ["day_type"], "properties": {
    "date": _DATE, "from": _DATE, "to": _DATE, "day_type": ENUM(*workdays.DAY_TYPES), "name": S}}
register("get", "/api/v1/calendar", {
    "summary": "The year's listed days: public holidays and make-up working days (调休); other days follow "
               "their weekday (Monday to Friday work)",
    "parameters": [_q("year", {"type": "integer", "minimum": 1900, "maximum": 2999}, "default: this year")],
    "responses": {"200": _json(), **_err(401, 422)}})
register("post", "/api/v1/calendar", {
    "summary": "List days as holiday, workday (a make-up working day) or normal again (administrators); "
               "each entry a date or a from/to range; validated whole, audited",
    "requestBody": _body({"entries": {"type": "array", "items": _ENTRY, "minItems": 1}}, ["entries"]),
    "responses": {"200": _json(), **_err(400, 401, 403, 422)}})
