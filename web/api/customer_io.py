"""Customer import (dry run, then the real run) and export as CSV/XLSX (issue 12)."""

from __future__ import annotations

import tempfile
from typing import Any

from flask import Response, jsonify, request

from vault.errors import Invalid, TooLarge
from vault.services import customer_export, customer_import, relationship_io
from vault.services.customer_import import ImportReport
from vault.services.sheet_reader import MAX_BYTES, MiB
from web import errors as web_errors  # by module: web.errors imports the pages, which import this package
from web.api import bp
from web.api.documents import MULTIPART_OVERHEAD
from web.api.registers import file_response
from web.deps import actor, get_vault, unit_of_work
from web.multipart import StreamingForm
from web.openapi import ENUM, S, _err, _json, _q, register
from web.pages.i18n import current_lang

_SPOOL = 8 * 1024 * 1024


def parse_dry_run(raw: str | None) -> bool:
    """`dry_run` as a form or query value: true/false (1/0, yes/no); 422 for anything else."""
    value = (raw or "false").strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise Invalid("dry_run", "{field} must be true or false")


def _too_large() -> TooLarge:
    return TooLarge("the file is larger than the limit of {limit_mib} MiB; split it and import the parts one by one",
                    params={"limit_mib": MAX_BYTES // MiB}, limit=MAX_BYTES)


def _receive() -> tuple[str, bytes, dict[str, str]]:
    """The multipart part `file` (at most MAX_BYTES) and the form's other fields."""
    if request.content_length is not None and request.content_length > MAX_BYTES + MULTIPART_OVERHEAD:
        raise _too_large()
    form = StreamingForm(request.stream, request.content_type)
    part = form.next_file()
    if part is None or part.name != "file":
        raise Invalid("file", "attach the spreadsheet (CSV or XLSX) as the multipart part named 'file'",
                      code="file_missing")
    buf = bytearray()
    for chunk in part.chunks:
        buf.extend(chunk)
        if len(buf) > MAX_BYTES:
            raise _too_large()
    fields = form.finish()
    return part.filename or "customers.csv", bytes(buf), fields


def report_json(report: ImportReport, lang: str) -> dict[str, Any]:
    """The import report as API-next.md fixes it, refusals' reasons in ``lang``."""
    rows: list[dict[str, Any]] = []
    for r in report.rows:
        item: dict[str, Any] = {"row": r.row, "action": r.action}
        if r.template is not None:
            item["reason"] = web_errors.translate(r.template, r.params, lang)
            item["field"] = r.field
        if r.dossier_id is not None:
            item["dossier_id"] = r.dossier_id
        rows.append(item)
    return {"rows": rows, "created": report.count("create"), "updated": report.count("update"),
            "refused": report.count("refuse"), "dry_run": report.dry_run}


@bp.post("/imports/customers", defaults={"sheet": "customers"})  # literal paths, each documented on its own
@bp.post("/imports/contacts", defaults={"sheet": "contacts"})
@bp.post("/imports/records", defaults={"sheet": "records"})
def import_file(sheet: str) -> Response:
    v = get_vault()
    with unit_of_work() as session:
        me = actor()
        customer_import.import_customers_allowed(me)
        filename, data, fields = _receive()
        dry_run = parse_dry_run(fields.get("dry_run", request.args.get("dry_run")))
        report = relationship_io.import_file(v, session, me, sheet, filename, data, dry_run=dry_run)
    return jsonify(report_json(report, web_errors.api_lang()))


@bp.get("/exports/contacts", defaults={"sheet": "contacts"})
@bp.get("/exports/records", defaults={"sheet": "records"})
def export_relationship(sheet: str) -> Response:
    v = get_vault()
    fh = tempfile.SpooledTemporaryFile(max_size=_SPOOL)  # noqa: SIM115 - closed by the streaming response
    try:
        with unit_of_work() as session:
            fmt = request.args.get("format", "csv")
            rows, filename = relationship_io.export_sheet(v, session, actor(), sheet, fmt, request.args, fh,
                                                          current_lang())
    except BaseException:
        fh.close()
        raise
    resp = file_response(fh, customer_export.MIME[fmt], filename)
    resp.headers["X-Rows"] = str(rows)
    return resp


@bp.get("/exports/customers")
def export_customers() -> Response:
    v = get_vault()
    fh = tempfile.SpooledTemporaryFile(max_size=_SPOOL)  # noqa: SIM115 - closed by the streaming response
    try:
        with unit_of_work() as session:
            result = customer_export.export_customers(v, session, actor(), request.args.get("format", "csv"),
                                                      request.args, fh, current_lang())
    except BaseException:
        fh.close()
        raise
    resp = file_response(fh, customer_export.MIME[result.fmt], result.filename)
    resp.headers["X-Rows"] = str(result.rows)
    return resp


_ROW = {"type": "object", "properties": {"row": {"type": "integer"}, "action": ENUM("create", "update", "refuse"),
                                         "reason": S, "field": S, "dossier_id": {"type": "integer"}}}
register("post", "/api/v1/imports/customers", {
    "summary": "Import customers from a CSV or XLSX customer ledger (客户一览表 with card fields; archivist): per "
               "row create, update (found by credit code / ID number) or refuse with the field and why; "
               "dry_run=true writes nothing",
    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary"}, "dry_run": ENUM("true", "false")}}}}},
    "responses": {"200": _json({"type": "object", "properties": {
        "rows": {"type": "array", "items": _ROW}, "created": {"type": "integer"},
        "updated": {"type": "integer"}, "refused": {"type": "integer"}, "dry_run": {"type": "boolean"}}}),
        **_err(400, 401, 403, 413, 422)}})
_REPORT = {"type": "object", "properties": {
    "rows": {"type": "array", "items": _ROW}, "created": {"type": "integer"},
    "updated": {"type": "integer"}, "refused": {"type": "integer"}, "dry_run": {"type": "boolean"}}}
for _sheet, _what in (("contacts", "contacts (联系人; one per name and customer: met again, updated)"),
                      ("records", "records of contact (往来记录; one per customer, kind, time and summary: met "
                                  "again, left as it is)")):
    register("post", f"/api/v1/imports/{_sheet}", {
        "summary": f"Import {_what} from CSV or XLSX (archivist); each row names its customer by credit code or "
                   "ID number; per row create, update or refuse with the field and why; dry_run=true writes nothing",
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary"}, "dry_run": ENUM("true", "false")}}}}},
        "responses": {"200": _json(_REPORT), **_err(400, 401, 403, 413, 422)}})
    register("get", f"/api/v1/exports/{_sheet}", {
        "summary": f"The {_sheet} of the customers you may see as CSV or XLSX (the import's columns), filtered like "
                   "the dossier list; masked unless you may read the dossier's content; formula cells neutralised",
        "parameters": [_q("format", ENUM(*customer_export.FORMATS)), _q("q"), _q("grade", ENUM("A", "B", "C", "D")),
                       _q("owner", description="username")],
        "responses": {"200": {"description": "the file", "content": {
            "text/csv": {"schema": {"type": "string", "format": "binary"}},
            customer_export.MIME["xlsx"]: {"schema": {"type": "string", "format": "binary"}}}},
            **_err(401, 422)}})
register("get", "/api/v1/exports/customers", {
    "summary": "The customers you may see as CSV or XLSX, filtered like the dossier list; sensitive fields masked "
               "unless you may read the dossier's content; formula cells neutralised",
    "parameters": [_q("format", ENUM(*customer_export.FORMATS)), _q("q"), _q("grade", ENUM("A", "B", "C", "D")),
                   _q("customer_type", ENUM("supplier", "client", "partner")),
                   _q("status", ENUM("active", "closed", "destroyed")), _q("owner", description="username"),
                   _q("secrecy", ENUM("public", "internal", "confidential", "secret"))],
    "responses": {"200": {"description": "the file", "content": {
        "text/csv": {"schema": {"type": "string", "format": "binary"}},
        customer_export.MIME["xlsx"]: {"schema": {"type": "string", "format": "binary"}}}},
        **_err(401, 422)}})
