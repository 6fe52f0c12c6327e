"""What active checkouts grant a user right now (the checkout workflow fills this in)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from vault.models import User


@dataclass(frozen=True)
class Grants:
    """Dossiers readable wholly and single documents readable, through active checkouts."""

    dossier_ids: frozenset[int] = field(default_factory=frozenset)
    document_ids: frozenset[int] = field(default_factory=frozenset)
    copy_document_ids: frozenset[int] = field(default_factory=frozenset)  # may download a stamped copy
    copy_dossier_ids: frozenset[int] = field(default_factory=frozenset)


def active_grants(session: Session, user: User, now: datetime) -> Grants:
    """Grants from checkouts that are active at `now` (none before the checkout workflow exists)."""
    return Grants()
