"""The document page: metadata, versions, an inline viewer (page images, watermarked for checkouts), download."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select

from vault import policy
from vault.errors import Conflict
from vault.models import DestructionBatch, DestructionItem, DestructionStatus, Document, DocumentStatus
from vault.services import documents, reading
from vault.services import holds as holds_svc
from web.deps import actor, get_vault, unit_of_work
from web.pages.common import field_message
from web.serialize import document_json

bp = Blueprint("documents", __name__)


@bp.get("/documents/<int:document_id>")
def detail(document_id: int) -> ResponseReturnValue:
    v = get_vault()
    me = actor()
    with unit_of_work() as s:
        doc = documents.get_document(s, me, document_id)
        row = document_json(v, doc)
        may = reading.document_actions(v, s, me, doc)
        can_read, may_download = may.may_read, may.may_download
        show_old = policy.allowed(me, "document.read_old_versions")
        versions = [{"version": x.version_no, "filename": x.original_filename, "mime": x.mime,
                     "size": x.plaintext_size, "pages": x.pages, "uploaded_by": x.uploaded_by.username,
                     "uploaded_at": x.uploaded_at, "index_status": x.index_status.value,
                     "index_error": x.index_error, "sha256": x.ciphertext_sha256} for x in doc.versions]
        holds = [{"id": h.id, "reason": h.reason, "placed_at": h.placed_at}
                 for h in holds_svc.holds_covering(s, [doc]).get(doc.id, [])]
        can_hold = policy.allowed(me, "hold.manage")
        tombstone = _tombstone(s, me, doc) if doc.status is DocumentStatus.DESTROYED else None
        live = can_read and tombstone is None
        pages = list(range(1, reading.page_count(v, s, me, doc) + 1)) if live else []
        # a reader through a checkout (not by role, not the owner) sees watermarked pages: say so
        watermarked = live and reading.reads_by_checkout(s, me, doc)
        # what was read on each page, beside its image: readers by role or ownership only, audited
        page_texts = (reading.page_texts(v, s, me, doc) if pages else None) or []
        can_reextract = (tombstone is None and doc.current_version is not None
                         and policy.allowed(me, "document.reextract"))
    return render_template("pages/document.html", doc=row, versions=versions, can_read=can_read,
                           may_download=may_download, show_old=show_old, viewable=bool(pages), pages=pages,
                           watermarked=watermarked, holds=holds, can_hold=can_hold, tombstone=tombstone,
                           page_texts=page_texts, can_reextract=can_reextract)


@bp.post("/documents/<int:document_id>/reextract")
def reextract(document_id: int) -> ResponseReturnValue:
    """The archivist's "extract again" button: queue a fresh extraction (OCR) and come back to the page."""
    try:
        with unit_of_work() as s:
            documents.reextract(get_vault(), s, actor(), document_id)
    except Conflict as exc:
        flash(_("Not extracted again: %(msg)s", msg=field_message(exc)), "error")
    else:
        flash(_("The text will be extracted again (OCR included); the index status shows when it is done."),
              "success")
    return redirect(url_for("documents.detail", document_id=document_id))


def _tombstone(s: Any, me: Any, doc: Document) -> dict[str, Any]:
    """When and by which executed batch a destroyed document went, and whether the reader may open the register."""
    batch = s.scalars(select(DestructionBatch).join(DestructionItem)
                      .where(DestructionItem.document_id == doc.id,
                             DestructionBatch.status == DestructionStatus.EXECUTED)).first()
    return {"destroyed_at": doc.destroyed_at, "batch_id": batch.id if batch else None,
            "executed_by": batch.executed_by.username if batch and batch.executed_by else None,
            "register": batch is not None and policy.allowed(me, "destruction.view")}


@bp.get("/documents/<int:document_id>/pages/<int:page_no>.png")
def page_image(document_id: int, page_no: int) -> ResponseReturnValue:
    """A page of the current version, for reading in the browser; every call is an audited read, and a
    reader through a checkout gets it watermarked with name, checkout and time."""
    v = get_vault()
    with unit_of_work() as s:
        png = reading.open_page(v, s, actor(), document_id, page_no)
    resp = Response(png, mimetype="image/png")
    resp.headers["Cache-Control"] = "no-store"
    return resp
