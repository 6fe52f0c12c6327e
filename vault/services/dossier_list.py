"""The dossier list's filters and sort orders (GET /api/v1/dossiers, the dossiers page), as SQL.

Everything is one query over `dossiers`, always limited to the caller's clearance, so nothing above it is
listed or counted. The card's filters read the dossier's copies of its stage and kind and its
`incomplete` flag (vault.services.completeness_flag), so that the count is one index-only scan of
`ix_dossiers_list_columns` on PostgreSQL; while those follow other rules than the settings' (another
process's settings, before a recomputation) the query left-joins `customer_cards` instead (a dossier
older than the card counts as an organisation in stage prospect).

Cost of `incomplete` without the flag (rules changed, not yet recomputed): a disjunction of `NOT IN`
tests (dossier ids are never NULL, so this is `NOT EXISTS`), one per required document type and one per
required sealed card field, plus plain column tests for the other required fields; no Python-side pass
over the dossiers. PostgreSQL answers each `NOT IN` from one hashed set built per query instead of an
index probe per candidate row, so counting an unselective `incomplete` list stays one pass over the
visible dossiers (measured by bench/customers_scale.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select
from sqlalchemy.orm import aliased

from vault.customer_models import CardSealed, CustomerCard
from vault.errors import Invalid
from vault.models import DocType, Document, DocumentStatus, Dossier
from vault.services.card_fields import KINDS, ON_DOSSIER, SEALED, STAGES

#: the `sort` values: a key, with a leading '-' for descending
SORT_KEYS = ("name", "archive_no", "updated")
SORTS = tuple(s for k in SORT_KEYS for s in (k, "-" + k))
REVIEW_DUE_MAX_DAYS = 3650
INCOMPLETE = ("true", "false")


def _one_of(field: str, raw: Any, allowed: tuple[str, ...]) -> str:
    if raw not in allowed:
        raise Invalid(field, "{field} must be one of {allowed}", params={"allowed": ", ".join(allowed)},
                      allowed=list(allowed))
    return str(raw)


def _kind(card: Any) -> ColumnElement[Any]:
    return func.coalesce(card.customer_kind, "organisation")


def _card_is(card: Any, column: str, value: str, default: str) -> ColumnElement[bool]:
    """SQL for 'coalesce(card.<column>, default) = value' that an index on the card's column can answer: the
    column is NOT NULL, so only a dossier without a card takes the default."""
    test = getattr(card, column) == value
    return or_(test, card.dossier_id.is_(None)) if value == default else test


def _lacks(column: Any, *where: ColumnElement[bool], correlated: bool) -> ColumnElement[bool]:
    """SQL for 'no row of column's table matching `where` belongs to the dossier': NOT IN (one hashed set for a
    whole list) or, ``correlated``, NOT EXISTS (an index probe per dossier: cheap for a few dossiers)."""
    if correlated:
        return ~select(column).where(column == Dossier.id, *where).exists()
    return Dossier.id.not_in(select(column).where(*where))


def _field_missing(card: Any, field: str, correlated: bool = False) -> ColumnElement[bool]:
    """SQL for 'this required card field is empty on the dossier' (the rule of card_fields.missing_card_fields)."""
    if field in SEALED:  # NOT IN a non-null column: one hashed set for the whole list, not a probe per dossier
        return _lacks(CardSealed.dossier_id, CardSealed.field == field, correlated=correlated)
    if field in ON_DOSSIER:
        col = getattr(Dossier, ON_DOSSIER[field])
        return or_(col.is_(None), col == "") if field in ("customer_name", "credit_code") else col.is_(None)
    if field == "backup_owner":
        return card.backup_owner_id.is_(None)
    col = getattr(card, field)
    if field in ("birth_date", "founded_on", "credit_rating_on", "last_review_on"):
        return col.is_(None)
    return or_(col.is_(None), col == "")


def incomplete_clause(card: Any, required_doc_types: tuple[str, ...], required_fields: Mapping[str, tuple[str, ...]],
                      *, correlated: bool = False) -> ColumnElement[bool]:
    """SQL for 'the dossier lacks a required document type or a required card field of its kind' (``card``:
    the customer_cards alias left-joined to the dossier)."""
    parts: list[ColumnElement[bool]] = []
    for t in required_doc_types:
        parts.append(_lacks(Document.dossier_id, Document.doc_type == DocType(t),
                            Document.status == DocumentStatus.ACTIVE, correlated=correlated))
    for kind, fields in required_fields.items():
        missing = [_field_missing(card, f, correlated) for f in fields]
        if missing:
            parts.append(and_(_kind(card) == kind, or_(*missing)))
    return or_(*parts) if parts else false()


def apply_filters(q: Select[Any], filters: Mapping[str, Any], *, today: date,
                  required_doc_types: tuple[str, ...], required_fields: Mapping[str, tuple[str, ...]],
                  flag_current: bool = False) -> Select[Any]:
    """Add the card filters (stage, customer_kind, industry, region, review_due, incomplete) and the sort
    order to a dossier query; Invalid naming the field and its allowed values for anything unknown.
    ``flag_current``: `dossiers.incomplete`, `card_stage` and `card_kind` follow these required types and fields
    and the cards (completeness_flag), so the filters read the dossier row instead of joining the cards and
    asking the question of every visible dossier."""
    card = aliased(CustomerCard)
    if not flag_current and any(filters.get(k) for k in ("stage", "customer_kind", "incomplete")):
        q = q.outerjoin(card, card.dossier_id == Dossier.id)
    if filters.get("stage"):
        stage = _one_of("stage", filters["stage"], STAGES)
        q = q.where(Dossier.card_stage == stage if flag_current else _card_is(card, "stage", stage, "prospect"))
    if filters.get("customer_kind"):
        kind = _one_of("customer_kind", filters["customer_kind"], KINDS)
        q = q.where(Dossier.card_kind == kind if flag_current
                    else _card_is(card, "customer_kind", kind, "organisation"))
    for name in ("industry", "region"):
        if filters.get(name):
            q = q.where(getattr(Dossier, name) == str(filters[name]).strip())
    raw_due = filters.get("review_due")
    if raw_due:
        if raw_due == "overdue":
            q = q.where(Dossier.next_review_date < today)
        else:
            try:
                days = int(raw_due)
            except (TypeError, ValueError):
                days = -1
            if not 0 <= days <= REVIEW_DUE_MAX_DAYS:
                raise Invalid("review_due", "review_due must be 'overdue' or a number of days from 0 to {max_days}",
                              params={"max_days": REVIEW_DUE_MAX_DAYS}, allowed=["overdue", "0..3650"])
            q = q.where(Dossier.next_review_date <= today + timedelta(days=days))
    if filters.get("incomplete"):
        want = _one_of("incomplete", filters["incomplete"], INCOMPLETE) == "true"
        if flag_current:
            q = q.where(Dossier.incomplete == want)  # '= true', which an index answers ('IS TRUE' is not)
        else:
            clause = incomplete_clause(card, required_doc_types, required_fields)
            q = q.where(clause if want else ~clause)
    return q.order_by(*sort_order(filters.get("sort")))


def sort_order(raw: Any) -> list[Any]:
    """The ORDER BY of a `sort` value (default: newest dossier first); ties broken by id."""
    if not raw:
        return [Dossier.id.desc()]
    key = _one_of("sort", raw, SORTS)
    desc = key.startswith("-")
    by: dict[str, list[Any]] = {"name": [Dossier.name_sort, Dossier.customer_name], "archive_no": [Dossier.archive_no],
            "updated": [Dossier.updated_at]}
    cols = by[key.lstrip("-")]
    return [c.desc() if desc else c.asc() for c in cols] + [Dossier.id.desc() if desc else Dossier.id.asc()]
