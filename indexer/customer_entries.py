"""The customer file in the search index: a dossier's card, contacts and records as extra index entries.

Every engine indexes entries by a numeric key (``IndexDoc.document_id``). Documents use their own (positive)
ids; the customer file uses negative keys, ``-(id * 4 + kind)``, so the two namespaces never meet and a
checkout of one document (a positive key in ``Scope.document_ids``) never reaches a contact or a record.

Who finds what, inside each engine's query (nothing outside it is matched or counted):

* contacts and records are content: they carry the dossier's secrecy, dossier id and owner like its
  documents, so the engines' ``Scope`` filter lets exactly the dossier's content readers find them
  (content roles within clearance, the owner, an active checkout of the whole dossier);
* the card is dossier metadata, seen by everyone within clearance: its entry's secrecy is
  ``card.<level>``, and `card_scope` gives the caller the ``card.`` form of every level within their
  clearance (``Scope.card_levels``), read in every dossier.

Only non-sensitive card fields are indexed (names, former names, legal representative, organisations'
addresses, business scope, main products); a record's sealed details are, like documents' extracted text,
because only content readers can find a record. Once a dossier's content is destroyed its contacts and
records leave the index (`stale_keys`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from indexer.pg_index import PgIndex
from indexer.search_index import CARD_LEVEL_PREFIX, IndexDoc, SearchIndex
from vault import policy
from vault.core import Vault
from vault.customer_models import CustomerCard
from vault.models import Dossier, DossierStatus, User
from vault.policy import Scope
from vault.relationship_models import Contact, CustomerRecord
from vault.services import sealed_fields

Source = Literal["document", "card", "contact", "record"]
_KIND_CODE: dict[str, int] = {"card": 1, "contact": 2, "record": 3}
_KIND_OF = {code: kind for kind, code in _KIND_CODE.items()}


def entry_key(source: str, object_id: int) -> int:
    """The index key of a card (by dossier id), a contact or a record (by their ids): always negative."""
    return -(object_id * 4 + _KIND_CODE[source])


def decode_key(key: int) -> tuple[Source, int]:
    """What an index key names: ``("document", id)`` for a positive key, else the customer-file entry."""
    if key > 0:
        return "document", key
    n = -key
    source = _KIND_OF[n % 4]
    return source, n // 4  # type: ignore[return-value]


def card_scope(scope: Scope, actor: User) -> Scope:
    """The caller's search scope widened by the card entries of every dossier within their clearance."""
    if not actor.active:
        return scope
    card_levels = tuple(CARD_LEVEL_PREFIX + level.value for level in policy.levels_within_clearance(actor))
    if not card_levels:
        return scope
    return replace(scope, card_levels=card_levels)


def card_text(dossier: Dossier, card: CustomerCard | None) -> str:
    """The card's searchable (non-sensitive) text: former names, legal representative, and for an
    organisation its addresses, business scope and main products."""
    if card is None:
        return ""
    parts = [card.former_names, card.legal_representative]
    if card.customer_kind != "individual":  # an individual's address is sensitive (sealed, never here)
        parts += [card.registered_address, card.business_address, card.business_scope, card.main_products]
    return "\n".join(p for p in parts if p)


def record_text(v: Vault, session: Session, rec: CustomerRecord) -> str:
    """A record's searchable text below its summary: its outcome and its (opened) sealed details."""
    details = sealed_fields.open_value(v, session, rec.dossier_id, "record.details", rec.details_sealed)
    return "\n".join(p for p in (rec.outcome, details or "") if p)


def content_destroyed(dossier: Dossier) -> bool:
    """Whether the dossier's content was destroyed: its contacts and records are no longer searchable."""
    return dossier.status is DossierStatus.DESTROYED


def _entry(dossier: Dossier, key: int, source: str, title: str, content: str, secrecy: str,
           doc_date: date | None = None) -> IndexDoc:
    return IndexDoc(document_id=key, dossier_id=dossier.id, archive_no=dossier.archive_no, doc_type=source,
                    doc_date=doc_date, secrecy=secrecy, title=title, content=content, owner_id=dossier.owner_id)


def dossier_entries(v: Vault, session: Session, dossier: Dossier) -> list[IndexDoc]:
    """The index entries of the dossier's customer file: its card (if it has one), and unless its content
    was destroyed, its contacts and records."""
    card = session.get(CustomerCard, dossier.id)
    secrecy = dossier.secrecy.value
    entries: list[IndexDoc] = []
    if card is not None:  # a dossier older than the card has none to find until it gets one
        entries.append(_entry(dossier, entry_key("card", dossier.id), "card", dossier.customer_name,
                              card_text(dossier, card), CARD_LEVEL_PREFIX + secrecy))
    if content_destroyed(dossier):
        return entries
    for contact in session.scalars(select(Contact).where(Contact.dossier_id == dossier.id)):
        entries.append(_entry(dossier, entry_key("contact", contact.id), "contact", contact.name, "", secrecy))
    for rec in session.scalars(select(CustomerRecord).where(CustomerRecord.dossier_id == dossier.id)):
        entries.append(_entry(dossier, entry_key("record", rec.id), "record", rec.summary,
                              record_text(v, session, rec), secrecy, rec.occurred_at.date()))
    return entries


def stale_keys(session: Session, dossier: Dossier) -> list[int]:
    """The keys to purge from the index: a destroyed dossier's contacts and records (else none)."""
    if not content_destroyed(dossier):
        return []
    contacts = session.scalars(select(Contact.id).where(Contact.dossier_id == dossier.id)).all()
    records = session.scalars(select(CustomerRecord.id).where(CustomerRecord.dossier_id == dossier.id)).all()
    return [entry_key("contact", i) for i in contacts] + [entry_key("record", i) for i in records]


def reindex_customers(v: Vault, index: SearchIndex, dossier_ids: list[int]) -> None:
    """The `REINDEX_CUSTOMER` job: re-add the customer-file entries (card, contacts, records) of these
    dossiers, not their documents; a destroyed dossier's contacts and records leave the index."""
    with v.session() as s:
        docs: list[IndexDoc] = []
        for dossier in s.scalars(select(Dossier).where(Dossier.id.in_(dossier_ids))):
            stale = stale_keys(s, dossier)
            if stale:
                index.delete(stale)
            docs.extend(dossier_entries(v, s, dossier))
        if not docs:
            return
        if isinstance(index, PgIndex):  # an index in the database: in this transaction
            index.add_in(s.connection(), docs)
        else:
            index.add(docs)
