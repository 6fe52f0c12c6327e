"""Legal holds: legal freezes a dossier or a document; nothing under a hold is destroyed, deleted,
pruned or has its key erased, whatever else says so. Other services ask `require_not_held`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from vault import audit, policy
from vault.core import Vault
from vault.errors import Conflict, Invalid, NotFound
from vault.models import Document, DocumentStatus, LegalHold, User
from vault.paging import Page, page_of
from vault.services.common import get_dossier, resolve_archive_no


def _reason(raw: Any, field: str = "reason") -> str:
    if not isinstance(raw, str) or not " ".join(raw.split()):
        raise Invalid(field, "{field} is required: say why (e.g. the case or the request it serves)")
    text = " ".join(raw.split())
    if len(text) > 2000:
        raise Invalid(field, "{field} is longer than 2000 characters")
    return text


def holds_covering(session: Session, documents: Sequence[Document]) -> dict[int, list[LegalHold]]:
    """Active holds over each document: on the document itself or on its dossier."""
    if not documents:
        return {}
    doc_ids = {d.id for d in documents}
    dossier_ids = {d.dossier_id for d in documents}
    rows = session.scalars(
        select(LegalHold).where(LegalHold.released_at.is_(None),
                                or_(LegalHold.document_id.in_(doc_ids), LegalHold.dossier_id.in_(dossier_ids)))
        .order_by(LegalHold.id)
    ).all()
    out: dict[int, list[LegalHold]] = {d.id: [] for d in documents}
    for d in documents:
        out[d.id] = [h for h in rows if h.document_id == d.id or h.dossier_id == d.dossier_id]
    return out


def holds_on_dossiers(session: Session, dossier_ids: Iterable[int]) -> dict[int, list[LegalHold]]:
    """Active holds on each dossier itself and on any of its documents, in one query."""
    ids = set(dossier_ids)
    out: dict[int, list[LegalHold]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = session.execute(
        select(LegalHold, Document.dossier_id).outerjoin(Document, Document.id == LegalHold.document_id)
        .where(LegalHold.released_at.is_(None),
               or_(LegalHold.dossier_id.in_(ids), and_(LegalHold.document_id.is_not(None),
                                                       Document.dossier_id.in_(ids))))
        .order_by(LegalHold.id)
    ).all()
    for hold, document_dossier_id in rows:
        out[hold.dossier_id if hold.dossier_id in ids else document_dossier_id].append(hold)
    return out


def holds_on_dossier(session: Session, dossier_id: int) -> list[LegalHold]:
    """Active holds on the dossier itself and on any of its documents."""
    return holds_on_dossiers(session, [dossier_id])[dossier_id]


def require_not_held(session: Session, documents: Iterable[Document], action: str) -> None:
    """Conflict (409, code legal_hold) naming every document a hold covers; call before destroying,
    deleting, pruning versions of or erasing keys of documents."""
    docs = list(documents)
    held = {doc_id: hs for doc_id, hs in holds_covering(session, docs).items() if hs}
    if held:
        names = ", ".join(f"document {doc_id} (hold {', '.join(str(h.id) for h in hs)})"
                          for doc_id, hs in sorted(held.items()))
        raise Conflict("{action} refused: under legal hold: {names}",
                       params={"action": action, "names": names}, code="legal_hold",
                       documents=[{"document_id": doc_id, "problem": "legal_hold",
                                   "hold_ids": [h.id for h in hs]} for doc_id, hs in sorted(held.items())])


def place_hold(v: Vault, session: Session, actor: User, *, dossier_id: Any = None, document_id: Any = None,
               reason: Any, archive_no: Any = None) -> LegalHold:
    """Legal freezes a dossier (all its documents, present and future) or one document.

    The dossier is given by its id or by its archive number (what a person types), never both."""
    policy.require(actor, "hold.manage")
    if archive_no is not None and archive_no != "":
        if dossier_id is not None:
            raise Invalid("archive_no", "give either archive_no or dossier_id, not both")
        dossier_id = resolve_archive_no(session, actor, archive_no).id
    if dossier_id is None and document_id is None:
        raise Invalid("dossier_id", "say what the hold covers: a dossier (its archive number) or a document id")
    if dossier_id is not None and document_id is not None:
        raise Invalid("dossier_id", "give either dossier_id or document_id (not both)")
    text = _reason(reason)
    now = v.clock.now()
    if dossier_id is not None:
        if not isinstance(dossier_id, int) or isinstance(dossier_id, bool):
            raise Invalid("dossier_id", "dossier_id must be a number")
        dossier = get_dossier(session, actor, dossier_id)
        hold = LegalHold(dossier_id=dossier.id, reason=text, placed_by_id=actor.id, placed_at=now)
        session.add(hold)
        session.flush()
        audit.record(session, actor, "hold.placed", hold, now=now, dossier_id=dossier.id, reason=text,
                     scope="dossier")
        return hold
    if not isinstance(document_id, int) or isinstance(document_id, bool):
        raise Invalid("document_id", "document_id must be a number")
    from vault.services.documents import get_document

    document = get_document(session, actor, document_id)
    if document.status is DocumentStatus.DESTROYED:
        raise Conflict("document {id} was destroyed; there is nothing left to hold", params={"id": document.id},
                       code="document_destroyed")
    hold = LegalHold(document_id=document.id, reason=text, placed_by_id=actor.id, placed_at=now)
    session.add(hold)
    session.flush()
    audit.record(session, actor, "hold.placed", hold, now=now, dossier_id=document.dossier_id,
                 document_id=document.id, reason=text, scope="document")
    return hold


def _visible_hold(session: Session, actor: User, hold_id: int) -> LegalHold:
    hold = session.get(LegalHold, hold_id)
    if hold is None:
        raise NotFound("legal hold {hold_id} not found", params={"hold_id": hold_id}, code="hold_not_found")
    dossier_id = hold.dossier_id
    if dossier_id is None:
        doc = session.get(Document, hold.document_id)
        assert doc is not None
        dossier_id = doc.dossier_id
    try:
        get_dossier(session, actor, dossier_id)
    except NotFound:
        raise NotFound("legal hold {hold_id} not found", params={"hold_id": hold_id}, code="hold_not_found") from None
    return hold


def release_hold(v: Vault, session: Session, actor: User, hold_id: int, reason: Any) -> LegalHold:
    """Legal lifts a hold, saying why."""
    policy.require(actor, "hold.manage")
    hold = _visible_hold(session, actor, hold_id)
    text = _reason(reason)
    if hold.released_at is not None:
        raise Conflict("legal hold {id} was released already", params={"id": hold.id}, code="hold_released")
    now = v.clock.now()
    hold.released_at, hold.released_by_id, hold.release_reason = now, actor.id, text
    dossier_id = hold.dossier_id
    if dossier_id is None:
        doc = session.get(Document, hold.document_id)
        dossier_id = doc.dossier_id if doc else None
    audit.record(session, actor, "hold.released", hold, now=now, dossier_id=dossier_id,
                 document_id=hold.document_id, reason=text, placed_reason=hold.reason)
    return hold


def list_holds(session: Session, actor: User, *, active_only: bool, page: int, per_page: int) -> Page:
    """Holds on dossiers within the actor's clearance (on the dossier or one of its documents), newest
    first; holds above it are neither listed nor counted."""
    policy.require(actor, "hold.list")
    visible = policy.visible_dossier_ids(actor)
    q = select(LegalHold).where(or_(
        LegalHold.dossier_id.in_(visible),
        LegalHold.document_id.in_(select(Document.id).where(Document.dossier_id.in_(visible)))))
    if active_only:
        q = q.where(LegalHold.released_at.is_(None))
    return page_of(session, q.order_by(LegalHold.id.desc()), page, per_page)
