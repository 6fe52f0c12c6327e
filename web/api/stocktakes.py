"""Stock-take (盘点) endpoints: start, mark dossiers present by tick or scanned code, close, read the result."""

from __future__ import annotations

from flask import Response, jsonify

from vault.services import stocktake as svc
from web.api import bp, json_body
from web.deps import actor, get_vault, unit_of_work
from web.openapi import S, _body, _err, _json, _path, register


def _created(out: dict[str, object]) -> Response:
    resp = jsonify(out)
    resp.status_code = 201
    return resp


@bp.post("/stocktakes")
def start_stocktake() -> Response:
    data = json_body()
    with unit_of_work() as session:
        st = svc.start(get_vault(), session, actor(), data.get("scope"))
        out = svc.result(session, actor(), st)
    return _created(out)


@bp.get("/stocktakes")
def list_stocktakes() -> Response:
    with unit_of_work() as session:
        items = [{"id": st.id, "scope": st.scope, "status": st.status.value, "started_at": st.started_at.isoformat(),
                  "started_by": st.started_by.username,
                  "closed_at": st.closed_at.isoformat() if st.closed_at else None}
                 for st in svc.list_stocktakes(session, actor())]
    return jsonify({"items": items})


@bp.get("/stocktakes/<int:stocktake_id>")
def get_stocktake(stocktake_id: int) -> Response:
    with unit_of_work() as session:
        return jsonify(svc.result(session, actor(), svc.get(session, actor(), stocktake_id)))


@bp.post("/stocktakes/<int:stocktake_id>/marks")
def mark_present(stocktake_id: int) -> Response:
    data = json_body()
    with unit_of_work() as session:
        out = svc.mark(get_vault(), session, actor(), stocktake_id, code=data.get("code"),
                       dossier_id=data.get("dossier_id"))
    return _created(out)


@bp.delete("/stocktakes/<int:stocktake_id>/marks/<int:dossier_id>")
def unmark(stocktake_id: int, dossier_id: int) -> Response:
    """Take back a tick given by mistake."""
    with unit_of_work() as session:
        svc.unmark(get_vault(), session, actor(), stocktake_id, dossier_id)
        return jsonify(svc.result(session, actor(), svc.get(session, actor(), stocktake_id)))


@bp.post("/stocktakes/<int:stocktake_id>/close")
def close_stocktake(stocktake_id: int) -> Response:
    with unit_of_work() as session:
        st = svc.close(get_vault(), session, actor(), stocktake_id)
        return jsonify(svc.result(session, actor(), st))


_RESULT = ("present, missing, checked_out (with checked_out_to) and unexpected lists and their counts; dossiers above "
           "the caller's clearance are neither listed nor counted")
register("post", "/api/v1/stocktakes", {
    "summary": "Start a stock-take (archivist) of a location prefix (room, cabinet) or, with no scope, the whole "
               "archive; 201 with the live result", "requestBody": _body({"scope": S}),
    "responses": {"201": _json(), **_err(400, 401, 403, 422)}})
register("get", "/api/v1/stocktakes", {
    "summary": "Stock-takes, newest first (archivist, manager, legal)",
    "responses": {"200": _json(), **_err(401, 403)}})
register("get", "/api/v1/stocktakes/{stocktake_id}", {
    "summary": "A stock-take's result: " + _RESULT, "parameters": [_path("stocktake_id")],
    "responses": {"200": _json(), **_err(401, 403, 404)}})
register("post", "/api/v1/stocktakes/{stocktake_id}/marks", {
    "summary": "Mark a dossier present: a scanned cover code (DVA1:<archive_no>) or a bare archive number as code, "
               "or a tick as dossier_id; answers present or unexpected (belongs elsewhere); an unknown code is a 404 "
               "stocktake_unknown_code; 409 once closed",
    "parameters": [_path("stocktake_id")],
    "requestBody": _body({"code": S, "dossier_id": {"type": "integer", "format": "int64"}}),
    "responses": {"201": _json(), **_err(400, 401, 403, 404, 409, 422)}})
register("delete", "/api/v1/stocktakes/{stocktake_id}/marks/{dossier_id}", {
    "summary": "Take back a dossier marked present by mistake (archivist); 409 once closed",
    "parameters": [_path("stocktake_id"), _path("dossier_id")],
    "responses": {"200": _json(), **_err(401, 403, 404, 409)}})
register("post", "/api/v1/stocktakes/{stocktake_id}/close", {
    "summary": "Close the stock-take and keep its result as the record (archivist); 409 if closed already",
    "parameters": [_path("stocktake_id")], "responses": {"200": _json(), **_err(401, 403, 404, 409)}})
