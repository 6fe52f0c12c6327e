"""Reading content: who gets which bytes, every read audited, nothing sent that failed its integrity check.

- Content roles (archivist, legal, manager) within clearance and a dossier's owner and backup owner read
  the original.
- A `copy` checkout gets a PDF stamped on every page with the reader, the checkout and the time (a DOCX
  becomes a PDF of its extracted text). What cannot be stamped is refused, never handed out unmarked.
- A `view` checkout gets no file at all: only the viewer's page images, each with a visible watermark
  naming the reader, the checkout and the time.

Integrity: a file up to `verify_before_send_max_bytes` is decrypted and authenticated whole, in memory
(never on disk), before its first byte is sent; a failure sends nothing and is audited as
`document.read_failed`. A larger file is streamed segment by segment (audited `document.read` with
`streamed: true` before the first byte); a segment failing on the way cuts the transfer short of the
promised Content-Length, so no client takes it for a whole file, and appends `document.read_failed`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy.orm import Session

from vault import audit, policy
from vault.core import Vault
from vault.errors import BlobIntegrityError, Conflict, Forbidden, Gone, NotFound, TooLarge, phrase
from vault.filetypes import DOCX
from vault.grants import active_grants
from vault.models import Checkout, CheckoutKind, Document, DocumentStatus, DocumentVersion, Role, User
from vault.services import renditions, stamping, texts
from vault.services.documents import decrypt_version, get_document, select_version

log = logging.getLogger("dossier.reading")

MAX_VIEW_BYTES = 80 * 1024 * 1024  # larger files are not rendered in the browser


@dataclass
class Content:
    """Bytes on their way to a reader. A streamed (large) read decrypts lazily: consume `chunks` after
    the caller's transaction has ended, since a failure records itself in a transaction of its own."""

    document: Document
    version: DocumentVersion
    mime: str
    filename: str
    size: int
    chunks: Iterator[bytes]


@dataclass
class _Access:
    document: Document
    version: DocumentVersion
    checkout: Checkout | None  # None: the actor reads by role or as the owner
    now: datetime


def reads_by_checkout(session: Session, actor: User, document: Document) -> bool:
    """Whether the actor's content access to this document can only come from a checkout (not role, not the
    owner or backup owner)."""
    return actor.role not in policy.CONTENT_ROLES and not policy.is_keeper(session, actor, document.dossier)


@dataclass(frozen=True)
class DocumentActions:
    """What the actor may do with a document's content now: the page shows what `open_content` and
    `open_page` would grant."""

    may_read: bool  # the page viewer
    may_download: bool  # the original (by role or as a keeper), or a stamped copy (a copy checkout)


def document_actions(v: Vault, session: Session, actor: User, document: Document) -> DocumentActions:
    """The `DocumentActions` open to the actor on this (visible) document."""
    now = v.clock.now()
    may_read = document.status is DocumentStatus.ACTIVE and policy.can_read(session, actor, document, now)
    if not may_read or not reads_by_checkout(session, actor, document):
        return DocumentActions(may_read, may_read)
    grants = active_grants(session, actor, now)
    copy = document.id in grants.copy_document_ids or document.dossier_id in grants.copy_dossier_ids
    return DocumentActions(may_read, copy)


def _access(v: Vault, session: Session, actor: User, document_id: int, version_no: int | None) -> _Access:
    """What the actor may read of this document and through which checkout (None: role or owner)."""
    document = get_document(session, actor, document_id)
    now = v.clock.now()
    policy.require_read(session, actor, document, now)
    if document.status is DocumentStatus.DESTROYED:
        raise Gone("document {document_id} was destroyed; only its tombstone and certificate remain",
                   params={"document_id": document_id}, code="document_destroyed")
    version = select_version(document, version_no)
    if document.current_version is not None and version.id != document.current_version.id \
            and actor.role is not Role.ARCHIVIST:
        raise Forbidden("older versions are readable to archivists only", code="forbidden")
    checkout = None
    if reads_by_checkout(session, actor, document):
        from vault.services.checkouts import checkout_granting  # access comes from a checkout

        checkout = checkout_granting(session, actor, document, now)
        if checkout is None:  # can_read said yes, so a checkout must grant it; never fall back to the file
            raise Forbidden("no active checkout grants this document; request a checkout (借阅) first",
                            code="checkout_required")
    return _Access(document, version, checkout, now)


def checkout_label(actor: User, checkout: Checkout, now: datetime) -> str:
    """The stamp and watermark text: kind, reader (name and user name), checkout number, time."""
    kind = "借阅复制件 COPY" if checkout.kind is CheckoutKind.COPY else "借阅查看 VIEW"
    return (f"{kind} · {actor.display_name or actor.username} ({actor.username}) · "
            f"checkout #{checkout.id} · {now.isoformat(timespec='seconds')}")


def _record_failure(session: Session, actor: User, acc: _Access, purpose: str, exc: BlobIntegrityError,
                    now: datetime, **extra: Any) -> None:
    log.error("document %s version %s failed its integrity check on read: %s", acc.document.id,
              acc.version.version_no, exc.message)
    audit.record(session, actor, "document.read_failed", acc.document, now=now, version=acc.version.version_no,
                 purpose=purpose, checkout_id=None if acc.checkout is None else acc.checkout.id,
                 reason=exc.message, **extra)


def _refusal(exc: BlobIntegrityError, sent: int) -> BlobIntegrityError:
    what = phrase("nothing was sent") if sent == 0 else phrase("the transfer was cut short after {sent} bytes",
                                                                 sent=sent)
    return BlobIntegrityError("the stored file failed its integrity check ({problem}); {what} and the failed "
                              "read was recorded. Tell an administrator: the file needs restoring from a backup",
                              params={"problem": exc.message, "what": what})


def _whole(v: Vault, session: Session, actor: User, acc: _Access, purpose: str) -> list[bytes]:
    """The plaintext, every segment authenticated, in memory. On failure the failed read is committed to
    the audit trail (the caller's transaction, which holds nothing else) and nothing is returned.

    The one service that commits its caller's unit of work, on purpose: the request fails (the handler's
    unit of work then rolls back), yet the failed read must stay in the audit trail. A transaction of its
    own could wait on the audit head this one may hold."""
    try:
        return list(decrypt_version(v, acc.version))
    except BlobIntegrityError as exc:
        _record_failure(session, actor, acc, purpose, exc, acc.now, bytes_sent=0)
        session.commit()
        raise _refusal(exc, 0) from None


def _streamed(v: Vault, actor: User, acc: _Access, purpose: str, started_seq: int) -> Iterator[bytes]:
    """Decrypt while sending; a segment that fails stops the stream and is audited in its own transaction."""
    client_addr = audit.client_addr_var.get()
    sent = 0
    try:
        for chunk in decrypt_version(v, acc.version):
            yield chunk
            sent += len(chunk)
    except BlobIntegrityError as exc:
        token = audit.client_addr_var.set(client_addr)
        try:
            with v.session() as s:
                _record_failure(s, actor, acc, purpose, exc, v.clock.now(), bytes_sent=sent, streamed=True,
                                read_seq=started_seq)
        finally:
            audit.client_addr_var.reset(token)
        raise _refusal(exc, sent) from None


def _original(v: Vault, session: Session, actor: User, acc: _Access, purpose: str) -> Content:
    version = acc.version
    if version.plaintext_size <= v.settings.verify_before_send_max_bytes:
        segments = _whole(v, session, actor, acc, purpose)
        audit.record(session, actor, "document.read", acc.document, now=acc.now, version=version.version_no,
                     purpose=purpose, checkout_id=None)
        chunks: Iterator[bytes] = iter(segments)
    else:
        started = audit.record(session, actor, "document.read", acc.document, now=acc.now,
                               version=version.version_no, purpose=purpose, checkout_id=None, streamed=True)
        chunks = _streamed(v, actor, acc, purpose, started.seq)
    return Content(document=acc.document, version=version, mime=version.mime, filename=version.original_filename,
                   size=version.plaintext_size, chunks=chunks)


def _docx_text(v: Vault, version: DocumentVersion) -> str | None:
    return texts.open_text(v, version) if version.mime == DOCX else None


def _stamped_copy(v: Vault, session: Session, actor: User, acc: _Access, purpose: str) -> Content:
    """A copy checkout's file: a PDF stamped on every page with reader, checkout id and time, or a refusal."""
    assert acc.checkout is not None
    version = acc.version
    if not stamping.can_stamp(version.mime):
        raise Conflict("{mime} files cannot be stamped, so no copy is handed out; read it in the viewer",
                       params={"mime": version.mime}, code="stamping_failed")
    data = b"".join(_whole(v, session, actor, acc, purpose))
    label = checkout_label(actor, acc.checkout, acc.now)
    stamped = stamping.stamped_copy(data, version.mime, label, text=_docx_text(v, version),
                                    title=acc.document.title)
    stem = PurePosixPath(version.original_filename).stem or "document"
    audit.record(session, actor, "document.read", acc.document, now=acc.now, version=version.version_no,
                 purpose=purpose, checkout_id=acc.checkout.id, stamped=True)
    return Content(document=acc.document, version=version, mime="application/pdf",
                   filename=f"{stem}_copy-{acc.checkout.id}.pdf", size=len(stamped), chunks=iter([stamped]))


def open_content(
    v: Vault, session: Session, actor: User, document_id: int, *, version_no: int | None = None,
    purpose: str = "download",
) -> Content:
    """The file a reader may take away, audited: the original by role or ownership, a stamped PDF for a
    copy checkout; Forbidden (view_only) for a view checkout, which reads in the page viewer only."""
    acc = _access(v, session, actor, document_id, version_no)
    if acc.checkout is None:
        return _original(v, session, actor, acc, purpose)
    if acc.checkout.kind is CheckoutKind.COPY:
        return _stamped_copy(v, session, actor, acc, purpose)
    raise Forbidden("your checkout is for reading in the page viewer (/documents/{document_id}), where every page "
                    "carries your name; request a copy checkout for a stamped copy",
                    params={"document_id": document_id}, code="view_only")


def _need_text(v: Vault, version: DocumentVersion) -> str:
    text = texts.open_text(v, version)
    if text is None:
        raise Conflict("this DOCX is shown as pages of its extracted text, which is not ready yet (the document is "
                       "still being indexed, or indexing failed); try again later", code="pages_not_ready")
    return text


def open_page(v: Vault, session: Session, actor: User, document_id: int, page_no: int) -> bytes:
    """One page of the current version as PNG, audited; watermarked with reader, checkout and time for
    everyone reading through a checkout."""
    acc = _access(v, session, actor, document_id, None)
    version = acc.version
    if not renditions.has_pages(version.mime):
        raise NotFound("this file type has no page view", code="no_preview")
    if version.plaintext_size > MAX_VIEW_BYTES:
        raise TooLarge("this file is too large to show in the browser")
    if version.mime == DOCX:
        image = renditions.render_text_page(_need_text(v, version), acc.document.title, page_no)
    else:
        image = renditions.render_page(b"".join(_whole(v, session, actor, acc, "view")), version.mime, page_no)
    label = None if acc.checkout is None else checkout_label(actor, acc.checkout, acc.now)
    page = renditions.png(image, label)
    audit.record(session, actor, "document.read", acc.document, now=acc.now, version=version.version_no,
                 purpose="view", page=page_no, checkout_id=None if acc.checkout is None else acc.checkout.id,
                 watermarked=label is not None)
    return page


def page_count(v: Vault, session: Session, actor: User, document: Document) -> int:
    """How many pages the viewer shows the actor (0: none, or no content access); nothing is sent or audited."""
    version = document.current_version
    if version is None or document.status is not DocumentStatus.ACTIVE \
            or not policy.can_read(session, actor, document, v.clock.now()) or not renditions.has_pages(version.mime):
        return 0
    if version.mime == DOCX:
        text = texts.open_text(v, version)
        return 0 if text is None else renditions.text_page_count(text, document.title)
    if version.pages is None and version.plaintext_size <= MAX_VIEW_BYTES:
        try:  # not counted at upload (nor indexed yet): count now; the viewer renders the first page next anyway
            return renditions.page_total(b"".join(decrypt_version(v, version)), version.mime)
        except BlobIntegrityError:
            return 1  # the page itself then fails, audited, with a clear message
    return version.pages or 1



def page_texts(v: Vault, session: Session, actor: User, document: Document) -> list[str] | None:
    """The extracted (OCR) text of each page of the current version, for a reader by role or ownership,
    audited as a read; None when there is none to show by page, or the actor reads through a checkout
    (whose view is the watermarked page images only)."""
    version = document.current_version
    now = v.clock.now()
    if version is None or version.mime == DOCX or document.status is not DocumentStatus.ACTIVE \
            or reads_by_checkout(session, actor, document) or not policy.can_read(session, actor, document, now):
        return None
    text = texts.open_text(v, version)
    per_page = None if text is None else texts.split_pages(text, version.pages)
    if per_page is not None:
        audit.record(session, actor, "document.read", document, now=now, version=version.version_no,
                     purpose="text", pages=len(per_page), checkout_id=None)
    return per_page
