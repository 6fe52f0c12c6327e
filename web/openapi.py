"""The project's OpenAPI 3 document: extends ../shared/API.md, never contradicts it.

Every route under /api/v1 has an entry in OPERATIONS; a test checks the two match exactly.
"""

from __future__ import annotations

from typing import Any

from vault.models import CustomerType, DocType, DossierStatus, Grade, Secrecy
from vault.paging import MAX_PAGE, MAX_PER_PAGE

Op = dict[str, Any]

ERROR = {"$ref": "#/components/schemas/Error"}


def _err(*codes: int) -> dict[str, Any]:
    text = {400: "malformed request", 401: "not signed in", 403: "not allowed", 404: "not found",
            409: "state conflict", 410: "destroyed", 413: "too large", 415: "unsupported file type",
            422: "invalid field", 429: "too many attempts",
            500: "the stored file failed its integrity check (nothing was sent)", 503: "a backing service is down"}
    return {str(c): {"description": text[c], "content": {"application/json": {"schema": ERROR}}} for c in codes}


def _json(schema: dict[str, Any] | None = None, description: str = "OK") -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": schema or {"type": "object"}}}}


def _body(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _q(name: str, schema: dict[str, Any] | None = None, description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema or {"type": "string"},
            "description": description}


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 2**63 - 1}}


PAGING = [_q("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}),
          _q("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE})]
S = {"type": "string"}
ENUM = lambda *v: {"type": "string", "enum": [str(x) for x in v]}  # noqa: E731
DOSSIER_FIELDS = {
    "customer_name": S, "credit_code": {"type": "string", "description": "统一社会信用代码, GB 32100-2015"},
    "customer_type": ENUM(*CustomerType), "grade": ENUM(*Grade),
    "industry": S, "region": S, "owner": {"type": "string", "description": "username"},
    "secrecy": ENUM(*Secrecy), "location": S,
}
FILE_TYPES = ("application/pdf", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
              "image/png", "image/jpeg", "image/tiff")  # vault.filetypes.ALLOWED
DOC_TYPE = ENUM(*DocType)
UPLOAD = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary"}, "doc_type": DOC_TYPE, "title": S,
                   "doc_date": {"type": "string", "format": "date"}}}}}}

DOSSIER_LIST_PARAMS = [
    _q("stage", ENUM("prospect", "target", "potential", "inactive", "customer", "lost"), "客户阶段"),
    _q("customer_kind", ENUM("organisation", "individual")),
    _q("industry", description="exact industry"), _q("region", description="exact region"),
    _q("review_due", {"type": "string", "pattern": "^(overdue|[0-9]{1,4})$"},
       "'overdue' (next review date passed) or N: next review date within N days (0..3650)"),
    _q("incomplete", ENUM("true", "false"),
       "true: a required document type or required card field (per customer kind) is missing"),
    _q("sort", ENUM("name", "-name", "archive_no", "-archive_no", "updated", "-updated"),
       "name sorts in pinyin order; '-' for descending; default newest first"),
]

OPERATIONS: dict[tuple[str, str], Op] = {
    ("get", "/api/v1/health"): {"summary": "Health of database, storage and index", "security": [],
                                "responses": {"200": _json(), "503": _json(description="a part is down")}},
    ("post", "/api/v1/auth/token"): {
        "summary": "Exchange username and password for a bearer token", "security": [],
        "requestBody": _body({"username": S, "password": S}, ["username", "password"]),
        "responses": {"201": _json(), **_err(400, 401, 422, 429)}},
    ("get", "/api/v1/me"): {"summary": "The signed-in user", "responses": {"200": _json(), **_err(401)}},
    ("get", "/api/v1/openapi.json"): {"summary": "This document", "security": [],
                                      "responses": {"200": _json()}},
    ("post", "/api/v1/dossiers"): {
        "summary": "Create a dossier (archivist); an individual customer with a GB 11643 ID number",
        "requestBody": _body({**DOSSIER_FIELDS, "customer_kind": ENUM("organisation", "individual"),
                              "id_number": {"type": "string", "description": "居民身份证号码 (individuals)"}},
                             ["customer_name", "customer_type"]),
        "responses": {"201": _json(), **_err(400, 401, 403, 409, 422)}},
    ("get", "/api/v1/dossiers"): {
        "summary": "List visible dossiers",
        "parameters": [_q("q"), _q("grade"), _q("customer_type"), _q("owner"), _q("status"), *DOSSIER_LIST_PARAMS,
                       *PAGING],
        "responses": {"200": _json(), **_err(401, 422)}},
    ("get", "/api/v1/dossiers/{dossier_id}"): {
        "summary": "A dossier, its documents and completeness", "parameters": [_path("dossier_id")],
        "responses": {"200": _json(), **_err(401, 404)}},
    ("patch", "/api/v1/dossiers/{dossier_id}"): {
        "summary": "Change fields (archivist); each change audited", "parameters": [_path("dossier_id")],
        "requestBody": _body({**DOSSIER_FIELDS, "status": ENUM(DossierStatus.ACTIVE, DossierStatus.CLOSED),
                              "next_review_date": {"type": "string", "format": "date"},
                              "reason": {"type": "string", "maxLength": 500,
                                         "description": "kept in the card's history with grade/owner changes; "
                                                        "required with a new owner"}}),
        "responses": {"200": _json(), "202": _json(description="the other fields changed; a new owner was asked "
                                                               "for (owner_change.id), applied when a manager "
                                                               "approves"),
                      **_err(400, 401, 403, 404, 409, 422)}},
    ("post", "/api/v1/dossiers/{dossier_id}/documents"): {
        "summary": "Upload a document (archivist); streamed, type sniffed from content, encrypted",
        "parameters": [_path("dossier_id")], "requestBody": UPLOAD,
        "responses": {"201": _json(), **_err(400, 401, 403, 404, 409, 413, 415, 422, 503)}},
    ("get", "/api/v1/documents/{document_id}"): {
        "summary": "Document metadata and versions", "parameters": [_path("document_id")],
        "responses": {"200": _json(), **_err(401, 404)}},
    ("get", "/api/v1/documents/{document_id}/content"): {
        "summary": "The original bytes for content roles and owners; a stamped PDF for copy checkouts (a DOCX "
                   "from its extracted text: 409 copy_not_ready until indexed, 409 stamping_failed for what cannot "
                   "be stamped); 403 view_only for view checkouts, which read the watermarked pages of "
                   "/documents/{id} only. Audited. Files up to verify_before_send_max_bytes are authenticated "
                   "whole before a byte is sent; a failure is 500 blob_integrity_error with nothing sent",
        "parameters": [_path("document_id"), _q("version", {"type": "integer", "minimum": 1}),
                       _q("disposition", ENUM("inline", "attachment"))],
        "responses": {"200": {"description": "file body, of the type sniffed at upload (a stamped PDF for copies)",
                              "content": {mime: {"schema": {"type": "string", "format": "binary"}}
                                          for mime in FILE_TYPES}},
                      **_err(401, 403, 404, 409, 410, 500)}},
    ("post", "/api/v1/documents/{document_id}/versions"): {
        "summary": "Upload a new version (archivist)", "parameters": [_path("document_id")],
        "requestBody": UPLOAD, "responses": {"201": _json(), **_err(400, 401, 403, 404, 409, 410, 413, 415, 422)}},
    ("post", "/api/v1/documents/{document_id}/reextract"): {
        "summary": "Extract the current version's text again, OCR included, with today's settings (archivist); "
                   "202 with index_status queued until the worker has done it; 409 extraction_pending while a "
                   "job for it waits; 410 for a destroyed document. Audited",
        "parameters": [_path("document_id")], "responses": {"202": _json(), **_err(401, 403, 404, 409, 410)}},
    ("get", "/api/v1/audit"): {
        "summary": "Audit events (admin, legal, manager); archive_no names the dossier as people do",
        "parameters": [_q("dossier_id"), _q("archive_no"), _q("document_id"), _q("actor"), _q("action"), _q("since"),
                       *PAGING],
        "responses": {"200": _json(), **_err(401, 403, 404, 422)}},
    ("get", "/api/v1/audit/verify"): {
        "summary": "Verify the hash chain (admin, legal)", "responses": {"200": _json(), **_err(401, 403)}},
}


def register(method: str, path: str, op: Op) -> None:
    """Let other modules (search, workflows) document the routes they add."""
    OPERATIONS[(method.lower(), path)] = op


def build_spec() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), op in sorted(OPERATIONS.items()):
        entry = dict(op)
        entry.setdefault("operationId", f"{method}_{path.removeprefix('/api/v1/').replace('/', '_')}"
                         .replace("{", "").replace("}", ""))
        entry.setdefault("responses", {"200": _json()})
        paths.setdefault(path, {})[method] = entry
    return {
        "openapi": "3.0.3",
        "info": {"title": "Dossier Vault API", "version": "1",
                 "description": "Customer-dossier archive. Contract: ../shared/API.md. Errors are "
                                "{\"error\": {\"code\", \"message\", \"field\"?}}."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": S, "message": S, "field": S}}}}},
        },
    }
