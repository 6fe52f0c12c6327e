"""Paper side endpoints: transfers into the archive (移交/接收), the receipt register, and a dossier's
printable sheets (contents list, cover, record sheet, separator)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, jsonify, request

from vault.paper_models import Transfer
from vault.services import paper_sheets, transfer_register, transfers
from vault.services.item_numbers import item_code
from web.api import bp, json_body, list_response
from web.deps import actor, get_vault, unit_of_work
from web.openapi import DOSSIER_FIELDS, ENUM, PAGING, Op, S, _body, _err, _json, _path, _q, register
from web.pages.i18n import current_lang
from web.serialize import iso


def transfer_json(t: Transfer, today: date) -> dict[str, Any]:
    """A transfer with its items (their states and documents once received)."""
    def who(user: Any) -> str | None:
        return None if user is None else user.username

    return {
        "id": t.id, "dossier_id": t.dossier_id, "archive_no": t.dossier.archive_no,
        "customer_name": t.dossier.customer_name, "status": t.display_status(today),
        "stored_status": t.status.value, "overdue": t.is_overdue(today), "note": t.note,
        "business_date": iso(t.business_date), "deadline": iso(t.deadline),
        "sender": who(t.sender), "sent_at": iso(t.sent_at),
        "checked_by": who(t.checked_by), "checked_at": iso(t.checked_at),
        "returned_by": who(t.returned_by), "returned_at": iso(t.returned_at), "missing": t.return_note,
        "received_by": who(t.received_by), "received_at": iso(t.received_at), "receipt_no": t.receipt_no,
        "sender_confirmed_at": iso(t.sender_confirmed_at),
        "items": [{"index": i.position, "title": i.title, "doc_type": i.doc_type.value, "doc_date": iso(i.doc_date),
                   "pages": i.pages, "original": i.original, "responsible": i.responsible, "remarks": i.remarks,
                   "state": None if i.state is None else i.state.value, "note": i.receive_note,
                   "document_id": i.document_id,
                   "item_no": None if i.document is None else i.document.item_no,
                   "item_code": None if i.document is None else item_code(t.dossier.archive_no, i.document.item_no)}
                  for i in t.items],
    }


def _today() -> date:
    return get_vault().clock.now().date()


@bp.post("/transfers")
def create_transfer() -> tuple[Response, int]:
    body = json_body()
    v = get_vault()
    with unit_of_work() as session:
        out = transfer_json(transfers.create_transfer(v, session, actor(), body), _today())
    return jsonify(out), 201


@bp.get("/transfers")
def list_transfers() -> Response:
    v = get_vault()
    today = _today()
    return list_response(lambda s, page, n: transfers.list_transfers(v, s, actor(), request.args, page, n),
                         lambda t: transfer_json(t, today))


@bp.get("/transfers/<int:transfer_id>")
def get_transfer(transfer_id: int) -> Response:
    with unit_of_work() as session:
        out = transfer_json(transfers.get_transfer(session, actor(), transfer_id), _today())
    return jsonify(out)


@bp.post("/transfers/<int:transfer_id>/check")
def check_transfer(transfer_id: int) -> Response:
    body = json_body()
    v = get_vault()
    with unit_of_work() as session:
        t = transfers.check_transfer(v, session, actor(), transfer_id, ok=body.get("ok"), missing=body.get("missing"))
        out = transfer_json(t, _today())
    return jsonify(out)


@bp.post("/transfers/<int:transfer_id>/resend")
def resend_transfer(transfer_id: int) -> Response:
    body = json_body()
    v = get_vault()
    with unit_of_work() as session:
        out = transfer_json(transfers.resend_transfer(v, session, actor(), transfer_id, body), _today())
    return jsonify(out)


@bp.post("/transfers/<int:transfer_id>/receive")
def receive_transfer(transfer_id: int) -> Response:
    body = json_body()
    v = get_vault()
    with unit_of_work() as session:
        out = transfer_json(transfers.receive_transfer(v, session, actor(), transfer_id, body), _today())
    return jsonify(out)


@bp.post("/transfers/<int:transfer_id>/confirm")
def confirm_transfer(transfer_id: int) -> Response:
    v = get_vault()
    with unit_of_work() as session:
        out = transfer_json(transfers.confirm_transfer(v, session, actor(), transfer_id), _today())
    return jsonify(out)


@bp.get("/receipts")
def list_receipts() -> Response:
    with unit_of_work() as session:
        rows = transfer_register.list_receipts(session, actor(), request.args)
        items = [transfer_json(t, _today()) for t in rows]
    return jsonify({"items": items, "total": len(items)})


def _sheet(dossier_id: int, sheet: str) -> Response:
    v = get_vault()
    lang = request.args.get("lang") or current_lang()
    doc_type = request.args.get("doc_type") or None
    with unit_of_work() as session:
        pdf = paper_sheets.render_sheet(v, session, actor(), dossier_id, sheet, lang=lang, doc_type=doc_type)
    resp = Response(pdf, mimetype="application/pdf")
    suffix = f"-{doc_type}" if doc_type else ""
    resp.headers["Content-Disposition"] = f'inline; filename="dossier-{dossier_id}-{sheet}{suffix}.pdf"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/dossiers/<int:dossier_id>/contents.pdf")
def contents_pdf(dossier_id: int) -> Response:
    return _sheet(dossier_id, "contents")


@bp.get("/dossiers/<int:dossier_id>/cover.pdf")
def cover_pdf(dossier_id: int) -> Response:
    return _sheet(dossier_id, "cover")


@bp.get("/dossiers/<int:dossier_id>/record-sheet.pdf")
def record_sheet_pdf(dossier_id: int) -> Response:
    return _sheet(dossier_id, "record-sheet")


@bp.get("/dossiers/<int:dossier_id>/separator.pdf")
def separator_pdf(dossier_id: int) -> Response:
    return _sheet(dossier_id, "separator")


# -- OpenAPI ---------------------------------------------------------------------------------------

_PDF = {"description": "PDF", "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}
_DATE = {"type": "string", "format": "date"}
_DOC_TYPE = ENUM("contract", "license", "credit_report", "correspondence", "id_proof", "invoice", "other")
_ITEM = {"type": "object", "required": ["title", "doc_type", "pages"], "properties": {
    "title": S, "doc_type": _DOC_TYPE, "doc_date": _DATE, "pages": {"type": "integer", "minimum": 1},
    "original": {"type": "boolean"}, "responsible": S, "remarks": S}}
_ITEMS = {"type": "array", "items": _ITEM, "minItems": 1}
_RECEIVED = {"type": "array", "items": {"type": "object", "required": ["index", "state"], "properties": {
    "index": {"type": "integer", "minimum": 1}, "state": ENUM("present", "missing", "differs"), "note": S}}}
_NEW_CUSTOMER = {"type": "object", "required": ["customer_name", "customer_type"], "properties": {
    **DOSSIER_FIELDS, "customer_kind": ENUM("organisation", "individual"), "id_number": S}}
_TR = "/api/v1/transfers"
_LANG = _q("lang", ENUM("zh", "en"), "sheet language; default: the caller's language")
_SHEET_ERRORS = _err(401, 404, 422)


def _sheet_op(summary: str, extra: list[dict[str, Any]] | None = None) -> Op:
    return {"summary": summary, "parameters": [_path("dossier_id"), _LANG, *(extra or [])],
            "responses": {"200": _PDF, **_SHEET_ERRORS}}


_OPERATIONS: list[tuple[str, str, Op]] = [
    ("post", _TR, {
        "summary": "Hand papers over to the archive (移交), any role, for a dossier it may see; 201 status sent",
        "description": "Give `dossier_id` for a dossier the archive has, or `customer` (its fields as for "
                       "POST /api/v1/dossiers) for a customer it has never seen: the dossier is opened with the "
                       "transfer, in one transaction (a refused transfer opens none); the owner defaults to the "
                       "sender. The deadline counts working days by the holiday calendar (/api/v1/calendar).",
        "requestBody": _body({"dossier_id": {"type": "integer"}, "customer": _NEW_CUSTOMER, "items": _ITEMS,
                              "note": S, "business_date": _DATE}, ["items"]),
        "responses": {"201": _json(), **_err(400, 401, 403, 404, 409, 422)}}),
    ("get", _TR, {"summary": "Transfers (archivist, manager, legal: all; others: their own and their dossiers')",
                  "parameters": [_q("status", ENUM("sent", "returned", "checked", "received", "overdue")),
                                 _q("dossier_id"), _q("mine", ENUM("1")), *PAGING],
                  "responses": {"200": _json(), **_err(401, 422)}}),
    ("get", _TR + "/{transfer_id}", {"summary": "One transfer with its items", "parameters": [_path("transfer_id")],
                                      "responses": {"200": _json(), **_err(401, 404)}}),
    ("post", _TR + "/{transfer_id}/check", {
        "summary": "A second person checks the list: ok, or send it back with what is missing",
        "parameters": [_path("transfer_id")],
        "requestBody": _body({"ok": {"type": "boolean"}, "missing": S}, ["ok"]),
        "responses": {"200": _json(), **_err(400, 401, 403, 404, 409, 422)}}),
    ("post", _TR + "/{transfer_id}/resend", {
        "summary": "The sender sends a returned transfer again, with the completed list",
        "parameters": [_path("transfer_id")], "requestBody": _body({"items": _ITEMS, "note": S}),
        "responses": {"200": _json(), **_err(400, 401, 403, 404, 409, 422)}}),
    ("post", _TR + "/{transfer_id}/receive", {
        "summary": "Receive item by item (archivist): registers the receipt; items become documents with item numbers",
        "parameters": [_path("transfer_id")], "requestBody": _body({"items": _RECEIVED}, ["items"]),
        "responses": {"200": _json(), **_err(400, 401, 403, 404, 409, 422)}}),
    ("post", _TR + "/{transfer_id}/confirm", {
        "summary": "The sender confirms the receipt as recorded", "parameters": [_path("transfer_id")],
        "responses": {"200": _json(), **_err(401, 403, 404, 409)}}),
    ("get", "/api/v1/receipts", {
        "summary": "The receipt register (接收登记) (archivist, manager, legal)",
        "parameters": [_q("since", _DATE), _q("until", _DATE), _q("dossier_id"), _q("received_by"), _q("sender")],
        "responses": {"200": _json(), **_err(401, 403, 422)}}),
    ("get", "/api/v1/dossiers/{dossier_id}/contents.pdf",
     _sheet_op("Contents list (卷内文件目录): item, responsible party, title, date, page range, remarks; QR code")),
    ("get", "/api/v1/dossiers/{dossier_id}/cover.pdf",
     _sheet_op("Cover (案卷封面): archive number, customer, dates, retention, secrecy, items, pages; QR code")),
    ("get", "/api/v1/dossiers/{dossier_id}/record-sheet.pdf",
     _sheet_op("Record sheet (备考表): items, pages, notes, filed and checked by; QR code")),
    ("get", "/api/v1/dossiers/{dossier_id}/separator.pdf",
     _sheet_op("Separator sheet with a QR code of the archive number (and of doc_type when given)",
               [_q("doc_type", _DOC_TYPE)])),
]
for _method, _p, _op in _OPERATIONS:
    register(_method, _p, _op)
