"""Tables of the paper side's scanning intake and stock-takes (盘点).

An intake stack is one scanned PDF, found again by its keyed fingerprint so a crash in the middle resumes
where it stopped; each of its parts is one row, written in the same transaction as the document it
became, or, for a part that could not be filed, holding the part's encrypted blob (the unfiled inbox)
until an archivist assigns it. A stock-take keeps who marked which dossier present, and when it is
closed, a snapshot of every dossier's state at that moment.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vault.models import Base, Dossier, User, _enum


class StackStatus(enum.StrEnum):
    QUEUED = "queued"  # stored, waiting for the worker
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class PartState(enum.StrEnum):
    FILED = "filed"
    DUPLICATE = "duplicate"  # the same file is already in the dossier: not filed twice
    UNFILED = "unfiled"  # in the inbox, waiting for an archivist
    ASSIGNED = "assigned"  # was unfiled; an archivist filed it
    DISCARDED = "discarded"  # was unfiled; an archivist dropped it (a blank page, a duplicate)


class IntakeStack(Base):
    __tablename__ = "intake_stacks"

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)  # keyed: tells nothing of the content
    source: Mapped[str] = mapped_column(String(16))  # upload | folder
    filename: Mapped[str] = mapped_column(String(255))
    status: Mapped[StackStatus] = mapped_column(_enum(StackStatus), default=StackStatus.RUNNING)
    pages: Mapped[int | None] = mapped_column(Integer)
    done_pages: Mapped[int] = mapped_column(Integer, default=0)  # progress, for the page and the CLI
    error: Mapped[str | None] = mapped_column(Text)
    # a queued stack's own encrypted blob (large uploads, split by the worker); deleted when done
    blob_key: Mapped[str | None] = mapped_column(String(80))
    blob_uid: Mapped[str | None] = mapped_column(String(32))
    key_id: Mapped[int | None] = mapped_column(Integer)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the answer, once done
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]

    created_by: Mapped[User] = relationship()
    parts: Mapped[list[IntakePart]] = relationship(back_populates="stack", order_by="IntakePart.part_index")


class IntakePart(Base):
    __tablename__ = "intake_parts"
    __table_args__ = (UniqueConstraint("stack_id", "part_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stack_id: Mapped[int] = mapped_column(ForeignKey("intake_stacks.id"), index=True)
    part_index: Mapped[int] = mapped_column(Integer)
    first_page: Mapped[int] = mapped_column(Integer)
    last_page: Mapped[int] = mapped_column(Integer)
    pages: Mapped[int] = mapped_column(Integer)
    state: Mapped[PartState] = mapped_column(_enum(PartState))
    reason: Mapped[str | None] = mapped_column(String(64))  # a stable code, translated where shown
    code: Mapped[str | None] = mapped_column(String(120))  # the separator's text, when one was read
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id"), index=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    # an unfiled part's encrypted blob (as a document version holds it), until it is assigned
    blob_key: Mapped[str | None] = mapped_column(String(80))
    version_uid: Mapped[str | None] = mapped_column(String(32))
    key_id: Mapped[int | None] = mapped_column(Integer)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    plaintext_size: Mapped[int | None] = mapped_column(Integer)
    ciphertext_size: Mapped[int | None] = mapped_column(Integer)
    ciphertext_sha256: Mapped[str | None] = mapped_column(String(64))
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime | None]

    stack: Mapped[IntakeStack] = relationship(back_populates="parts")
    dossier: Mapped[Dossier | None] = relationship()


class StocktakeStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Stocktake(Base):
    __tablename__ = "stocktakes"

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(200), default="")  # a location prefix; "" = the whole archive
    status: Mapped[StocktakeStatus] = mapped_column(_enum(StocktakeStatus), default=StocktakeStatus.OPEN)
    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None]

    started_by: Mapped[User] = relationship(foreign_keys=[started_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])
    marks: Mapped[list[StocktakeMark]] = relationship(back_populates="stocktake", order_by="StocktakeMark.id")
    entries: Mapped[list[StocktakeEntry]] = relationship(order_by="StocktakeEntry.dossier_id")


class StocktakeMark(Base):
    """A dossier seen on the shelf during a stock-take (ticked or its cover code scanned)."""

    __tablename__ = "stocktake_marks"
    __table_args__ = (UniqueConstraint("stocktake_id", "dossier_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stocktake_id: Mapped[int] = mapped_column(ForeignKey("stocktakes.id"), index=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"))
    method: Mapped[str] = mapped_column(String(8))  # tick | scan
    marked_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    marked_at: Mapped[datetime]

    stocktake: Mapped[Stocktake] = relationship(back_populates="marks")
    dossier: Mapped[Dossier] = relationship()


class StocktakeEntry(Base):
    """A closed stock-take's result for one dossier, as it was at closing."""

    __tablename__ = "stocktake_entries"

    stocktake_id: Mapped[int] = mapped_column(ForeignKey("stocktakes.id"), primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # present | missing | checked_out | unexpected
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # checked out to
    checkout_id: Mapped[int | None] = mapped_column(ForeignKey("checkouts.id"))

    dossier: Mapped[Dossier] = relationship()
    holder: Mapped[User | None] = relationship()
