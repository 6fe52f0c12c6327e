"""Dossier endpoints."""

from __future__ import annotations

from flask import Response, jsonify, make_response, request

from vault.services import cards, common, dossiers
from web.api import bp, json_body, query_paging
from web.deps import actor, get_vault, unit_of_work
from web.serialize import dossier_json, dossiers_workflow_json, page_json


@bp.post("/dossiers")
def create_dossier() -> tuple[Response, int]:
    body = json_body()
    v = get_vault()
    with unit_of_work() as session:
        dossier = cards.create_customer(v, session, actor(), body)
        out = dossier_json(v, dossier, with_documents=True)
    return jsonify(out), 201


@bp.get("/dossiers")
def list_dossiers() -> Response:
    v = get_vault()
    page, per_page = query_paging()
    with unit_of_work() as session:
        result = dossiers.list_dossiers(session, actor(), request.args, page, per_page, v=v)
        workflow = dossiers_workflow_json(result.items)
        items = [dossier_json(v, d, workflow=workflow[d.id]) for d in result.items]
    return jsonify(page_json(items, result.total, page, per_page))


@bp.get("/dossiers/<int:dossier_id>")
def get_dossier(dossier_id: int) -> Response:
    v = get_vault()
    with unit_of_work() as session:
        out = dossier_json(v, common.get_dossier(session, actor(), dossier_id), with_documents=True)
    return jsonify(out)


@bp.patch("/dossiers/<int:dossier_id>")
def update_dossier(dossier_id: int) -> Response:
    body = json_body()
    v = get_vault()
    with unit_of_work() as session:
        edit = dossiers.edit_dossier(v, session, actor(), dossier_id, body)
        out = dossier_json(v, edit.dossier, with_documents=True)
        if edit.owner_change_id is not None:  # the new owner waits for a manager's approval: 202, not applied
            out["owner_change"] = {"id": edit.owner_change_id, "status": "pending", "to_owner": body.get("owner")}
    return make_response(jsonify(out), 200 if edit.owner_change_id is None else 202)
