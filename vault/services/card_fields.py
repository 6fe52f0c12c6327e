"""The customer card's fields: which exist per customer kind, which are sealed, how raw input is cleaned.

`clean_card_fields` turns a PATCH body's `fields` into values, refusing unknown fields, wrong kinds,
malformed dates and amounts, and text over its limit, each by name; it never echoes a sensitive value
back in its message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.settings import CARD_FIELDS
from vault.card_values import digits_only, id_number_problem, normalise_id_number
from vault.customer_models import CardHistory, CardSealed, CustomerCard
from vault.errors import Invalid
from vault.models import CustomerType, Dossier, Grade, Role, User
from vault.services.fields import clean_text, parse_date

if TYPE_CHECKING:
    from config.settings import Settings

KINDS = ("organisation", "individual")
STAGES = ("prospect", "target", "potential", "inactive", "customer", "lost")
PARTNER_KINDS = ("law_firm", "accountant", "bank", "insurer", "advertising_pr", "financing")
GENDERS = ("male", "female")

#: sealed with the dossier's key, never stored in plaintext
SEALED = ("id_number", "bank_account", "phone", "address", "total_assets", "annual_income", "total_debts")
#: exact lookup by a keyed digest
LOOKUP = ("id_number", "phone", "bank_account")
FINANCIAL = ("total_assets", "annual_income", "total_debts")
#: kept on the dossier row itself (the card shows and edits them)
ON_DOSSIER = {"customer_name": "customer_name", "credit_code": "credit_code", "relationship": "customer_type",
              "grade": "grade"}
DERIVED = ("birth_date",)  # from the ID number, never typed

_TEXT_LIMITS = {"former_names": 1000, "business_scope": 2000, "main_products": 1000, "registered_address": 300,
                "business_address": 300, "address": 300, "legal_representative": 100, "staff_size": 32,
                "website": 200, "email": 200, "bank_name": 100, "credit_rating": 32, "credit_rating_source": 100,
                "customer_name": 200}
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


def sensitive(kind: str, field: str) -> bool:
    """Whether a field is masked for those who may not read the dossier's content (an organisation's phone is not)."""
    if field == "phone":
        return kind == "individual"
    return field in SEALED


def _choice(field: str, raw: Any, allowed: tuple[str, ...]) -> str:
    if raw not in allowed:
        raise Invalid(field, "{field} must be one of {allowed}", params={"allowed": ", ".join(allowed)})
    return str(raw)


def _amount(field: str, raw: Any) -> str:
    """A non-negative decimal as text (amounts are kept exact, never as floats)."""
    if raw in (None, ""):
        return ""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise Invalid(field, "{field} must be an amount like 1000000.00")
    try:
        value = Decimal(str(raw).replace(",", "").strip())
    except InvalidOperation:
        raise Invalid(field, "{field} must be an amount like 1000000.00") from None
    if not value.is_finite() or value < 0 or value > Decimal("1e15"):
        raise Invalid(field, "{field} must be an amount like 1000000.00")
    return format(value.quantize(Decimal("0.01")), "f")


def _past_date(field: str, raw: Any, today: date) -> date | None:
    value = parse_date(field, raw)
    if value is not None and value > today:
        raise Invalid(field, "{field} cannot be in the future")
    return value


def _user(session: Session, field: str, raw: Any) -> int | None:
    if raw in (None, ""):
        return None
    user = session.scalar(select(User).where(User.username == raw)) if isinstance(raw, str) else None
    if user is None or not user.active or user.role in (Role.ADMIN, Role.SYSTEM):
        raise Invalid(field, "{field} must be the user name of an active employee")
    return user.id


def _sealed_value(field: str, raw: Any, today: date) -> str:
    """A sensitive value, checked; the message never repeats it."""
    if raw is None or raw == "":
        return ""
    if not isinstance(raw, str):
        if field in FINANCIAL:
            return _amount(field, raw)
        raise Invalid(field, "{field} must be text")
    if field == "id_number":
        problem = id_number_problem(raw, today)
        if problem is not None:
            raise Invalid(field, "身份证号码无效 / invalid ID number: {problem}", params={"problem": problem},
                          code="invalid_id_number")
        return normalise_id_number(raw)
    if field == "bank_account":
        digits = digits_only(raw)
        if not 8 <= len(digits) <= 30 or len(digits) < len(re.sub(r"[\s-]", "", raw)):
            raise Invalid(field, "{field} must be 8 to 30 digits (spaces and dashes allowed)")
        return digits
    if field == "phone":
        digits = digits_only(raw)
        if not 5 <= len(digits) <= 20 or re.search(r"[^\d\s+()\-－＋（）]", raw):
            raise Invalid(field, "{field} must be a phone number of 5 to 20 digits")
        return " ".join(raw.split())
    if field in FINANCIAL:
        return _amount(field, raw)
    return clean_text(field, raw, max_len=_TEXT_LIMITS.get(field, 200))


def clean_card_fields(session: Session, kind: str, raw: Any, today: date) -> dict[str, Any]:
    """Cleaned values of the given card fields (field name -> value); Invalid naming the first bad one."""
    if not isinstance(raw, Mapping) or not raw:
        raise Invalid("fields", "fields must be an object of card fields to change, e.g. {\"phone\": \"...\"}")
    known = CARD_FIELDS[kind]
    out: dict[str, Any] = {}
    for field, value in raw.items():
        if field not in known or field in DERIVED:
            raise Invalid(str(field)[:48], "{field} is not a field of a card of this customer kind ({kind})",
                          params={"kind": kind}, code="unknown_field")
        if field in SEALED:
            out[field] = _sealed_value(field, value, today)
        elif field == "customer_name":
            out[field] = clean_text(field, value, required=True, max_len=200)
        elif field == "credit_code":
            out[field] = value  # checked by the dossier's own rule (vault/creditcode.py)
        elif field == "relationship":
            out[field] = CustomerType(_choice(field, value, tuple(t.value for t in CustomerType)))
        elif field == "grade":
            out[field] = Grade(_choice(field, value, tuple(g.value for g in Grade)))
        elif field == "stage":
            out[field] = _choice(field, value, STAGES)
        elif field == "partner_kind":
            out[field] = "" if value in (None, "") else _choice(field, value, PARTNER_KINDS)
        elif field == "gender":
            out[field] = None if value in (None, "") else _choice(field, value, GENDERS)
        elif field == "backup_owner":
            out[field] = _user(session, field, value)
        elif field in ("founded_on", "credit_rating_on"):
            out[field] = _past_date(field, value, today)
        elif field == "registered_capital":
            out[field] = _amount(field, value)
        elif field == "currency":
            text = clean_text(field, value, max_len=3).upper()
            if text and not _CURRENCY_RE.match(text):
                raise Invalid(field, "{field} must be a three-letter currency code like CNY or USD")
            out[field] = text
        else:
            text = clean_text(field, value, max_len=_TEXT_LIMITS.get(field, 200))
            if field == "email" and text and not _EMAIL_RE.match(text):
                raise Invalid(field, "{field} must be an e-mail address like name@example.com")
            out[field] = text
    return out


def missing_card_fields(settings: Settings, session: Session, dossier: Dossier) -> list[str]:
    """The card fields the settings require for the dossier's customer kind that are empty (no card: all)."""
    card = session.get(CustomerCard, dossier.id)
    kind = "organisation" if card is None else card.customer_kind
    required = getattr(settings, f"required_card_fields_{kind}")
    sealed = set(session.scalars(select(CardSealed.field).where(CardSealed.dossier_id == dossier.id)))
    missing = []
    for field in required:
        if field in SEALED:
            present = field in sealed
        elif field in ON_DOSSIER:
            present = getattr(dossier, ON_DOSSIER[field]) not in (None, "")
        elif field == "backup_owner":
            present = card is not None and card.backup_owner_id is not None
        else:
            present = card is not None and getattr(card, field) not in (None, "")
        if not present:
            missing.append(field)
    return missing


def interval_months(settings: Settings, grade: Grade) -> int:
    """Months between periodic reviews for this grade (settings review_months_a .. _d)."""
    return int(getattr(settings, f"review_months_{grade.value.lower()}"))


def add_history(session: Session, actor: User, dossier: Dossier, field: str, old: Any, new: Any, reason: str,
                now: datetime, *, secret: bool = False) -> None:
    """Append one line of the dossier's card history (a sensitive value only as 'changed')."""
    session.add(CardHistory(**history_row(actor, dossier.id, field, old, new, reason, now, secret=secret)))


def history_row(actor: User, dossier_id: int, field: str, old: Any, new: Any, reason: str, now: datetime, *,
                secret: bool = False) -> dict[str, Any]:
    """The columns of one card history line (`add_history`; a bulk import inserts many at once)."""
    return {"dossier_id": dossier_id, "at": now, "actor_id": actor.id, "actor_name": actor.username,
            "field": field, "old": None if secret or old is None else str(old),
            "new": None if secret or new is None else str(new), "sensitive": secret, "reason": reason}
