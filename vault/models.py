"""Typed SQLAlchemy 2 models: the database holds metadata and wrapped keys, never plaintext."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from config.doctypes import DocType as DocType  # the one list of document types (settings read it too)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, returns timezone-aware UTC on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: Ids and references to them: 64 bits on PostgreSQL (an archive may pass 2**31 rows; migration 0006),
#: INTEGER on SQLite, where that is already 64 bits and what makes a primary key the rowid.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, int: Id}


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=24, values_callable=lambda e: [m.value for m in e],
                validate_strings=True, name=cls.__name__.lower())


class Role(enum.StrEnum):
    ADMIN = "admin"
    ARCHIVIST = "archivist"
    EMPLOYEE = "employee"
    LEGAL = "legal"
    MANAGER = "manager"
    SYSTEM = "system"  # the command line acting on the operator's authority; never logs in


class Secrecy(enum.StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    SECRET = "secret"

    @property
    def rank(self) -> int:
        return list(Secrecy).index(self)


class CustomerType(enum.StrEnum):
    SUPPLIER = "supplier"
    CLIENT = "client"
    PARTNER = "partner"


class Grade(enum.StrEnum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"


class DossierStatus(enum.StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"
    DESTROYED = "destroyed"


class DocumentStatus(enum.StrEnum):
    ACTIVE = "active"
    DESTROYED = "destroyed"


class IndexStatus(enum.StrEnum):
    QUEUED = "queued"
    EXTRACTING = "extracting"
    INDEXED = "indexed"
    FAILED = "failed"


class JobKind(enum.StrEnum):
    INDEX = "index"  # extract a version's text and index it
    REINDEX_DOSSIER = "reindex_dossier"  # its secrecy or owner changed: the index filters on both
    PURGE_INDEX = "purge_index"  # destroyed documents' postings leave the index files
    INTAKE = "intake"  # split and file a large scanned stack stored by POST /api/v1/intake
    # a card, contact or record changed: only those dossiers' customer-file entries are re-added (not documents)
    REINDEX_CUSTOMER = "reindex_customer"


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    role: Mapped[Role] = mapped_column(_enum(Role))
    clearance: Mapped[Secrecy] = mapped_column(_enum(Secrecy), default=Secrecy.INTERNAL)
    password_hash: Mapped[str | None] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # bumped on password change / deactivation: every session and token issued before ends
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    email: Mapped[str | None] = mapped_column(String(256))
    locale: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime | None]
    # the password was chosen by an administrator, not by the user: a role or clearance grant replaces it
    password_set_by_other: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    # flask-login's user protocol, spelled out so the domain needs no web import
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_epoch}"

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role.value}>"


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of a 256-bit random token
    session_epoch: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class LoginAttempt(Base):
    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_user_time", "username", "at"),
                      Index("ix_login_attempts_addr_time", "client_addr", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime]
    success: Mapped[bool] = mapped_column(Boolean)


class WebSession(Base):
    """A signed-in browser session: the cookie carries a random id whose SHA-256 is stored here.

    Sign-out ends the row, so a copied cookie stops working; idle and absolute lifetimes are checked
    against the row, not against anything the client could keep.
    """

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_addr: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class GrantStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class GrantRequest(Base):
    """An administrator's request to give a content role or a higher clearance: a second person decides."""

    __tablename__ = "grant_requests"
    __table_args__ = (Index("ix_grant_requests_status", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[Role | None] = mapped_column(_enum(Role))  # None: the role stays
    clearance: Mapped[Secrecy | None] = mapped_column(_enum(Secrecy))  # None: the clearance stays
    status: Mapped[GrantStatus] = mapped_column(_enum(GrantStatus), default=GrantStatus.PENDING)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])


class ArchiveCounter(Base):
    """Last archive number handed out per year: numbers are never reused, even after destruction."""

    __tablename__ = "archive_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class Dossier(Base):
    __tablename__ = "dossiers"
    # every filter of the list, with the id: counting a filtered list on PostgreSQL is an index-only scan of
    # this, not a pass over every row (revision 0019; the card's filters read the copies below)
    __table_args__ = (Index("ix_dossiers_list_columns", "secrecy", "grade", "region", "industry", "owner_id",
                            "next_review_date", "card_stage", "card_kind", "incomplete", postgresql_include=["id"]),)

    id: Mapped[int] = mapped_column(primary_key=True)
    archive_no: Mapped[str] = mapped_column(String(32), unique=True)
    customer_name: Mapped[str] = mapped_column(String(200), index=True)
    name_sort: Mapped[str] = mapped_column(String(400), default="", server_default="", index=True)  # vault.name_sort
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)
    customer_type: Mapped[CustomerType] = mapped_column(_enum(CustomerType))
    grade: Mapped[Grade] = mapped_column(_enum(Grade), default=Grade.B)
    industry: Mapped[str] = mapped_column(String(100), default="")
    region: Mapped[str] = mapped_column(String(100), default="")
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    secrecy: Mapped[Secrecy] = mapped_column(_enum(Secrecy), default=Secrecy.INTERNAL)
    status: Mapped[DossierStatus] = mapped_column(_enum(DossierStatus), default=DossierStatus.ACTIVE)
    next_review_date: Mapped[date | None] = mapped_column(Date, index=True)
    location: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # lacks a required document type or card field, by the rules in `completeness_rules`; kept current by
    # vault.services.completeness_flag in the transaction of every change (the list's `incomplete` filter);
    # a loader that bypasses the ORM calls its refresh_completeness
    incomplete: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # copies of the card's stage and customer kind, kept by the same module (the list's filters on one table)
    card_stage: Mapped[str] = mapped_column(String(16), default="prospect", server_default="prospect")
    card_kind: Mapped[str] = mapped_column(String(16), default="organisation", server_default="organisation")

    owner: Mapped[User] = relationship(foreign_keys=[owner_id])
    documents: Mapped[list[Document]] = relationship(
        back_populates="dossier", order_by="Document.id", foreign_keys="Document.dossier_id"
    )


class CompletenessRules(Base):
    """The one row saying which rules `dossiers.incomplete` follows: the required document types and card
    fields (JSON) the flags were last computed by (vault.services.completeness_flag)."""

    __tablename__ = "completeness_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    rules: Mapped[str] = mapped_column(Text)


class Document(Base):
    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), index=True)
    doc_type: Mapped[DocType] = mapped_column(_enum(DocType))
    title: Mapped[str] = mapped_column(String(300))
    doc_date: Mapped[date | None] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)  # credit reports go stale
    status: Mapped[DocumentStatus] = mapped_column(_enum(DocumentStatus), default=DocumentStatus.ACTIVE)
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("document_versions.id", use_alter=True, name="fk_documents_current_version")
    )
    created_at: Mapped[datetime]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    destroyed_at: Mapped[datetime | None]
    item_no: Mapped[int | None] = mapped_column(Integer)  # 件号: sequential in its dossier (vault.paper_models)

    dossier: Mapped[Dossier] = relationship(back_populates="documents", foreign_keys=[dossier_id])
    versions: Mapped[list[DocumentVersion]] = relationship(
        back_populates="document", order_by="DocumentVersion.version_no",
        foreign_keys="DocumentVersion.document_id",
    )
    current_version: Mapped[DocumentVersion | None] = relationship(
        foreign_keys=[current_version_id], post_update=True
    )


class DocumentVersion(Base):
    __tablename__ = "document_versions"
    __table_args__ = (
        UniqueConstraint("document_id", "version_no"),
        Index("ix_document_versions_fingerprint", "fingerprint"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)  # hex UUID, bound into the ciphertext
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    version_no: Mapped[int] = mapped_column(Integer)
    blob_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    key_id: Mapped[int] = mapped_column(Integer)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)  # erased by destruction
    plaintext_size: Mapped[int] = mapped_column(BigInteger)
    ciphertext_size: Mapped[int] = mapped_column(BigInteger)
    ciphertext_sha256: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str | None] = mapped_column(String(64))  # HMAC-SHA256 with a dedicated key
    mime: Mapped[str] = mapped_column(String(100))
    original_filename: Mapped[str] = mapped_column(String(255))
    pages: Mapped[int | None] = mapped_column(Integer)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime]
    index_status: Mapped[IndexStatus] = mapped_column(_enum(IndexStatus), default=IndexStatus.QUEUED)
    index_error: Mapped[str | None] = mapped_column(Text)
    indexed_at: Mapped[datetime | None]
    # extracted text, encrypted with the version's data key (no OCR re-run for highlights/reindex)
    text_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)

    document: Mapped[Document] = relationship(back_populates="versions", foreign_keys=[document_id])
    uploaded_by: Mapped[User] = relationship()


class DossierKey(Base):
    """A dossier's own data key, wrapped by the keyring: it seals the card's sensitive values.

    One per dossier, made the first time a sensitive value is stored. Rotation re-wraps it like a
    version's key; destroying the dossier's content erases `wrapped_key`, and with it every value.
    """

    __tablename__ = "dossier_keys"

    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)  # hex UUID, bound into the wrapping
    key_id: Mapped[int] = mapped_column(Integer)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)  # erased by destruction
    created_at: Mapped[datetime]


class PendingBlob(Base):
    """A blob being written for an upload not yet committed: the orphan sweep leaves these alone while young."""

    __tablename__ = "pending_blobs"

    blob_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    created_at: Mapped[datetime]


class AuditHead(Base):
    """One row: the chain's last sequence number and hash (locked by every writer, detects truncation)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_dossier", "dossier_id"),
        Index("ix_audit_document", "document_id"),
        Index("ix_audit_action", "action"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(Id)
    actor_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    dossier_id: Mapped[int | None] = mapped_column(Id)
    document_id: Mapped[int | None] = mapped_column(Id)
    client_addr: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text, default="{}")  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Job(Base):
    """Transactional outbox: written in the same transaction as the change that needs it."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_run_after", "status", "run_after"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # a JobKind
    version_id: Mapped[int | None] = mapped_column(ForeignKey("document_versions.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus), default=JobStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_after: Mapped[datetime]
    locked_by: Mapped[str | None] = mapped_column(String(64))
    locked_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


# -- workflows: checkout (借阅), legal hold, retention, destruction (销毁), notifications ------------


class CheckoutKind(enum.StrEnum):
    VIEW = "view"  # read in the browser
    COPY = "copy"  # download a stamped copy
    PHYSICAL = "physical"  # the paper file leaves the room

    @property
    def electronic(self) -> bool:
        return self is not CheckoutKind.PHYSICAL


class CheckoutStatus(enum.StrEnum):
    """Stored states; `overdue` is derived from the due date and never stored."""

    PENDING = "pending"
    APPROVED = "approved"  # physical only: waiting for the handover
    REJECTED = "rejected"
    ACTIVE = "active"
    RETURNED = "returned"  # electronic: access ended; physical: the requester says it is back
    CLOSED = "closed"  # physical: receipt confirmed; any kind: closed at a hand-over (员工调离)


class Checkout(Base):
    __tablename__ = "checkouts"
    __table_args__ = (Index("ix_checkouts_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(Text)
    kind: Mapped[CheckoutKind] = mapped_column(_enum(CheckoutKind))
    days: Mapped[int] = mapped_column(Integer)
    status: Mapped[CheckoutStatus] = mapped_column(_enum(CheckoutStatus), default=CheckoutStatus.PENDING)
    requested_at: Mapped[datetime]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_comment: Mapped[str | None] = mapped_column(Text)
    handed_over_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    active_from: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    returned_at: Mapped[datetime | None]
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    received_at: Mapped[datetime | None]
    condition: Mapped[str | None] = mapped_column(Text)
    pages_complete: Mapped[bool | None] = mapped_column(Boolean)
    closed_reason: Mapped[str | None] = mapped_column(Text)
    overdue_notified_at: Mapped[datetime | None]

    dossier: Mapped[Dossier] = relationship()
    requester: Mapped[User] = relationship(foreign_keys=[requester_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    handed_over_by: Mapped[User | None] = relationship(foreign_keys=[handed_over_by_id])
    received_by: Mapped[User | None] = relationship(foreign_keys=[received_by_id])
    items: Mapped[list[CheckoutDocument]] = relationship(
        back_populates="checkout", cascade="all, delete-orphan", order_by="CheckoutDocument.document_id"
    )

    @property
    def document_ids(self) -> list[int]:
        """The chosen documents; empty means the whole dossier."""
        return [i.document_id for i in self.items]

    def is_overdue(self, now: datetime) -> bool:
        return self.status is CheckoutStatus.ACTIVE and self.due_at is not None and self.due_at <= now

    def display_status(self, now: datetime) -> str:
        return "overdue" if self.is_overdue(now) else self.status.value


class CheckoutDocument(Base):
    """One chosen document of a checkout (none chosen = the whole dossier)."""

    __tablename__ = "checkout_documents"

    checkout_id: Mapped[int] = mapped_column(ForeignKey("checkouts.id"), primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), primary_key=True, index=True)

    checkout: Mapped[Checkout] = relationship(back_populates="items")


class LegalHold(Base):
    """Freezes a dossier (all its documents) or one document: no destruction, deletion, pruning, key erasure."""

    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id"), index=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    placed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    placed_at: Mapped[datetime]
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    released_at: Mapped[datetime | None]
    release_reason: Mapped[str | None] = mapped_column(Text)

    placed_by: Mapped[User] = relationship(foreign_keys=[placed_by_id])
    released_by: Mapped[User | None] = relationship(foreign_keys=[released_by_id])

    @property
    def active(self) -> bool:
        return self.released_at is None


class RetentionRule(Base):
    """An admin's override of settings.retention_years for one document type (years None = permanent)."""

    __tablename__ = "retention_rules"

    doc_type: Mapped[DocType] = mapped_column(_enum(DocType), primary_key=True)
    years: Mapped[int | None] = mapped_column(Integer)
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime]


class DestructionStatus(enum.StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"  # by a manager and by legal
    EXECUTED = "executed"


class DestructionBatch(Base):
    """A destruction register (销毁清册) entry: kept for ever, with its certificate."""

    __tablename__ = "destruction_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[DestructionStatus] = mapped_column(_enum(DestructionStatus), default=DestructionStatus.PROPOSED)
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[datetime]
    manager_approver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    manager_approved_at: Mapped[datetime | None]
    manager_comment: Mapped[str | None] = mapped_column(Text)
    legal_approver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    legal_approved_at: Mapped[datetime | None]
    legal_comment: Mapped[str | None] = mapped_column(Text)
    executed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    executed_at: Mapped[datetime | None]
    audit_head_seq: Mapped[int | None] = mapped_column(BigInteger)
    audit_head_hash: Mapped[str | None] = mapped_column(String(64))
    certificate_pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    certificate_sha256: Mapped[str | None] = mapped_column(String(64))

    proposed_by: Mapped[User] = relationship(foreign_keys=[proposed_by_id])
    manager_approver: Mapped[User | None] = relationship(foreign_keys=[manager_approver_id])
    legal_approver: Mapped[User | None] = relationship(foreign_keys=[legal_approver_id])
    executed_by: Mapped[User | None] = relationship(foreign_keys=[executed_by_id])
    items: Mapped[list[DestructionItem]] = relationship(
        back_populates="batch", cascade="all, delete-orphan", order_by="DestructionItem.document_id"
    )


class DestructionItem(Base):
    """One document of a batch, with the facts the certificate lists (copied: they outlive the content)."""

    __tablename__ = "destruction_items"

    batch_id: Mapped[int] = mapped_column(ForeignKey("destruction_batches.id"), primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), primary_key=True, index=True)
    archive_no: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    doc_type: Mapped[DocType] = mapped_column(_enum(DocType))
    doc_date: Mapped[date | None] = mapped_column(Date)
    retention_basis: Mapped[str] = mapped_column(Text)
    due_on: Mapped[date | None] = mapped_column(Date)
    ciphertext_sha256: Mapped[str] = mapped_column(Text)  # every version's, newline-separated, oldest first

    batch: Mapped[DestructionBatch] = relationship(back_populates="items")
    document: Mapped[Document] = relationship()


class BlobErasure(Base):
    """Outbox of blobs to delete after a destruction commits; a failure stays here to be retried.

    The data key is erased in the same transaction that writes this row, so a blob left behind is
    unreadable ciphertext (crypto-shredded) until the retry deletes it.
    """

    __tablename__ = "blob_erasures"

    blob_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("destruction_batches.id"))
    queued_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class Notification(Base):
    """An in-app message to one user (copied to e-mail when SMTP is configured)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_read", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(48))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    checkout_id: Mapped[int | None] = mapped_column(ForeignKey("checkouts.id"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("destruction_batches.id"))
    dossier_id: Mapped[int | None] = mapped_column(Id)  # the dossier it names (`about`): shown within clearance
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]
    emailed_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class SearchDocument(Base):
    """The `pg` search engine's row per indexed document: what scopes and filters look at (derived data)."""

    __tablename__ = "search_documents"
    __table_args__ = (Index("ix_search_documents_dossier", "dossier_id"),
                      Index("ix_search_documents_terms", "terms", postgresql_using="gin"),
                      Index("ix_search_documents_oversize", "document_id", postgresql_where=text("terms IS NULL")))

    document_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    dossier_id: Mapped[int] = mapped_column(BigInteger)
    owner_id: Mapped[int | None] = mapped_column(BigInteger)
    secrecy: Mapped[str] = mapped_column(String(24))
    doc_type: Mapped[str] = mapped_column(String(24))
    doc_date: Mapped[date | None] = mapped_column(Date)
    # every run of 1-3 consecutive tokens of the title and content, whole, without positions
    # (indexer.pg_index.GRAM_TOKENS), plus its group of ids, dossier and owner (each beginning with a space);
    # NULL for a document too big for one tsvector: its chunks keep them
    terms: Mapped[str | None] = mapped_column(Text().with_variant(TSVECTOR(), "postgresql"))


class SearchChunk(Base):
    """A slice of a document's terms as a tsvector (part 0: the title); see indexer/pg_index.py."""

    __tablename__ = "search_chunks"
    __table_args__ = (Index("ix_search_chunks_grams", "grams", postgresql_using="gin"),)

    document_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("search_documents.document_id", ondelete="CASCADE"), primary_key=True)
    part: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tsv: Mapped[str] = mapped_column(Text().with_variant(TSVECTOR(), "postgresql"))
    # an oversize document's runs of 1-3 consecutive tokens of this chunk, whole, without positions
    # (empty for every other document: its terms are in search_documents.terms)
    grams: Mapped[str] = mapped_column(Text().with_variant(TSVECTOR(), "postgresql"), server_default="")

# tables declared in their own modules join the metadata here
from vault import customer_models as _customer_models  # noqa: E402,F401  (the customer card)
from vault import intake_models as _intake_models  # noqa: E402,F401  (intake and stock-take)
from vault import paper_models as _paper_models  # noqa: E402,F401  (transfers, item counters)
from vault import relationship_models as _relationship_models  # noqa: E402,F401  (contacts, records)
