"""What active checkouts grant a user right now: access ends by itself at the due date."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from vault.models import Checkout, CheckoutKind, CheckoutStatus, User


@dataclass(frozen=True)
class Grants:
    """Dossiers readable wholly and single documents readable, through active checkouts."""

    dossier_ids: frozenset[int] = field(default_factory=frozenset)
    document_ids: frozenset[int] = field(default_factory=frozenset)
    copy_document_ids: frozenset[int] = field(default_factory=frozenset)  # may download a stamped copy
    copy_dossier_ids: frozenset[int] = field(default_factory=frozenset)


def granting_checkouts(session: Session, user: User, now: datetime) -> list[Checkout]:
    """The user's electronic checkouts that are active and not yet due at `now`."""
    return list(session.scalars(
        select(Checkout).options(selectinload(Checkout.items))
        .where(Checkout.requester_id == user.id, Checkout.status == CheckoutStatus.ACTIVE,
               Checkout.kind.in_((CheckoutKind.VIEW, CheckoutKind.COPY)),
               Checkout.active_from <= now, Checkout.due_at > now)
        .order_by(Checkout.id)
    ).all())


def active_grants(session: Session, user: User, now: datetime) -> Grants:
    """Grants from checkouts that are active at `now`; a `copy` checkout also grants the stamped download."""
    dossiers: set[int] = set()
    documents: set[int] = set()
    copy_dossiers: set[int] = set()
    copy_documents: set[int] = set()
    if not user.active:
        return Grants()
    for checkout in granting_checkouts(session, user, now):
        chosen = checkout.document_ids
        copy = checkout.kind is CheckoutKind.COPY
        if chosen:
            documents.update(chosen)
            if copy:
                copy_documents.update(chosen)
        else:
            dossiers.add(checkout.dossier_id)
            if copy:
                copy_dossiers.add(checkout.dossier_id)
    return Grants(frozenset(dossiers), frozenset(documents), frozenset(copy_documents), frozenset(copy_dossiers))
