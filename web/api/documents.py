"""Document endpoints: streamed upload, metadata, streamed download, new versions."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from flask import Response, jsonify, request, stream_with_context

from vault.errors import Invalid, TooLarge
from vault.services import documents, reading, uploads
from vault.services.reading import Content
from vault.services.uploads import IncomingFile
from web.api import bp
from web.deps import actor, get_vault, unit_of_work
from web.multipart import StreamingForm
from web.serialize import document_json

MULTIPART_OVERHEAD = 64 * 1024


def _check_declared_length() -> None:
    """Refuse before reading a byte when the declared body is larger than any allowed file."""
    limit = get_vault().settings.max_upload_bytes
    length = request.content_length
    if length is not None and length > limit + MULTIPART_OVERHEAD:
        raise TooLarge("the file is larger than the limit of {limit_mib} MiB; split or compress the scan "
                       "and try again", params={"limit_mib": limit // (1024 * 1024)}, limit=limit)


def _receive() -> IncomingFile:
    """The request's file part, streamed (after the declared length is checked); the form's other fields
    are read once the file is in."""
    _check_declared_length()
    form = StreamingForm(request.stream, request.content_type)
    part = form.next_file()
    if part is None or part.name != "file":
        raise Invalid("file", "attach the document as the multipart part named 'file'", code="file_missing")
    return IncomingFile(part.chunks, part.filename, form.finish)


def _created(into: uploads.NewDocument | uploads.NewVersion) -> Response:
    """Run the upload use case for the signed-in user; 201 with the document."""
    v = get_vault()
    out = uploads.add_file(v, actor(), into, _receive,
                           lambda _session, document: document_json(v, document, with_versions=True))
    resp = jsonify(out)
    resp.status_code = 201
    return resp


@bp.post("/dossiers/<int:dossier_id>/documents")
def upload_document(dossier_id: int) -> Response:
    return _created(uploads.NewDocument(dossier_id))


@bp.post("/documents/<int:document_id>/versions")
def add_version(document_id: int) -> Response:
    return _created(uploads.NewVersion(document_id))


@bp.get("/documents/<int:document_id>")
def get_document(document_id: int) -> Response:
    v = get_vault()
    with unit_of_work() as session:
        out = document_json(v, documents.get_document(session, actor(), document_id), with_versions=True)
    return jsonify(out)


@bp.post("/documents/<int:document_id>/reextract")
def reextract_document(document_id: int) -> Response:
    """Queue a fresh extraction (OCR again, with today's settings) of the current version: 202 and the document."""
    v = get_vault()
    with unit_of_work() as session:
        version = documents.reextract(v, session, actor(), document_id)
        out = document_json(v, version.document, with_versions=True)
    resp = jsonify(out)
    resp.status_code = 202
    return resp


def content_disposition(kind: str, filename: str) -> str:
    """RFC 6266: an ASCII fallback plus the UTF-8 name; no quote, CR or LF can get through."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in filename) or "document"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def stream_content(content: Content, *, inline: bool = False) -> Response:
    """A streamed response for decrypted content; the first segment is checked before headers go out.

    Content-Length is always the whole size: a stream that stops early (a segment of a large file failing
    its check) is a broken transfer to every client, never a shorter file."""
    chunks = content.chunks
    first = next(chunks, b"")  # an integrity failure here becomes a clean error, not a cut-off body

    def body() -> Iterator[bytes]:
        try:
            if first:
                yield first
            yield from chunks
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()

    resp = Response(stream_with_context(body()), mimetype=content.mime)
    resp.headers["Content-Length"] = str(content.size)
    resp.headers["Content-Disposition"] = content_disposition("inline" if inline else "attachment",
                                                              content.filename)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return resp


@bp.get("/documents/<int:document_id>/content")
def document_content(document_id: int) -> Response:
    v = get_vault()
    version = request.args.get("version", type=int)
    inline = request.args.get("disposition") == "inline"
    with unit_of_work() as session:
        content = reading.open_content(v, session, actor(), document_id, version_no=version,
                         purpose="view" if inline else "download")
    return stream_content(content, inline=inline)
