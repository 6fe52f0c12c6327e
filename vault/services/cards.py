"""The customer card of a dossier: read (masked unless the reader may read content), edit with a reason,
its history, and its completeness.

Who reads what: everyone who may see the dossier sees its card; sensitive values (see `card_fields.SEALED`)
come in full only to those who may read the dossier's content (content roles within clearance, the owner,
the backup owner, an active checkout of the whole dossier), and each such read is audited as `card.read`.
Who edits: the owner, the backup owner, archivists, within clearance; every edit needs a reason and is
written to the card's history and the audit trail, sensitive values only as "changed".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vault import audit, policy
from vault.card_values import add_months, mask, normalise, parse_id_number
from vault.core import Vault
from vault.creditcode import credit_code_problem, normalize_credit_code
from vault.customer_models import CardHistory, CardSealed, CustomerCard
from vault.errors import Conflict, Forbidden, Invalid
from vault.grants import active_grants
from vault.models import Dossier, DossierStatus, Role, User
from vault.services import sealed_fields
from vault.services.card_fields import (
    KINDS,
    LOOKUP,
    ON_DOSSIER,
    SEALED,
    add_history,
    clean_card_fields,
    interval_months,
    missing_card_fields,
    sensitive,
)
from vault.services.common import get_dossier, queue_customer_reindex
from vault.services.completeness_flag import refresh_completeness
from vault.services.dossiers import completeness, create_dossier
from vault.services.fields import clean_text

MAX_REASON = 500
_NEW = "new_customer_dossiers"  # session.info: ids of dossiers created in this unit of work


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class CardView:
    fields: dict[str, Any]
    missing: list[str]
    masked: bool


#: the columns of a card nobody has filled in yet (`card_of`; the bulk import writes the same rows)
BLANK_CARD: dict[str, Any] = {
    "customer_kind": "organisation", "id_number_digest": None, "birth_date": None, "gender": None,
    "former_names": "", "legal_representative": "", "registered_address": "", "business_address": "",
    "registered_capital": "", "currency": "", "founded_on": None, "business_scope": "", "main_products": "",
    "staff_size": "", "website": "", "email": "", "bank_name": "", "credit_rating": "", "credit_rating_source": "",
    "credit_rating_on": None, "partner_kind": "", "stage": "prospect", "backup_owner_id": None,
    "last_review_on": None, "reminded_for": None, "updated_at": None}


def card_of(session: Session, dossier: Dossier, *, create: bool = True) -> CustomerCard:
    """The dossier's card row; for a dossier older than the card, an empty organisation's card, stored
    only when ``create`` (a write path), so that reading never writes."""
    card = None if dossier.id in session.info.get(_NEW, ()) else session.get(CustomerCard, dossier.id)
    if card is None:
        card = CustomerCard(dossier_id=dossier.id, **BLANK_CARD)
        if create:
            session.add(card)
            session.flush()
            session.info.get(_NEW, set()).discard(dossier.id)  # found by `get` from now on (the identity map)
    return card


def may_read_content(session: Session, actor: User, dossier: Dossier, now: datetime,
                     card: CustomerCard | None = None) -> bool:
    """The documents' rule for a whole dossier: content roles within clearance, owner, backup owner, a checkout
    of the whole dossier."""
    if not policy.can_see(actor, dossier) or actor.role in (Role.ADMIN, Role.SYSTEM):
        return False
    if actor.role in policy.CONTENT_ROLES or dossier.owner_id == actor.id:
        return True
    card = card if card is not None else session.get(CustomerCard, dossier.id)
    if card is not None and card.backup_owner_id == actor.id:
        return True
    return dossier.id in active_grants(session, actor, now).dossier_ids


def may_edit(actor: User, dossier: Dossier, card: CustomerCard) -> bool:
    """Owner, backup owner and archivists (within clearance) edit a card."""
    if not actor.active or not policy.can_see(actor, dossier):
        return False
    return actor.role in (Role.ARCHIVIST, Role.SYSTEM) or actor.id in (dossier.owner_id, card.backup_owner_id)


_PRELOADED = "card_sealed_preloaded"  # session.info: dossier id -> its sealed rows, each taken once (`preload_sealed`)


def _sealed_rows(session: Session, dossier_id: int) -> dict[str, CardSealed]:
    preloaded = session.info.get(_PRELOADED, {}).pop(dossier_id, None)
    if preloaded is not None:
        return preloaded
    return {r.field: r for r in session.scalars(select(CardSealed).where(CardSealed.dossier_id == dossier_id))}


def preload_sealed(session: Session, dossier_ids: list[int]) -> None:
    """Load the sealed rows of these dossiers in one query, for the next edit of each (an import updating many
    customers); each dossier's rows are taken once, by its next edit or read, so none can go stale."""
    rows: dict[int, dict[str, CardSealed]] = {i: {} for i in dossier_ids}
    for r in session.scalars(select(CardSealed).where(CardSealed.dossier_id.in_(dossier_ids))):
        rows[r.dossier_id][r.field] = r
    session.info.setdefault(_PRELOADED, {}).update(rows)


def forget_preloaded(session: Session) -> None:
    """Drop the preloaded sealed rows not taken (the import is over)."""
    session.info.pop(_PRELOADED, None)


def _store_sealed(v: Vault, session: Session, dossier_id: int, field: str, value: str,
                  rows: dict[str, CardSealed]) -> None:
    row = rows.get(field)
    if not value:
        if row is not None:
            session.delete(row)
            del rows[field]
        return
    try:
        sealed = sealed_fields.seal_value(v, session, dossier_id, f"card.{field}", value)
    except ValueError:
        raise Conflict("this dossier's content was destroyed: its sensitive values cannot be stored again",
                       code="dossier_destroyed") from None
    digest = sealed_fields.lookup_digest(v, field, normalise(field, value)) if field in LOOKUP else None
    if row is None:
        row = CardSealed(dossier_id=dossier_id, field=field)
        session.add(row)
        rows[field] = row
    row.sealed, row.digest = sealed, digest


def _id_number_free(v: Vault, session: Session, digest: str, exclude: int | None) -> None:
    q = select(CustomerCard.dossier_id).where(CustomerCard.id_number_digest == digest)
    if exclude is not None:
        q = q.where(CustomerCard.dossier_id != exclude)
    other = session.scalar(q)
    if other is not None:
        raise Conflict("a dossier for this ID number exists already: one customer, one dossier",
                       code="duplicate_id_number", existing_id=other)


def create_customer(v: Vault, session: Session, actor: User, data: Mapping[str, Any], *,
                    action: str = "dossier.create") -> Dossier:
    """Open a dossier (`dossiers.create_dossier`) with its card: `customer_kind`, and an individual's `id_number`."""
    rest = {k: val for k, val in data.items() if k not in ("customer_kind", "id_number")}
    dossier = create_dossier(v, session, actor, rest, action=action)
    # new in this session: no card nor key to look for (a query saved per row of an import)
    session.info.setdefault(_NEW, set()).add(dossier.id)
    sealed_fields.mark_new(session, dossier.id)
    init_card(v, session, dossier, data.get("customer_kind"), data.get("id_number"))
    if dossier.next_review_date is None:  # the first periodic review: the grade's interval from today
        dossier.next_review_date = add_months(v.clock.now().date(), interval_months(v.settings, dossier.grade))
    return dossier


def init_card(v: Vault, session: Session, dossier: Dossier, kind: Any, id_number: Any) -> CustomerCard:
    """The card of a new dossier: its kind, and for an individual the validated ID number (409 if taken)."""
    kind = "organisation" if kind in (None, "") else kind
    if kind not in KINDS:
        raise Invalid("customer_kind", "{field} must be one of {allowed}", params={"allowed": ", ".join(KINDS)})
    card = card_of(session, dossier)
    card.customer_kind = kind
    if kind == "organisation":
        if id_number not in (None, ""):
            raise Invalid("id_number", "an organisation has a credit code, not an ID number; "
                          "set customer_kind to individual for a person")
        return card
    if id_number in (None, ""):
        raise Invalid("id_number", "an individual customer needs a resident ID number (id_number)")
    if dossier.credit_code is not None:
        raise Invalid("credit_code", "an individual customer has an ID number, not a credit code")
    fields = clean_card_fields(session, "individual", {"id_number": id_number}, v.clock.now().date())
    _apply_id_number(v, session, dossier, card, fields["id_number"])
    _store_sealed(v, session, dossier.id, "id_number", fields["id_number"], _sealed_rows(session, dossier.id))
    return card


def _apply_id_number(v: Vault, session: Session, dossier: Dossier, card: CustomerCard, number: str) -> None:
    if not number:
        card.id_number_digest, card.birth_date, card.gender = None, None, card.gender
        return
    rid = parse_id_number(number, v.clock.now().date())
    digest = sealed_fields.lookup_digest(v, "id_number", rid.number)
    _id_number_free(v, session, digest, dossier.id)
    card.id_number_digest, card.birth_date, card.gender = digest, rid.birth_date, rid.gender
    try:
        session.flush()  # two requests with one ID number at once: the unique digest stops the second here
    except IntegrityError:
        raise Conflict("a dossier for this ID number exists already: one customer, one dossier",
                       code="duplicate_id_number") from None


def _plain_value(session: Session, dossier: Dossier, card: CustomerCard, field: str) -> Any:
    if field in ON_DOSSIER:
        value = getattr(dossier, ON_DOSSIER[field])
        return getattr(value, "value", value)
    if field == "backup_owner":
        user = session.get(User, card.backup_owner_id) if card.backup_owner_id else None
        return None if user is None else user.username
    value = getattr(card, field)
    return value.isoformat() if isinstance(value, date) else value


def read_card(v: Vault, session: Session, actor: User, dossier_id: int, *, reveal: bool = True,
              only: tuple[str, ...] | None = None) -> CardView:
    """The card as the actor may see it; a read of sensitive values in full is audited.

    ``reveal=False``: sensitive values masked even for those who may read them (an edit form), nothing audited.
    ``only``: just these fields (an export of contacts naming their customer), so that the audit names only the
    values read."""
    from config.settings import CARD_FIELDS

    dossier = get_dossier(session, actor, dossier_id)
    card = card_of(session, dossier, create=False)
    full = reveal and may_read_content(session, actor, dossier, v.clock.now(), card)
    rows = _sealed_rows(session, dossier.id)
    fields: dict[str, Any] = {"customer_kind": card.customer_kind, "owner": dossier.owner.username,
                              "next_review_date": None if dossier.next_review_date is None
                              else dossier.next_review_date.isoformat(),
                              "last_review_on": _iso(card.last_review_on)}
    revealed: list[str] = []
    for field in CARD_FIELDS[card.customer_kind]:
        if only is not None and field not in only:
            continue
        if field not in SEALED:
            fields[field] = _plain_value(session, dossier, card, field)
            continue
        row = rows.get(field)
        value = None if row is None else sealed_fields.open_value(v, session, dossier.id, f"card.{field}", row.sealed)
        if value is None or not sensitive(card.customer_kind, field):
            fields[field] = value
        elif full:
            fields[field] = value
            revealed.append(field)
        else:
            fields[field] = mask(field, value)
    if revealed:
        audit.record(session, actor, "card.read", dossier, now=v.clock.now(), fields=revealed)
    masked = not full and any(sensitive(card.customer_kind, f) and f in rows for f in SEALED)
    return CardView(fields, missing_card_fields(v.settings, session, dossier), masked)


def completeness_view(v: Vault, dossier: Dossier) -> dict[str, list[str]]:
    """One view of what the dossier lacks: card fields, document types, stale credit reports."""
    return completeness(v, dossier)


def clean_reason(raw: Any) -> str:
    """A change's reason (变更原因): required, at most MAX_REASON characters."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise Invalid("reason", "a reason for the change is required (变更原因)", code="reason_required")
    return clean_text("reason", raw, required=True, max_len=MAX_REASON)


def _credit_code(session: Session, dossier: Dossier, raw: Any) -> str | None:
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        raise Invalid("credit_code", "credit_code must be text")
    code = normalize_credit_code(raw)
    problem = credit_code_problem(code)
    if problem:
        raise Invalid("credit_code", "统一社会信用代码无效 / invalid credit code: {problem}",
                      params={"problem": problem}, code="invalid_credit_code")
    other = session.scalar(select(Dossier).where(Dossier.credit_code == code, Dossier.id != dossier.id))
    if other is not None:
        raise Conflict("a dossier for credit code {code} exists already ({archive_no}): one customer, one dossier",
                       params={"code": code, "archive_no": other.archive_no}, code="duplicate_credit_code",
                       existing_id=other.id)
    return code


def update_card(v: Vault, session: Session, actor: User, dossier_id: int, body: Mapping[str, Any]) -> CardView:
    """Change card fields with a reason: each change into the history and the audit trail, then the card."""
    edit_card(v, session, actor, get_dossier(session, actor, dossier_id), body)
    return read_card(v, session, actor, dossier_id)


def edit_card(v: Vault, session: Session, actor: User, dossier: Dossier, body: Mapping[str, Any]) -> None:
    """`update_card` of a dossier the actor sees, without reading the card back (an import's rows)."""
    card = card_of(session, dossier)
    if not may_edit(actor, dossier, card):
        raise Forbidden("only the owner, the backup owner or an archivist edits this card", code="forbidden")
    reason = clean_reason(body.get("reason"))
    if dossier.status is DossierStatus.DESTROYED:
        raise Conflict("this dossier was destroyed and cannot change", code="dossier_destroyed")
    fields = clean_card_fields(session, card.customer_kind, body.get("fields"), v.clock.now().date())
    if "credit_code" in fields:
        fields["credit_code"] = _credit_code(session, dossier, fields["credit_code"])
    rows = _sealed_rows(session, dossier.id)
    now = v.clock.now()
    changed: dict[str, Any] = {}
    for field, new in fields.items():
        if field in SEALED:
            row = rows.get(field)
            old = None if row is None else sealed_fields.open_value(v, session, dossier.id, f"card.{field}", row.sealed)
            if (old or "") == new:
                continue
            if field == "id_number":
                if not new:
                    raise Invalid("id_number", "an individual customer needs a resident ID number (id_number)")
                _apply_id_number(v, session, dossier, card, new)
            _store_sealed(v, session, dossier.id, field, new, rows)
            secret = sensitive(card.customer_kind, field)
            add_history(session, actor, dossier, field, old, new, reason, now, secret=secret)
            changed[field] = {"changed": True} if secret else {"old": old, "new": new}
            continue
        old = _plain_value(session, dossier, card, field)
        shown = getattr(new, "value", new)
        shown = shown.isoformat() if isinstance(shown, date) else shown
        if field == "backup_owner":
            new_user = session.get(User, new) if new else None
            shown = None if new_user is None else new_user.username
            if new is not None and new == dossier.owner_id:
                raise Invalid("backup_owner", "the backup owner must be someone other than the owner")
        if old == shown or (old in (None, "") and shown in (None, "")):
            continue
        if field in ON_DOSSIER:
            setattr(dossier, ON_DOSSIER[field], new)
        elif field == "backup_owner":
            card.backup_owner_id = new
        else:
            setattr(card, field, new)
        add_history(session, actor, dossier, field, old, shown, reason, now)
        changed[field] = {"old": old, "new": shown}
    if changed:
        card.updated_at = dossier.updated_at = now
        audit.record(session, actor, "card.updated", dossier, now=now, changes=changed, reason=reason)
        # the card's text is searchable: the worker re-adds the dossier's customer-file entries
        queue_customer_reindex(session, [dossier.id], now)
    session.flush()


def history(session: Session, actor: User, dossier_id: int) -> list[CardHistory]:
    """The dossier's card, stage, grade, owner and review history, oldest first (for all who see it)."""
    dossier = get_dossier(session, actor, dossier_id)
    return list(session.scalars(select(CardHistory).where(CardHistory.dossier_id == dossier.id)
                                .order_by(CardHistory.id)).all())


def erase_secrets(session: Session, dossier_id: int) -> bool:
    """Destruction of a dossier's content: its key erased, its sealed values and lookup digests gone."""
    erased = sealed_fields.erase_dossier_key(session, dossier_id)
    session.execute(delete(CardSealed).where(CardSealed.dossier_id == dossier_id))
    card = session.get(CustomerCard, dossier_id)
    if card is not None:
        card.id_number_digest = None
    refresh_completeness(session, [dossier_id])  # the delete above bypasses the ORM's flush listener
    return erased
