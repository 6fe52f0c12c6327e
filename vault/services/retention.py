"""Retention: per document type, years after the document date (upload date when missing) or permanent.

Defaults come from settings.retention_years; an admin's overrides live in `retention_rules` (audited).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from vault import audit, policy
from vault.core import Vault
from vault.errors import Invalid, phrase
from vault.models import (
    DestructionBatch,
    DestructionItem,
    DestructionStatus,
    DocType,
    Document,
    DocumentStatus,
    Dossier,
    LegalHold,
    RetentionRule,
    Secrecy,
    User,
)

PERMANENT = "permanent"


def add_years(day: date, years: int) -> date:
    """The same calendar day `years` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def effective_rules(v: Vault, session: Session) -> dict[DocType, int | None]:
    """Years per document type (None = permanent): settings, then the admin's overrides."""
    rules: dict[DocType, int | None] = {t: v.settings.retention_years.get(t.value) for t in DocType}
    for row in session.scalars(select(RetentionRule)).all():
        rules[row.doc_type] = row.years
    return rules


def rules_listing(v: Vault, session: Session, actor: User) -> list[dict[str, Any]]:
    policy.require(actor, "retention.view")
    overrides = {r.doc_type: r for r in session.scalars(select(RetentionRule)).all()}
    out = []
    for t, years in effective_rules(v, session).items():
        row = overrides.get(t)
        out.append({"doc_type": t.value, "years": years, "permanent": years is None,
                    "source": "override" if row else "settings",
                    "updated_at": row.updated_at.isoformat() if row else None})
    return out


def set_rules(v: Vault, session: Session, actor: User, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Admin changes retention per type: `{"contract": 30, "other": "permanent"}`; each change audited."""
    policy.require(actor, "retention.edit")
    if not data:
        raise Invalid("rules", "send at least one document type, e.g. {\"contract\": 30}")
    parsed: dict[DocType, int | None] = {}
    for key, raw in data.items():
        try:
            t = DocType(key)
        except ValueError:
            raise Invalid(str(key), "unknown document type {key!r}", params={"key": key}) from None
        if raw in (PERMANENT, None):
            parsed[t] = None
        elif isinstance(raw, int) and not isinstance(raw, bool) and 0 < raw <= 200:
            parsed[t] = raw
        else:
            raise Invalid(key, "{key}: years must be a whole number from 1 to 200, or \"permanent\"",
                          params={"key": key})
    current = effective_rules(v, session)
    now = v.clock.now()
    for t, years in parsed.items():
        row = session.get(RetentionRule, t)
        if row is None:
            row = RetentionRule(doc_type=t, years=years, updated_by_id=actor.id, updated_at=now)
            session.add(row)
        else:
            row.years, row.updated_by_id, row.updated_at = years, actor.id, now
        if current[t] != years:
            audit.record(session, actor, "retention.rule_changed", None, now=now, doc_type=t.value,
                         old=PERMANENT if current[t] is None else current[t],
                         new=PERMANENT if years is None else years)
    session.flush()
    return rules_listing(v, session, actor)


def base_date(document: Document) -> tuple[date, str]:
    """The date retention counts from, and which one it is."""
    if document.doc_date is not None:
        return document.doc_date, "document date"
    return document.created_at.astimezone(UTC).date(), "upload date"


def due_on(document: Document, years: int | None) -> date | None:
    if years is None:
        return None
    return add_years(base_date(document)[0], years)


def basis_text(document: Document, years: int | None) -> str:
    """The retention basis a certificate prints, e.g. `contract: 30 years after document date 1990-01-01`."""
    if years is None:
        return str(phrase("{doc_type}: permanent", doc_type=document.doc_type.value))
    start, which = base_date(document)
    if which == "document date":
        return str(phrase("{doc_type}: {years} years after document date {start}", doc_type=document.doc_type.value,
                          years=years, start=start.isoformat()))
    return str(phrase("{doc_type}: {years} years after upload date {start}", doc_type=document.doc_type.value,
                      years=years, start=start.isoformat()))


@dataclass
class DueDocument:
    document: Document
    years: int
    due_on: date
    basis: str
    holds: list[LegalHold] = field(default_factory=list)
    open_batch_id: int | None = None


def _levels(actor: User) -> list[Secrecy]:
    return list(policy.levels_within_clearance(actor))


def due_documents(v: Vault, session: Session, actor: User, *, within_days: int = 0,
                  rules: Mapping[DocType, int | None] | None = None) -> list[DueDocument]:
    """Active documents whose retention ends by today + within_days, oldest due first."""
    rules = rules or effective_rules(v, session)
    today = v.clock.now().date()
    horizon = today + timedelta(days=within_days)
    conditions = []
    for t, years in rules.items():
        if years is None:
            continue
        cutoff = add_years(horizon, -years)  # base dates on or before this are due by the horizon
        end_of_cutoff = datetime.combine(cutoff + timedelta(days=1), time(0), tzinfo=UTC)
        conditions.append(and_(Document.doc_type == t, or_(
            and_(Document.doc_date.is_not(None), Document.doc_date <= cutoff),
            and_(Document.doc_date.is_(None), Document.created_at < end_of_cutoff))))
    if not conditions:
        return []
    docs = session.scalars(
        select(Document).join(Dossier, Dossier.id == Document.dossier_id)
        .where(Document.status == DocumentStatus.ACTIVE, Dossier.secrecy.in_(_levels(actor)), or_(*conditions))
        .order_by(Document.id)
    ).all()
    from vault.services.holds import holds_covering

    holds = holds_covering(session, docs)
    batches = open_batches_of(session, [d.id for d in docs])
    out = []
    for d in docs:
        years = rules[d.doc_type]
        assert years is not None
        when = due_on(d, years)
        assert when is not None
        if when > horizon:
            continue
        out.append(DueDocument(d, years, when, basis_text(d, years), holds.get(d.id, []), batches.get(d.id)))
    out.sort(key=lambda x: (x.due_on, x.document.id))
    return out


def open_batches_of(session: Session, document_ids: Sequence[int]) -> dict[int, int]:
    """Document id -> id of the proposed or approved (not yet executed) batch it is in."""
    if not document_ids:
        return {}
    rows = session.execute(
        select(DestructionItem.document_id, DestructionItem.batch_id)
        .join(DestructionBatch, DestructionBatch.id == DestructionItem.batch_id)
        .where(DestructionItem.document_id.in_(document_ids),
               DestructionBatch.status.in_((DestructionStatus.PROPOSED, DestructionStatus.APPROVED)))
    ).all()
    return {doc_id: batch_id for doc_id, batch_id in rows}


def list_due(v: Vault, session: Session, actor: User) -> list[DueDocument]:
    """GET /retention/due: documents whose retention has ended, with their hold status."""
    policy.require(actor, "retention.due")
    return due_documents(v, session, actor)
