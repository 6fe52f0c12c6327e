"""Dossiers (一户一档): create with an archive number, update with audited changes, find, completeness."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import false, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, object_session

from config.settings import Settings
from vault import (
    audit,
    name_sort,  # noqa: F401  (its listener keeps dossiers.name_sort current on create and rename)
    policy,
)
from vault.core import Vault
from vault.creditcode import credit_code_problem, normalize_credit_code
from vault.errors import Conflict, Invalid
from vault.models import (
    ArchiveCounter,
    CustomerType,
    DocType,
    Document,
    DocumentStatus,
    Dossier,
    DossierStatus,
    Grade,
    Role,
    Secrecy,
    User,
)
from vault.paging import Page, page_of
from vault.services.card_fields import KINDS, add_history, missing_card_fields
from vault.services.common import get_dossier, queue_customer_reindex, queue_reindex
from vault.services.completeness_flag import flag_current  # its session listener keeps dossiers.incomplete current
from vault.services.dossier_list import apply_filters
from vault.services.fields import clean_text

EDITABLE = ("customer_name", "credit_code", "customer_type", "grade", "industry", "region", "owner",
            "secrecy", "location", "status", "next_review_date")


#: dossier fields whose changes join the customer card's history (dossier field -> card field name)
HISTORY_FIELDS = {"customer_name": "customer_name", "credit_code": "credit_code", "customer_type": "relationship",
                  "grade": "grade", "owner": "owner"}


def _enum_value(enum_cls: Any, field: str, raw: Any, allowed: str) -> Any:
    try:
        return enum_cls(raw)
    except ValueError:
        raise Invalid(field, "{field} must be one of {allowed}, got {raw!r}",
                      params={"allowed": allowed, "raw": raw}) from None


def _owner(session: Session, raw: Any) -> User:
    if not isinstance(raw, str) or not raw:
        raise Invalid("owner", "owner must be a username")
    user = session.scalar(select(User).where(User.username == raw))
    if user is None or not user.active or user.role in (Role.ADMIN, Role.SYSTEM):
        raise Invalid("owner", "no active employee named {raw!r} can own a dossier", params={"raw": raw})
    return user


def clean_new(session: Session, data: Mapping[str, Any]) -> dict[str, Any]:
    """The model values of a new dossier's fields (`create_dossier`'s checks), refusing bad ones by name."""
    return _clean(session, data, creating=True)


def owner_id(session: Session, username: Any) -> int:
    """The id of the active employee who may own a dossier, by user name; Invalid naming `owner` otherwise."""
    return _owner(session, username).id


def _clean(session: Session, data: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    """Validate the given fields into model values; unknown fields are refused by name."""
    unknown = set(data) - set(EDITABLE)
    if unknown:
        name = sorted(unknown)[0]
        raise Invalid(name, "unknown field {name!r}", params={"name": name})
    out: dict[str, Any] = {}
    if creating or "customer_name" in data:
        out["customer_name"] = clean_text("customer_name", data.get("customer_name"), required=True)
    if "credit_code" in data and data["credit_code"] not in (None, ""):
        if not isinstance(data["credit_code"], str):
            raise Invalid("credit_code", "credit_code must be text")
        code = normalize_credit_code(data["credit_code"])
        problem = credit_code_problem(code)
        if problem:
            raise Invalid("credit_code", "统一社会信用代码无效 / invalid credit code: {problem}",
                          params={"problem": problem},
                          code="invalid_credit_code")
        out["credit_code"] = code
    elif "credit_code" in data:
        out["credit_code"] = None
    if creating or "customer_type" in data:
        out["customer_type"] = _enum_value(CustomerType, "customer_type", data.get("customer_type"),
                                           "supplier, client, partner")
    if "grade" in data:
        out["grade"] = _enum_value(Grade, "grade", data["grade"], "A, B, C, D")
    if "secrecy" in data:
        out["secrecy"] = _enum_value(Secrecy, "secrecy", data["secrecy"],
                                     "public, internal, confidential, secret")
    if "status" in data and not creating:
        status = _enum_value(DossierStatus, "status", data["status"], "active, closed")
        if status is DossierStatus.DESTROYED:
            raise Invalid("status", "a dossier is destroyed only through a destruction batch")
        out["status"] = status
    for name in ("industry", "region", "location"):
        if name in data:
            out[name] = clean_text(name, data[name])
    if "next_review_date" in data:
        raw = data["next_review_date"]
        if raw in (None, ""):
            out["next_review_date"] = None
        else:
            try:
                out["next_review_date"] = date.fromisoformat(str(raw))
            except ValueError:
                raise Invalid("next_review_date", "next_review_date must be a date like 2027-01-31") from None
    if "owner" in data:
        out["owner_id"] = _owner(session, data["owner"]).id
    return out


def _next_archive_no(session: Session, year: int) -> str:
    """KH-<year>-<6 digits>: taken from a per-year counter row, so a number is never handed out twice."""
    return next_archive_numbers(session, year, 1)[0]


def next_archive_numbers(session: Session, year: int, count: int) -> list[str]:
    """``count`` consecutive archive numbers of the year in one step of the counter (a bulk import's batch)."""
    for _ in range(3):
        bumped = session.execute(
            update(ArchiveCounter).where(ArchiveCounter.year == year)
            .values(last_value=ArchiveCounter.last_value + count).returning(ArchiveCounter.last_value)
        ).scalar_one_or_none()
        if bumped is not None:
            return [f"KH-{year}-{n:06d}" for n in range(bumped - count + 1, bumped + 1)]
        try:
            with session.begin_nested():
                session.add(ArchiveCounter(year=year, last_value=0))
        except IntegrityError:
            continue
    raise Conflict("could not allocate an archive number; try again")


def _check_code_free(session: Session, code: str | None, exclude_id: int | None = None) -> None:
    if code is None:
        return
    q = select(Dossier).where(Dossier.credit_code == code)
    if exclude_id is not None:
        q = q.where(Dossier.id != exclude_id)
    other = session.scalar(q)
    if other is not None:
        raise Conflict("a dossier for credit code {code} exists already ({archive_no}): one customer, one dossier",
                       params={"code": code, "archive_no": other.archive_no},
                       code="duplicate_credit_code", existing_id=other.id)


def create_dossier(v: Vault, session: Session, actor: User, data: Mapping[str, Any], *,
                   action: str = "dossier.create") -> Dossier:
    """Open a new dossier; owner defaults to the creator. ``action`` is the permission asked for (a transfer
    of a new customer's papers opens its dossier under ``transfer.new_customer``)."""
    policy.require(actor, action)
    fields = _clean(session, data, creating=True)
    if "owner_id" not in fields:
        if actor.role is Role.SYSTEM:
            raise Invalid("owner", "owner is required")
        fields["owner_id"] = actor.id
    _check_code_free(session, fields.get("credit_code"))
    now = v.clock.now()
    secrecy = fields.get("secrecy", Secrecy.INTERNAL)
    if not policy.within_clearance(actor, secrecy):
        raise Invalid("secrecy", "you cannot create a dossier above your own clearance")
    dossier = Dossier(archive_no=_next_archive_no(session, now.year), created_at=now, updated_at=now,
                      created_by_id=actor.id, **fields)
    session.add(dossier)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("a dossier with this credit code exists already", code="duplicate_credit_code") from None
    audit.record(session, actor, "dossier.created", dossier, now=now, archive_no=dossier.archive_no,
                 customer_name=dossier.customer_name, credit_code=dossier.credit_code,
                 secrecy=dossier.secrecy.value)
    # the customer is found by name and card fields once the worker ran, as after any card change (outbox:
    # the job commits with the dossier)
    queue_customer_reindex(session, [dossier.id], now)
    return dossier


def _plain(value: Any) -> Any:
    if hasattr(value, "value"):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class Edit:
    """What an edit did: the dossier, and the change of owner it asked for (pending a manager's approval)."""

    dossier: Dossier
    owner_change_id: int | None = None


def update_dossier(v: Vault, session: Session, actor: User, dossier_id: int, data: Mapping[str, Any]) -> Dossier:
    """Change fields; each change is audited with its old and new value (a new owner waits: `edit_dossier`)."""
    return edit_dossier(v, session, actor, dossier_id, data).dossier


def edit_dossier(v: Vault, session: Session, actor: User, dossier_id: int, data: Mapping[str, Any]) -> Edit:
    """Change fields, each change audited with its old and new value; a new owner is not set but asked for
    (客户信息归属: a pending change with the reason, applied when a manager approves), except by the system
    account (the operator's command line)."""
    dossier = get_dossier(session, actor, dossier_id)
    policy.require(actor, "dossier.update")
    if dossier.status is DossierStatus.DESTROYED:
        raise Conflict("this dossier was destroyed and cannot change", code="dossier_destroyed")
    reason = clean_text("reason", data.get("reason"), max_len=500)  # optional here; kept in the card's history
    fields = _clean(session, {k: val for k, val in data.items() if k != "reason"}, creating=False)
    if "credit_code" in fields:
        _check_code_free(session, fields["credit_code"], exclude_id=dossier.id)
    if "secrecy" in fields and not policy.within_clearance(actor, fields["secrecy"]):
        raise Invalid("secrecy", "you cannot raise a dossier above your own clearance")
    change_id = None
    if fields.get("owner_id", dossier.owner_id) != dossier.owner_id and actor.role is not Role.SYSTEM:
        from vault.services import owner_changes  # it builds on this module

        new_owner = session.get(User, fields.pop("owner_id"))
        assert new_owner is not None
        change_id = owner_changes.request_change(v, session, actor, dossier.id,
                                                 {"owner": new_owner.username, "reason": reason}).id
    changes: dict[str, dict[str, Any]] = {}
    for name, new in fields.items():
        old = getattr(dossier, name)
        if old != new:
            key = "owner" if name == "owner_id" else name
            if name == "owner_id":
                old_user, new_user = session.get(User, old), session.get(User, new)
                changes[key] = {"old": old_user.username if old_user else None,
                                "new": new_user.username if new_user else None}
            else:
                changes[key] = {"old": _plain(old), "new": _plain(new)}
            setattr(dossier, name, new)
    if changes:
        now = v.clock.now()
        dossier.updated_at = now
        for key in [k for k in HISTORY_FIELDS if k in changes]:  # what everyone who sees the dossier sees change
            add_history(session, actor, dossier, HISTORY_FIELDS[key], changes[key]["old"], changes[key]["new"],
                        reason, now)
        extra: dict[str, Any] = {"reason": reason} if reason else {}
        audit.record(session, actor, "dossier.updated", dossier, now=now, changes=changes, **extra)
        if "secrecy" in changes or "owner" in changes:
            queue_reindex(session, dossier, now)
    return Edit(dossier, change_id)


def list_dossiers(session: Session, actor: User, filters: Mapping[str, Any], page: int = 1,
                  per_page: int = 50, *, v: Vault | None = None) -> Page:
    """Dossiers within the actor's clearance, filtered by name/number/code, grade, type, owner, status, and
    (see vault.services.dossier_list) stage, customer kind, industry, region, review due, incomplete; sorted by
    `sort`. ``v`` gives today's date and the required types and fields (without it: the system clock and
    the default settings)."""
    q = select(Dossier).where(Dossier.secrecy.in_(policy.levels_within_clearance(actor)))
    text = (filters.get("q") or "").strip()
    if text:
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(or_(Dossier.customer_name.like(like, escape="\\"), Dossier.archive_no.like(like, escape="\\"),
                        Dossier.credit_code.like(like.upper(), escape="\\")))
    if filters.get("grade"):
        q = q.where(Dossier.grade == _enum_value(Grade, "grade", filters["grade"], "A, B, C, D"))
    if filters.get("customer_type"):
        q = q.where(Dossier.customer_type == _enum_value(CustomerType, "customer_type", filters["customer_type"],
                                                           "supplier, client, partner"))
    if filters.get("status"):
        q = q.where(Dossier.status == _enum_value(DossierStatus, "status", filters["status"],
                                                  "active, closed, destroyed"))
    if filters.get("owner"):
        # the id itself, not a subquery: PostgreSQL then knows how many dossiers the owner has and does not walk
        # the sort order's index through 100k rows for a rare combination; an unknown name matches no dossier
        owner_id = session.scalar(select(User.id).where(User.username == str(filters["owner"])))
        q = q.where(Dossier.owner_id == owner_id if owner_id is not None else false())
    if filters.get("secrecy"):
        q = q.where(Dossier.secrecy == _enum_value(Secrecy, "secrecy", filters["secrecy"],
                                                   "public, internal, confidential, secret"))
    settings = v.settings if v is not None else Settings()
    today = v.clock.now().date() if v is not None else date.today()
    required = {kind: tuple(getattr(settings, f"required_card_fields_{kind}")) for kind in KINDS}
    card_filter = any(filters.get(k) for k in ("stage", "customer_kind", "incomplete"))
    current = card_filter and flag_current(session, settings)
    q = apply_filters(q, filters, today=today, required_doc_types=tuple(settings.required_doc_types),
                      required_fields=required, flag_current=current)
    return page_of(session, q, page, per_page, joinedload(Dossier.owner))  # every row shows its owner's name


def completeness(v: Vault, dossier: Dossier) -> dict[str, list[str]]:
    """Which required document types (`missing`) and card fields (`missing_fields`, settings per customer
    kind) the dossier lacks, and which credit reports have gone stale."""
    today = v.clock.now().date()
    present = {d.doc_type.value for d in dossier.documents if d.status is DocumentStatus.ACTIVE}
    missing = [t for t in v.settings.required_doc_types if t not in present]
    stale = [str(d.id) for d in dossier.documents
             if d.status is DocumentStatus.ACTIVE and d.doc_type is DocType.CREDIT_REPORT
             and d.expires_on is not None and d.expires_on < today]
    session = object_session(dossier)
    fields = [] if session is None else missing_card_fields(v.settings, session, dossier)
    return {"missing": missing, "missing_fields": fields, "stale_credit_reports": stale}


def is_stale(v: Vault, document: Document) -> bool:
    return document.expires_on is not None and document.expires_on < v.clock.now().date()


ARCHIVE_NO_RE = re.compile(r"^KH-\d{4}-\d{6}$")
