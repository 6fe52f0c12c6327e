"""Full-text search over what the caller may read."""

from __future__ import annotations

from flask import Response, jsonify, request

from indexer import service
from vault.errors import Invalid
from vault.services.common import resolve_archive_no
from web.api import bp
from web.deps import actor, get_index, get_vault, unit_of_work
from web.openapi import PAGING, register
from web.serialize import iso


@bp.get("/search")
def search() -> Response:
    v = get_vault()
    args = request.args.to_dict()
    archive_no = args.pop("archive_no", "")
    if archive_no and args.get("dossier_id"):
        raise Invalid("archive_no", "give either archive_no or dossier_id, not both")
    filters = service.parse_filters(args)
    with unit_of_work() as session:
        if archive_no:
            # the archive number a person knows, resolved within the caller's visibility (else 404)
            dossier_id = resolve_archive_no(session, actor(), archive_no).id
            filters = service.parse_filters({**args, "dossier_id": str(dossier_id)})
        result = service.search(v, get_index(), session, actor(), request.args.get("q", ""), filters,
                                request.args.get("page", 1), request.args.get("per_page", 20))
    return jsonify({
        "total": result.total, "total_exact": result.total_exact, "page": result.page, "per_page": result.per_page,
        "partial": result.partial,
        "query": result.query,
        "items": [{"document_id": i.document_id, "dossier_id": i.dossier_id, "archive_no": i.archive_no,
                   "title": i.title, "doc_type": i.doc_type, "doc_date": iso(i.doc_date), "score": i.score,
                   "snippet": i.snippet, "source": i.source, "record_id": i.record_id,
                   "contact_id": i.contact_id, "paper_only": i.paper_only} for i in result.items],
    })


register("get", "/api/v1/search", {
    "summary": "Full-text search (Chinese and English) over documents, customer cards, contacts and records; "
               "audited",
    "description": "Each hit's `source` says where it was found: `document`, `card` (everyone who sees the "
                   "dossier), `contact` or `record` (those who may read the dossier's content; a record hit "
                   "carries `record_id`, a contact hit `contact_id`, and `document_id` is null for all three). "
                   "`paper_only` true: a document received on paper without a scan yet, found by its title, "
                   "item code and listed remarks (the same readers as any document).",
    "parameters": [
        {"name": "q", "in": "query", "required": True, "schema": {"type": "string", "maxLength": 200},
         "description": "words are ANDed; \"quoted text\" is a phrase; no wildcards or regex"},
        {"name": "doc_type", "in": "query", "schema": {"type": "string"}},
        {"name": "dossier_id", "in": "query", "schema": {"type": "integer"}},
        {"name": "archive_no", "in": "query", "schema": {"type": "string"},
         "description": "the dossier's archive number (KH-2026-000006), instead of dossier_id"},
        {"name": "date_from", "in": "query", "schema": {"type": "string", "format": "date"}},
        {"name": "date_to", "in": "query", "schema": {"type": "string", "format": "date"}},
        *PAGING,
    ],
    "responses": {"200": {"description": "hits with <mark> snippets; `total_exact` false means at least `total` "
                                         "documents match (the engine ranked that many, newest first among "
                                         "more: narrow the search with more words or filters)",
                          "content": {"application/json": {"schema": {"type": "object"}}}},
                  "400": {"description": "malformed"}, "401": {"description": "not signed in"},
                  "404": {"description": "archive_no names no dossier the caller may see"},
                  "422": {"description": "invalid query or filter"}},
})
