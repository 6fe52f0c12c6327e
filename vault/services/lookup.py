"""Exact lookup: "whose ID number / phone / bank account is this?", answered without stored plaintext.

The value is normalised and digested with the keyring's lookup key (`sealed_fields.lookup_digest`), and
matched against the digests stored beside the sealed values. Only dossiers within the caller's clearance
are answered; each lookup is audited without the value (its kind and how many dossiers matched).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from vault import audit, policy
from vault.card_values import normalise
from vault.core import Vault
from vault.customer_models import CardSealed
from vault.errors import Invalid
from vault.models import Dossier, User
from vault.services.card_fields import LOOKUP
from vault.services.sealed_fields import lookup_digest

MAX_VALUE = 64


def lookup(v: Vault, session: Session, actor: User, body: Mapping[str, Any]) -> list[Dossier]:
    """The dossiers the actor may see that hold exactly this value (one of `LOOKUP`), oldest first."""
    policy.require(actor, "search")
    given = [k for k in LOOKUP if k in body]
    unknown = sorted(set(body) - set(LOOKUP))
    if unknown or len(given) != 1:
        raise Invalid(unknown[0][:48] if unknown else "id_number",
                      "send exactly one of id_number, phone or bank_account", code="one_lookup_value")
    kind = given[0]
    raw = body[kind]
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_VALUE:
        raise Invalid(kind, "{field} must be text of 1 to 64 characters")
    value = normalise(kind, raw)
    if not value:
        raise Invalid(kind, "{field} must contain digits")
    digest = lookup_digest(v, kind, value)
    rows = session.scalars(
        select(Dossier).join(CardSealed, CardSealed.dossier_id == Dossier.id)
        .where(CardSealed.field == kind, CardSealed.digest == digest,
               Dossier.secrecy.in_(policy.levels_within_clearance(actor)))
        .order_by(Dossier.id).options(joinedload(Dossier.owner))  # the answer names each owner
    ).all()
    audit.record(session, actor, "card.lookup", now=v.clock.now(), kind=kind, matches=len(rows))
    return list(rows)
