"""A customer's contacts (联系人): several per dossier, phones and e-mail sealed with the dossier's key."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vault import audit
from vault.core import Vault
from vault.errors import Invalid
from vault.models import User
from vault.relationship_models import Contact
from vault.services import customer_access, customer_records, sealed_fields
from vault.services.common import queue_customer_reindex
from vault.services.fields import clean_text, parse_date

DECISION_ROLES = ("decision_maker", "finance", "purchasing", "technical")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{2,30}(?:\s*(?:转|ext\.?|x)\s*[0-9]{1,6})?$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_FIELDS = {"name", "position", "department", "phone", "phones", "email", "decision_role", "primary", "since",
           "left_on"}


@dataclass
class ContactView:
    """A contact as the caller may see it: personal fields None (and `masked`) when they may not read content."""

    id: int
    dossier_id: int
    name: str | None
    position: str | None
    department: str | None
    phones: list[str] | None
    email: str | None
    decision_role: str | None
    primary: bool
    since: date | None
    left_on: date | None
    masked: bool


def _phones(body: dict[str, Any]) -> list[str]:
    raw = body.get("phones", body.get("phone"))
    if raw in (None, ""):
        return []
    items = raw if isinstance(raw, list) else [raw]
    if len(items) > 5:
        raise Invalid("phone", "{field}: at most {n} numbers", params={"n": 5})
    out = []
    for item in items:
        value = clean_text("phone", item, max_len=40)
        if value and not _PHONE.match(value):
            raise Invalid("phone", "{field} must be a phone number of digits, spaces, + ( ) -, like 010-6552 8888")
        if value:
            out.append(value)
    return out


def normalise_phone(value: str) -> str:
    """The digits of a phone number, for the exact-lookup digest (a leading +86 dropped)."""
    digits = re.sub(r"\D", "", value)
    return digits[2:] if digits.startswith("86") and len(digits) > 11 else digits


def _parse(body: dict[str, Any], today: date) -> dict[str, Any]:
    customer_records.refuse_nul(body)
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise Invalid(unknown[0], "{field} is not a field of a contact")
    out: dict[str, Any] = {
        "name": clean_text("name", body.get("name"), required=True, max_len=100),
        "position": clean_text("position", body.get("position"), max_len=100),
        "department": clean_text("department", body.get("department"), max_len=100),
        "phones": _phones(body),
        "email": clean_text("email", body.get("email"), max_len=200),
    }
    if out["email"] and not _EMAIL.match(out["email"]):
        raise Invalid("email", "{field} must be an e-mail address like name@example.com")
    role = body.get("decision_role")
    if role in (None, ""):
        role = None
    elif role not in DECISION_ROLES:
        raise Invalid("decision_role", "{field} must be one of {allowed}",
                      params={"allowed": ", ".join(DECISION_ROLES)})
    out["decision_role"] = role
    primary = body.get("primary", False)
    if not isinstance(primary, bool):
        raise Invalid("primary", "{field} must be true or false")
    out["primary"] = primary
    out["since"] = parse_date("since", body.get("since"))
    out["left_on"] = parse_date("left_on", body.get("left_on"))
    for name in ("since", "left_on"):
        if out[name] is not None and out[name] > today:
            raise Invalid(name, "{field} lies in the future; give the date it happened")
    if out["since"] and out["left_on"] and out["left_on"] < out["since"]:
        raise Invalid("left_on", "{field} comes before the date the contact started")
    return out


def add_contact(v: Vault, session: Session, actor: User, dossier_id: int, body: dict[str, Any]) -> ContactView:
    """Add a contact to a dossier (owner or archivist); phones and e-mail sealed; the audit names no values."""
    dossier = customer_access.visible_dossier(session, actor, dossier_id)
    customer_access.require_add(session, actor, dossier)
    now = v.clock.now()
    data = _parse(body, now.date())
    if data["primary"]:  # one primary contact at a time
        for other in session.scalars(select(Contact).where(Contact.dossier_id == dossier.id,
                                                           Contact.is_primary.is_(True))):
            other.is_primary = False
    phones = "\n".join(data["phones"])
    contact = Contact(
        dossier_id=dossier.id, name=data["name"], position=data["position"], department=data["department"],
        phone_sealed=sealed_fields.seal_value(v, session, dossier.id, "contact.phone", phones) if phones else None,
        email_sealed=sealed_fields.seal_value(v, session, dossier.id, "contact.email", data["email"])
        if data["email"] else None,
        phone_digest=sealed_fields.lookup_digest(v, "phone", normalise_phone(data["phones"][0]))
        if data["phones"] else None,
        decision_role=data["decision_role"], is_primary=data["primary"], since=data["since"],
        left_on=data["left_on"], created_at=now, created_by_id=actor.id)
    session.add(contact)
    session.flush()
    queue_customer_reindex(session, [dossier.id], now)  # the contact's name becomes searchable (to content readers)
    audit.record(session, actor, "contact.added", contact, now=now, dossier_id=dossier.id,
                 fields=sorted(k for k, val in data.items() if val not in (None, "", [], False)))
    return _view(v, session, contact, readable=True)


def _view(v: Vault, session: Session, c: Contact, *, readable: bool) -> ContactView:
    if not readable:
        return ContactView(c.id, c.dossier_id, None, None, None, None, None, c.decision_role, c.is_primary,
                           c.since, c.left_on, True)
    phones = sealed_fields.open_value(v, session, c.dossier_id, "contact.phone", c.phone_sealed)
    return ContactView(c.id, c.dossier_id, c.name, c.position, c.department,
                       [] if not phones else phones.split("\n"),
                       sealed_fields.open_value(v, session, c.dossier_id, "contact.email", c.email_sealed),
                       c.decision_role, c.is_primary, c.since, c.left_on, False)


def list_contacts(v: Vault, session: Session, actor: User, dossier_id: int) -> tuple[list[ContactView], bool]:
    """The dossier's contacts, primary first, and whether the actor reads them (a read is audited).

    Those who may see the dossier but not read its content get how many contacts there are and their decision
    roles, not who they are."""
    dossier = customer_access.visible_dossier(session, actor, dossier_id)
    now = v.clock.now()
    readable = customer_access.can_read_content(session, actor, dossier, now)
    rows = session.scalars(select(Contact).where(Contact.dossier_id == dossier.id)
                           .order_by(Contact.is_primary.desc(), Contact.id)).all()
    if readable and rows:
        audit.record(session, actor, "contacts.read", dossier, now=now, count=len(rows))
    return [_view(v, session, c, readable=readable) for c in rows], readable


def put_contact(v: Vault, session: Session, actor: User, dossier_id: int, body: dict[str, Any]) -> bool:
    """An import's row: the dossier's contact of this name (the natural key: one name, one contact per
    customer) takes the given fields, or a new contact is added. True when one was added.

    Only the fields given change (an empty cell changes nothing); the audit names the fields, no values."""
    dossier = customer_access.visible_dossier(session, actor, dossier_id)
    customer_access.require_add(session, actor, dossier)
    now = v.clock.now()
    data = _parse(body, now.date())
    contact = session.scalar(select(Contact).where(Contact.dossier_id == dossier.id, Contact.name == data["name"])
                             .order_by(Contact.id).limit(1))
    if contact is None:
        add_contact(v, session, actor, dossier.id, body)
        return True
    changed: list[str] = []
    for key, attr in (("position", "position"), ("department", "department"), ("decision_role", "decision_role"),
                      ("since", "since"), ("left_on", "left_on"), ("primary", "is_primary")):
        if key in body and getattr(contact, attr) != data[key]:
            setattr(contact, attr, data[key])
            changed.append(key)
    if data["primary"] and "primary" in changed:
        for other in session.scalars(select(Contact).where(Contact.dossier_id == dossier.id, Contact.id != contact.id,
                                                           Contact.is_primary.is_(True))):
            other.is_primary = False
    phones = "\n".join(data["phones"])
    if ("phone" in body or "phones" in body) and phones != (sealed_fields.open_value(
            v, session, dossier.id, "contact.phone", contact.phone_sealed) or ""):
        contact.phone_sealed = sealed_fields.seal_value(v, session, dossier.id, "contact.phone", phones) \
            if phones else None
        contact.phone_digest = sealed_fields.lookup_digest(v, "phone", normalise_phone(data["phones"][0])) \
            if data["phones"] else None
        changed.append("phone")
    if "email" in body and (data["email"] or "") != (sealed_fields.open_value(
            v, session, dossier.id, "contact.email", contact.email_sealed) or ""):
        contact.email_sealed = sealed_fields.seal_value(v, session, dossier.id, "contact.email", data["email"]) \
            if data["email"] else None
        changed.append("email")
    if changed:
        queue_customer_reindex(session, [dossier.id], now)
        audit.record(session, actor, "contact.updated", contact, now=now, dossier_id=dossier.id, fields=changed)
    return False
