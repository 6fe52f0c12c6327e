"""Item numbers (件号): each document of a dossier gets the next number of its dossier, never reused.

Shown with the archive number, the item code (KH-2026-000123-007) is what the archive writes on the
paper and may use as a contract's filing number."""

from __future__ import annotations

from sqlalchemy import bindparam, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vault.errors import Conflict
from vault.models import Document
from vault.paper_models import DossierItemCounter

_BUMP = (update(DossierItemCounter).where(DossierItemCounter.dossier_id == bindparam("dossier"))
         .values(last_value=DossierItemCounter.last_value + 1).returning(DossierItemCounter.last_value))


def next_item_no(session: Session, dossier_id: int) -> int:
    """Take the dossier's next item number from its counter row (locked by the update until commit).

    A plain statement on the session's connection: no flush of what the session holds, no ORM bookkeeping
    (every upload takes a number; the counter row is never loaded as an object)."""
    for _ in range(3):
        bumped = session.connection().execute(_BUMP, {"dossier": dossier_id}).scalar_one_or_none()
        if bumped is not None:
            return int(bumped)
        try:
            with session.begin_nested():
                session.add(DossierItemCounter(dossier_id=dossier_id, last_value=0))
        except IntegrityError:
            continue
    raise Conflict("could not allocate an item number; try again")


def assign_item_no(session: Session, document: Document) -> int:
    """Give a new document its item number (once: a numbered document keeps its number)."""
    if document.item_no is None:
        document.item_no = next_item_no(session, document.dossier.id)
    return document.item_no


def item_code(archive_no: str, item_no: int | None) -> str | None:
    """The archive number with the item number: KH-2026-000123-007 (None before a number is given)."""
    return None if item_no is None else f"{archive_no}-{item_no:03d}"
