"""The paper side's tables: transfers into the archive (移交/接收), their items, and the counters behind
item numbers (件号) and receipt numbers (接收登记号). Declared on `vault.models.Base`; migration 0010."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vault.models import Base, DocType, Document, Dossier, User, _enum

#: an item number is given once per dossier: a destroyed document keeps its number, nobody else gets it
Index("ux_documents_dossier_item_no", Document.dossier_id, Document.item_no, unique=True)


class DossierItemCounter(Base):
    """The last item number handed out in a dossier (never reused, even after destruction)."""

    __tablename__ = "dossier_item_counters"

    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), primary_key=True, autoincrement=False)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class ReceiptCounter(Base):
    """The last receipt number of a year in the receipt register (接收登记)."""

    __tablename__ = "receipt_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class TransferStatus(enum.StrEnum):
    """Stored states; `overdue` is derived from the deadline and never stored."""

    SENT = "sent"  # handed over by the sender, waiting for a check or the archivist
    RETURNED = "returned"  # sent back by the checker with what is missing; the sender sends it again
    CHECKED = "checked"  # a second person confirmed the list
    RECEIVED = "received"  # the archivist received it item by item; registered; documents made


OPEN_TRANSFER_STATES = (TransferStatus.SENT, TransferStatus.RETURNED, TransferStatus.CHECKED)


class ItemState(enum.StrEnum):
    PRESENT = "present"
    MISSING = "missing"
    DIFFERS = "differs"


class Transfer(Base):
    """A hand-over of paper into the archive: its item list, who checked it, who received it and when."""

    __tablename__ = "transfers"
    __table_args__ = (Index("ix_transfers_status_deadline", "status", "deadline"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), index=True)
    status: Mapped[TransferStatus] = mapped_column(_enum(TransferStatus), default=TransferStatus.SENT)
    note: Mapped[str] = mapped_column(Text, default="")
    business_date: Mapped[date] = mapped_column(Date)
    deadline: Mapped[date] = mapped_column(Date)
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    sent_at: Mapped[datetime]
    checked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    checked_at: Mapped[datetime | None]
    returned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    returned_at: Mapped[datetime | None]
    return_note: Mapped[str | None] = mapped_column(Text)
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    received_at: Mapped[datetime | None]
    receipt_no: Mapped[str | None] = mapped_column(String(32), unique=True)
    sender_confirmed_at: Mapped[datetime | None]
    overdue_notified_at: Mapped[datetime | None]

    dossier: Mapped[Dossier] = relationship()
    sender: Mapped[User] = relationship(foreign_keys=[sender_id])
    checked_by: Mapped[User | None] = relationship(foreign_keys=[checked_by_id])
    returned_by: Mapped[User | None] = relationship(foreign_keys=[returned_by_id])
    received_by: Mapped[User | None] = relationship(foreign_keys=[received_by_id])
    items: Mapped[list[TransferItem]] = relationship(
        back_populates="transfer", cascade="all, delete-orphan", order_by="TransferItem.position")

    def is_overdue(self, today: date) -> bool:
        return self.status in OPEN_TRANSFER_STATES and self.deadline < today

    def display_status(self, today: date) -> str:
        return "overdue" if self.is_overdue(today) else self.status.value


class TransferItem(Base):
    """One listed item of a transfer; after receipt, its state and the document it became."""

    __tablename__ = "transfer_items"
    __table_args__ = (UniqueConstraint("transfer_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("transfers.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1-based, the "index" of the API
    title: Mapped[str] = mapped_column(String(300))
    doc_type: Mapped[DocType] = mapped_column(_enum(DocType))
    doc_date: Mapped[date | None] = mapped_column(Date)
    pages: Mapped[int] = mapped_column(Integer)
    original: Mapped[bool] = mapped_column(Boolean, default=True)
    responsible: Mapped[str] = mapped_column(String(200), default="")  # 责任者
    remarks: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[ItemState | None] = mapped_column(_enum(ItemState))
    receive_note: Mapped[str | None] = mapped_column(Text)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), index=True)

    transfer: Mapped[Transfer] = relationship(back_populates="items")
    document: Mapped[Document | None] = relationship()


class CalendarDay(Base):
    """A day that is not what its weekday says (migration 0017): a public holiday on a weekday, or a
    make-up working day (调休) on a weekend. Deadlines counted in working days skip the holidays and count
    the make-up days; every other day is a working day from Monday to Friday."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    working: Mapped[bool] = mapped_column(Boolean)  # false: a holiday; true: a make-up working day
    name: Mapped[str] = mapped_column(String(100), default="")  # 国庆节, 国庆调休 ...
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime | None]
