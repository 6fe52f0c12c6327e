"""The customer card (客户资料卡) of a dossier: its fields, sealed values, history, reviews, owner changes.

Plain card fields live in `customer_cards`, one row per dossier. Sensitive values (ID number, bank
account, individuals' phone and address, financial figures) live only sealed, in `card_sealed`, each with
the keyed lookup digest that finds equal values without plaintext. `card_history` is what everyone who
sees the dossier sees of its changes (never a sensitive value); `card_reviews` the periodic reviews;
`owner_changes` the two-person changes of owner.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vault.models import Base


class CustomerCard(Base):
    __tablename__ = "customer_cards"
    # the list's stage and kind filters find their dossiers without reading the cards (revision 0015)
    __table_args__ = (
        Index("ix_customer_cards_stage_kind", "stage", "customer_kind", postgresql_include=["dossier_id"]),
        Index("ix_customer_cards_kind", "customer_kind", postgresql_include=["dossier_id"]),
    )

    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), primary_key=True)
    customer_kind: Mapped[str] = mapped_column(String(16), default="organisation")
    # one dossier per resident ID number: the ID number's lookup digest, unique (NULL for organisations)
    id_number_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    birth_date: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(8))
    former_names: Mapped[str] = mapped_column(Text, default="")
    legal_representative: Mapped[str] = mapped_column(String(100), default="")
    registered_address: Mapped[str] = mapped_column(String(300), default="")
    business_address: Mapped[str] = mapped_column(String(300), default="")
    registered_capital: Mapped[str] = mapped_column(String(32), default="")  # a decimal as text
    currency: Mapped[str] = mapped_column(String(3), default="")
    founded_on: Mapped[date | None] = mapped_column(Date)
    business_scope: Mapped[str] = mapped_column(Text, default="")
    main_products: Mapped[str] = mapped_column(Text, default="")
    staff_size: Mapped[str] = mapped_column(String(32), default="")
    website: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    bank_name: Mapped[str] = mapped_column(String(100), default="")
    credit_rating: Mapped[str] = mapped_column(String(32), default="")
    credit_rating_source: Mapped[str] = mapped_column(String(100), default="")
    credit_rating_on: Mapped[date | None] = mapped_column(Date)
    partner_kind: Mapped[str] = mapped_column(String(24), default="")
    stage: Mapped[str] = mapped_column(String(16), default="prospect", index=True)
    backup_owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    last_review_on: Mapped[date | None] = mapped_column(Date)
    reminded_for: Mapped[date | None] = mapped_column(Date)  # the review date a reminder was sent for
    updated_at: Mapped[datetime | None]


class CardSealed(Base):
    """One sensitive card value, sealed with the dossier's key; `digest` finds equal values (lookup)."""

    __tablename__ = "card_sealed"
    __table_args__ = (UniqueConstraint("dossier_id", "field"), Index("ix_card_sealed_digest", "field", "digest"))

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"))
    field: Mapped[str] = mapped_column(String(32))
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    digest: Mapped[str | None] = mapped_column(String(64))


class CardHistory(Base):
    """One change of a card field, stage, grade, owner, or a review: who, when, old -> new, why."""

    __tablename__ = "card_history"
    __table_args__ = (Index("ix_card_history_dossier", "dossier_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"))
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(48))
    old: Mapped[str | None] = mapped_column(Text)  # None for a sensitive field: only "changed" is told
    new: Mapped[str | None] = mapped_column(Text)
    sensitive: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str] = mapped_column(Text, default="")


class CardReview(Base):
    """A periodic review (定期审查): what was confirmed or corrected, the decision, the next date."""

    __tablename__ = "card_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), index=True)
    reviewed_on: Mapped[date] = mapped_column(Date)
    at: Mapped[datetime]
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    result: Mapped[str] = mapped_column(String(16))
    grade: Mapped[str] = mapped_column(String(1))
    stage: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    next_review_on: Mapped[date] = mapped_column(Date)
    checked: Mapped[dict[str, Any]]  # the completeness seen at the review: missing fields and types, stale reports


class OwnerChange(Base):
    """A requested change of a dossier's owner (客户信息归属): applied once a manager approves."""

    __tablename__ = "owner_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), index=True)
    to_owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
