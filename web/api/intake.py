"""Scanning intake endpoints: a stack upload, its status, and the unfiled inbox (archivists)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Response, jsonify, request, stream_with_context

from indexer import intake as runner
from vault.errors import Invalid, TooLarge
from vault.services import intake
from vault.services.common import resolve_archive_no
from web import errors as web_errors  # by module: web.errors imports the pages, which import this package
from web.api import bp, json_body
from web.api.documents import MULTIPART_OVERHEAD
from web.deps import actor, get_vault, unit_of_work
from web.multipart import StreamingForm
from web.openapi import DOC_TYPE, S, _err, _json, _path, register
from web.serialize import document_json


def _said(out: dict[str, Any]) -> dict[str, Any]:
    """The unfiled parts' reasons in the reader's language (Accept-Language zh or en)."""
    lang = web_errors.api_lang()
    for row in out.get("unfiled", out.get("items", [])):
        reason = intake.REASONS.get(row.get("reason_code") or "")
        if reason is not None:
            row["reason"] = web_errors.translate(reason.template, reason.params, lang)
    return out


def _receive_stack(tmp: Path) -> tuple[Path, str]:
    """Stream the multipart part `file` into a private file, refusing more than the upload limit."""
    limit = get_vault().settings.max_upload_bytes
    if request.content_length is not None and request.content_length > limit + MULTIPART_OVERHEAD:
        raise TooLarge("the file is larger than the limit of {limit_mib} MiB; split the stack and send the parts "
                       "one by one", params={"limit_mib": limit // (1024 * 1024)}, limit=limit)
    form = StreamingForm(request.stream, request.content_type)
    part = form.next_file()
    if part is None or part.name != "file":
        raise Invalid("file", "attach the scanned stack (one PDF) as the multipart part named 'file'",
                      code="file_missing")
    path, size = tmp / "stack.pdf", 0
    with path.open("wb") as fh:
        for chunk in part.chunks:
            size += len(chunk)
            if size > limit:
                raise TooLarge("the file is larger than the limit of {limit_mib} MiB; split the stack and send "
                               "the parts one by one", params={"limit_mib": limit // (1024 * 1024)}, limit=limit)
            fh.write(chunk)
    form.finish()
    if size == 0:
        raise Invalid("file", "the file is empty; scan the stack to one PDF and send it again", code="file_empty")
    return path, part.filename or "stack.pdf"


@bp.post("/intake")
def upload_stack() -> Response:
    """Split a scanned stack at its separator sheets and file the parts; 202 and a status URL for large stacks."""
    v, user = get_vault(), actor()
    intake.require_intake(user)
    with runner.private_tmpdir() as tmp:
        path, filename = _receive_stack(tmp)
        if path.stat().st_size > v.settings.intake_sync_max_bytes:
            out = runner.queue_stack(v, user, path, filename)
            resp = jsonify({**out, "status_url": f"/api/v1/intake/{out['stack_id']}"})
            resp.status_code = 202
            return resp
        return jsonify(_said(runner.process_stack(v, user, path, filename)))


@bp.get("/intake/<int:stack_id>")
def stack_status(stack_id: int) -> Response:
    with unit_of_work() as session:
        user = actor()
        return jsonify(_said(intake.stack_result(session, user, intake.get_stack(session, user, stack_id))))


@bp.get("/intake/unfiled")
def unfiled_list() -> Response:
    with unit_of_work() as session:
        items = [intake.unfiled_json(row) | {"stack_id": row.stack_id, "created_at": row.created_at.isoformat()}
                 for row in intake.unfiled_inbox(session, actor())]
    return jsonify(_said({"items": items}))


@bp.get("/intake/unfiled/<int:part_id>/content")
def unfiled_content(part_id: int) -> Response:
    """The unfiled part's PDF, so the archivist can see where it belongs (audited)."""
    v = get_vault()
    with unit_of_work() as session:
        chunks = iter(intake.open_unfiled(v, session, actor(), part_id))
    first = next(chunks, b"")

    def body() -> Iterator[bytes]:
        yield first
        yield from chunks

    resp = Response(stream_with_context(body()), mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'inline; filename="unfiled-{part_id}.pdf"'
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return resp


def _dossier_id(session: Any, data: dict[str, Any]) -> int:
    raw = data.get("dossier_id", data.get("archive_no"))
    if raw is None:
        raise Invalid("dossier_id", "name the dossier: dossier_id or archive_no", code="dossier_missing")
    return resolve_archive_no(session, actor(), raw, field="dossier_id").id


@bp.post("/intake/unfiled/<int:part_id>/assign")
def assign_unfiled(part_id: int) -> Response:
    v, data = get_vault(), json_body()
    with unit_of_work() as session:
        row = intake.assign_part(v, session, actor(), part_id, _dossier_id(session, data),
                                 doc_type=data.get("doc_type", "other"), title=data.get("title"),
                                 doc_date=data.get("doc_date"))
        document = intake.assigned_document(session, row)
        out = {"part_id": row.id, "state": row.state.value, "document": document_json(v, document)}
    resp = jsonify(out)
    resp.status_code = 201
    return resp


@bp.post("/intake/unfiled/<int:part_id>/discard")
def discard_unfiled(part_id: int) -> Response:
    v = get_vault()
    with unit_of_work() as session:
        keys = intake.discard_part(v, session, actor(), part_id)
    for key in keys:
        v.blobs.delete(key)
    return jsonify({"part_id": part_id, "state": "discarded"})


STACK_UPLOAD = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}}}}}
_PART = {"type": "object", "properties": {"part_id": {"type": "integer"}, "pages": {"type": "integer"},
                                           "reason_code": S, "reason": S}}
register("post", "/api/v1/intake", {
    "summary": "Scanning intake (archivist): one multi-page PDF, split at the pages carrying the archive's QR code "
               "(DVA1:<archive_no>[:<doc_type>]); each part filed into the dossier (and type) its code names as a "
               "new document, separator pages removed; parts without a usable code go to the unfiled inbox, with a "
               "reason; files already in the dossier are reported as duplicates. The same stack again answers with "
               "the first result. A stack above intake_sync_max_bytes is queued: 202 and status_url",
    "requestBody": STACK_UPLOAD,
    "responses": {"200": _json({"type": "object", "properties": {
        "filed": {"type": "array", "items": {"type": "object", "properties": {
            "dossier_id": {"type": "integer"}, "document_id": {"type": "integer"}, "pages": {"type": "integer"}}}},
        "unfiled": {"type": "array", "items": _PART}, "duplicates": {"type": "array"}}}),
        "202": _json(description="queued: poll status_url"), **_err(400, 401, 403, 413, 415, 422)}})
register("get", "/api/v1/intake/{stack_id}", {
    "summary": "A stack's progress (pages, done_pages, status) and, once done, its result (archivist)",
    "parameters": [_path("stack_id")], "responses": {"200": _json(), **_err(401, 403, 404)}})
register("get", "/api/v1/intake/unfiled", {
    "summary": "The unfiled inbox: parts waiting to be assigned to a dossier (archivist)",
    "responses": {"200": _json(), **_err(401, 403)}})
register("get", "/api/v1/intake/unfiled/{part_id}/content", {
    "summary": "An unfiled part's PDF, to see where it belongs (archivist; audited)",
    "parameters": [_path("part_id")],
    "responses": {"200": {"description": "the part", "content": {"application/pdf": {}}}, **_err(401, 403, 404)}})
register("post", "/api/v1/intake/unfiled/{part_id}/assign", {
    "summary": "File an unfiled part into a dossier (dossier_id or archive_no) as a document of doc_type (archivist); "
               "409 if the same file is already there",
    "parameters": [_path("part_id")],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object", "properties": {
        "dossier_id": {"type": "integer"}, "archive_no": S, "doc_type": DOC_TYPE, "title": S,
        "doc_date": {"type": "string", "format": "date"}}}}}},
    "responses": {"201": _json(), **_err(400, 401, 403, 404, 409, 422)}})
register("post", "/api/v1/intake/unfiled/{part_id}/discard", {
    "summary": "Drop an unfiled part (a blank page, a duplicate) (archivist)", "parameters": [_path("part_id")],
    "responses": {"200": _json(), **_err(401, 403, 404)}})
