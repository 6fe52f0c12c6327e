"""Tables of the running customer relationship: contacts (联系人) and records of contact (往来记录).

Personal values (a contact's phones and e-mail, a record's details) are sealed with the dossier's data key
(`vault.services.sealed_fields`): the columns ending in ``_sealed`` hold ciphertext only.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vault.models import Base, Dossier, User


class Contact(Base):
    """A person at the customer (several per dossier); phones and e-mail sealed."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[str] = mapped_column(String(100), default="")
    department: Mapped[str] = mapped_column(String(100), default="")
    phone_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    email_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_digest: Mapped[str | None] = mapped_column(String(64), index=True)  # sealed_fields.lookup_digest
    decision_role: Mapped[str | None] = mapped_column(String(24))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    since: Mapped[date | None] = mapped_column(Date)
    left_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    dossier: Mapped[Dossier] = relationship(foreign_keys=[dossier_id])


class CustomerRecord(Base):
    """One entry of a dossier's register of contact; never edited or deleted (a correction is a new row).

    Complaint status, handler and the notices sent are the only columns that change after insertion."""

    __tablename__ = "customer_records"
    __table_args__ = (Index("ix_customer_records_assignee_due", "assignee_id", "next_action_due"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    occurred_at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(40), default="")
    staff_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    contact_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    summary: Mapped[str] = mapped_column(String(300))
    details_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    outcome: Mapped[str] = mapped_column(String(1000), default="")
    next_action: Mapped[str] = mapped_column(String(300), default="")
    next_action_due: Mapped[date | None] = mapped_column(Date)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_notified_at: Mapped[datetime | None]
    document_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("customer_records.id"))
    follow_up_of_id: Mapped[int | None] = mapped_column(ForeignKey("customer_records.id"))
    # complaints (投诉)
    status: Mapped[str | None] = mapped_column(String(16))
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    deadline: Mapped[date | None] = mapped_column(Date)
    result: Mapped[str] = mapped_column(Text, default="")
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    status_changed_at: Mapped[datetime | None]
    overdue_notified_at: Mapped[datetime | None]
    # transactions (交易): the amount in hundredths of the currency unit, exact
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    item: Mapped[str] = mapped_column(String(300), default="")
    payment_terms: Mapped[str] = mapped_column(String(300), default="")
    contract_document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    created_at: Mapped[datetime]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    dossier: Mapped[Dossier] = relationship(foreign_keys=[dossier_id])
    staff: Mapped[User] = relationship(foreign_keys=[staff_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    handler: Mapped[User | None] = relationship(foreign_keys=[handler_id])
