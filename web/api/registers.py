"""The archive's ledgers (台帐) and periodic reports (统计报表) as downloads: CSV, XLSX, PDF."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import IO

from flask import Response, jsonify, request

from vault.services import exports, ledgers, periodic_reports
from web.api import bp
from web.deps import actor, get_vault, unit_of_work
from web.openapi import ENUM, Op, S, _err, _json, _q, register
from web.pages.i18n import current_lang

_SPOOL = 8 * 1024 * 1024  # larger files go to a temporary file on disk, never all in memory


def _stream(fh: IO[bytes]) -> Iterator[bytes]:
    try:
        fh.seek(0)
        while chunk := fh.read(256 * 1024):
            yield chunk
    finally:
        fh.close()  # read to the end; a response closed before that closes the file through call_on_close


def file_response(fh: IO[bytes], mime: str, filename: str) -> Response:
    """Stream a finished export file as a download; the file is closed when the response is, read or not."""
    resp = Response(_stream(fh), mimetype=mime.split(";")[0])
    resp.call_on_close(fh.close)
    if "charset" in mime:
        resp.headers["Content-Type"] = mime
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


@bp.get("/ledgers/<name>")
def ledger_export(name: str) -> Response:
    v = get_vault()
    fh = tempfile.SpooledTemporaryFile(max_size=_SPOOL)  # noqa: SIM115 - closed by the streaming response
    try:
        with unit_of_work() as session:
            result = ledgers.export(v, session, actor(), name, request.args.get("format", "csv"), request.args,
                                    fh, current_lang())
    except BaseException:
        fh.close()
        raise
    resp = file_response(fh, exports.MIME[result.fmt], result.filename)
    resp.headers["X-Rows"] = str(result.rows)
    return resp


@bp.get("/reports/periodic")
def periodic_report() -> Response:
    v = get_vault()
    fh = tempfile.SpooledTemporaryFile(max_size=_SPOOL)  # noqa: SIM115 - closed by the streaming response
    try:
        with unit_of_work() as session:
            period, fmt = periodic_reports.download(v, session, actor(), request.args.get("period"),
                                                    request.args.get("format", "pdf"), fh, current_lang())
    except BaseException:
        fh.close()
        raise
    if fmt == "json":
        fh.seek(0)
        data = fh.read()
        fh.close()
        return Response(data, mimetype="application/json")
    return file_response(fh, exports.MIME[fmt], f"report-{period.name}.{fmt}")


@bp.get("/reports/periodic/generated")
def periodic_generated() -> Response:
    with unit_of_work() as session:
        items = periodic_reports.generated_periods(session, actor())
    return jsonify({"items": items})


_BINARY = {m.split(";")[0]: {"schema": {"type": "string", "format": "binary"}} for m in exports.MIME.values()}
_FILE = {"description": "the file", "content": _BINARY}
_FILTERS = [_q("industry"), _q("region"), _q("grade", ENUM("A", "B", "C", "D")),
            _q("owner", description="username"), _q("status", description="the ledger's own states"),
            _q("period", {"type": "string", "pattern": r"^\d{4}(-\d{2}|-[Qq][1-4])?$"},
               "2026, 2026-11 or 2026-Q3"),
            _q("actor", description="audit extract: user"), _q("action", description="audit extract: e.g. document.*")]
_OPERATIONS: list[tuple[str, str, Op]] = [
    ("get", "/api/v1/ledgers/{name}", {
        "summary": "A ledger (台帐) as CSV, XLSX or PDF (archivist, manager, legal; the audit extract: manager, "
                   "legal): customers (客户一览表), checkouts (借阅登记表), destructions (销毁清册), audit",
        "parameters": [{"name": "name", "in": "path", "required": True,
                        "schema": {"type": "string", "enum": [*ledgers.LEDGERS, "receipts"]}},
                       _q("format", ENUM(*exports.FORMATS)), *_FILTERS],
        "responses": {"200": _FILE, **_err(401, 403, 404, 422)}}),
    ("get", "/api/v1/reports/periodic", {
        "summary": "The periodic report (统计报表) of a month or quarter as PDF with charts, XLSX or JSON "
                   "(manager, archivist)",
        "parameters": [{"name": "period", "in": "query", "required": True, "description": "2026-11 or 2026-Q3",
                        "schema": {"type": "string", "pattern": r"^\d{4}-(\d{2}|[Qq][1-4])$"}},
                       _q("format", ENUM(*periodic_reports.FORMATS))],
        "responses": {"200": {"description": "the file, or the figures as JSON",
                              "content": {**_BINARY, **_json()["content"]}},
                      **_err(401, 403, 422)}}),
    ("get", "/api/v1/reports/periodic/generated", {
        "summary": "The periodic reports the worker has generated, newest first: {items: [{period, generated_at}]}",
        "responses": {"200": _json({"type": "object", "properties": {"items": {"type": "array", "items": {
            "type": "object", "properties": {"period": S, "generated_at": S}}}}}), **_err(401, 403)}}),
]
for _method, _p, _op in _OPERATIONS:
    register(_method, _p, _op)
