"""Importing customers from the 客户一览表 spreadsheet (CSV or XLSX): a dry run, then the real run.

Each row is one customer, found again by its credit code (organisations) or resident ID number
(individuals): a new one becomes a dossier with its card, a known one has its card updated with the
reason "import <file name>" (only the cells that differ change; empty cells change nothing), so
importing the same file twice changes nothing the second time. A row that cannot be taken is refused
with the field and what to do, and nothing of it is written; the others go on. A dry run does every
row exactly as the real run would inside a savepoint it then rolls back, so it writes nothing (the loop:
`import_rows.run_rows`; existing customers are looked up once for the whole file, by credit code and by
the ID number's lookup digest).
Archivists import, within their clearance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.settings import CARD_FIELDS
from vault import audit, policy
from vault.card_values import id_number_problem, normalise_id_number
from vault.core import Vault
from vault.creditcode import credit_code_problem, normalize_credit_code
from vault.customer_models import CustomerCard
from vault.errors import Conflict, Invalid
from vault.models import Dossier, User
from vault.services import cards, dossiers, sealed_fields
from vault.services.customer_columns import IGNORED, column_of
from vault.services.import_rows import ImportReport, Refused, RowOutcome, cell_text, clean_filename, run_rows
from vault.services.sheet_reader import read_sheet

# the values people type in Chinese, as the card's own values
_VALUES: dict[str, dict[str, str]] = {
    "customer_kind": {"企业": "organisation", "单位": "organisation", "组织": "organisation", "机构": "organisation",
                      "个人": "individual", "自然人": "individual"},
    "relationship": {"供应商": "supplier", "客户": "client", "合作伙伴": "partner", "伙伴": "partner"},
    "stage": {"潜在客户": "prospect", "潜在": "prospect", "目标": "target", "目标客户": "target", "潜力": "potential",
              "潜力客户": "potential", "暂时无效": "inactive", "正式客户": "customer", "客户": "customer",
              "流失": "lost", "流失客户": "lost"},
    "gender": {"男": "male", "女": "female"},
    "partner_kind": {"律师事务所": "law_firm", "会计师事务所": "accountant", "银行": "bank", "保险公司": "insurer",
                     "广告公关": "advertising_pr", "融资机构": "financing"},
}
_DOSSIER_ONLY = ("industry", "region", "owner")


def _value(key: str, raw: str) -> str:
    """A cell's text as the card expects it: Chinese words mapped to the card's values."""
    mapped = _VALUES.get(key, {}).get(raw)
    if mapped is not None:
        return mapped
    if key in ("customer_kind", "relationship", "stage", "gender", "partner_kind"):
        return raw.lower()
    if key == "grade":
        return raw.upper()
    return raw


def _row_values(keys: list[str | None], cells: list[str | None], row: int,
                formulas: set[tuple[int, int]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, key in enumerate(keys):
        if key is None or key in IGNORED or i >= len(cells) or cells[i] is None:
            continue
        out[key] = _value(key, cell_text(key, cells[i], row, i, formulas))
    return out


def _identity(v: Vault, values: dict[str, str]) -> tuple[str, str, str]:
    """The row's kind and its key: ("organisation", "credit_code", code) or ("individual", "id_number", number)."""
    kind = values.pop("customer_kind", "") or ("individual" if values.get("id_number") else "organisation")
    if kind not in cards.KINDS:
        raise Refused(Invalid("customer_kind", "{field} must be one of {allowed}",
                               params={"allowed": "organisation (企业), individual (个人)"}))
    if kind == "organisation":
        if values.get("id_number"):
            raise Refused(Invalid("id_number", "an organisation has a credit code, not an ID number; set "
                                   "customer_kind to individual for a person"))
        code = normalize_credit_code(values.get("credit_code", ""))
        if not code:
            raise Refused(Invalid("credit_code", "an organisation needs its unified social credit code "
                                   "(统一社会信用代码) so that a later import finds it again; fill it in",
                                   code="credit_code_required"))
        problem = credit_code_problem(code)
        if problem:
            raise Refused(Invalid("credit_code", "统一社会信用代码无效 / invalid credit code: {problem}",
                                   params={"problem": problem}, code="invalid_credit_code"))
        return kind, "credit_code", code
    if values.get("credit_code"):
        raise Refused(Invalid("credit_code", "an individual customer has an ID number, not a credit code"))
    raw = values.get("id_number", "")
    if not raw:
        raise Refused(Invalid("id_number", "an individual customer needs a resident ID number (id_number)"))
    problem = id_number_problem(raw, v.clock.now().date())
    if problem is not None:
        raise Refused(Invalid("id_number", "身份证号码无效 / invalid ID number: {problem}",
                               params={"problem": problem}, code="invalid_id_number"))
    return kind, "id_number", normalise_id_number(raw)


@dataclass
class _Known:
    """The dossiers the file's keys already name, looked up once for the whole file (not a query per row)."""

    by_code: dict[str, Dossier]
    by_digest: dict[str, int]

    def find(self, v: Vault, session: Session, key_field: str, key: str) -> Dossier | None:
        if key_field == "credit_code":
            return self.by_code.get(key)
        dossier_id = self.by_digest.get(sealed_fields.lookup_digest(v, "id_number", key))
        return None if dossier_id is None else session.get(Dossier, dossier_id)


def known_customers(v: Vault, session: Session, keys: list[str | None],
                    rows: list[tuple[int, list[str | None]]]) -> _Known:
    """The dossiers that the rows' credit codes and ID numbers name, in a few queries for the whole file."""
    codes: set[str] = set()
    digests: set[str] = set()
    for _, cells in rows:
        for i, key in enumerate(keys):
            if i >= len(cells) or not cells[i]:
                continue
            if key == "credit_code":
                codes.add(normalize_credit_code(str(cells[i])))
            elif key == "id_number":
                digests.add(sealed_fields.lookup_digest(v, "id_number", normalise_id_number(str(cells[i]))))
    known = _Known({}, {})
    for chunk in _chunks(sorted(codes)):
        known.by_code.update((d.credit_code or "", d) for d in session.scalars(
            select(Dossier).where(Dossier.credit_code.in_(chunk))))
    for chunk in _chunks(sorted(digests)):
        known.by_digest.update((dg or "", i) for i, dg in session.execute(
            select(CustomerCard.dossier_id, CustomerCard.id_number_digest)
            .where(CustomerCard.id_number_digest.in_(chunk))).all())
    return known


def _chunks(items: list[str], size: int = 500) -> list[list[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _card_part(kind: str, values: dict[str, str], *, creating: bool) -> dict[str, str]:
    skip = {"credit_code", "id_number", *_DOSSIER_ONLY}
    if creating:
        skip |= {"customer_name", "relationship", "grade"}
    known = set(CARD_FIELDS[kind])
    out = {}
    for key, val in values.items():
        if key in skip:
            continue
        if key not in known:
            raise Refused(Invalid(key, "{field} is not a field of a card of this customer kind ({kind})",
                                   params={"kind": kind}, code="unknown_field"))
        out[key] = val
    return out


def _create(v: Vault, session: Session, actor: User, kind: str, key_field: str, key: str,
            values: dict[str, str], reason: str) -> Dossier:
    if values.get("relationship") not in ("supplier", "client", "partner"):
        raise Invalid("relationship", "{field} must be one of {allowed}",
                      params={"allowed": "supplier (供应商), client (客户), partner (合作伙伴)"})
    data: dict[str, Any] = {"customer_name": values.get("customer_name"), "customer_kind": kind,
                            "customer_type": values["relationship"], key_field: key}
    for name in ("grade", *_DOSSIER_ONLY):
        if values.get(name):
            data[name] = values[name]
    card_fields = _card_part(kind, values, creating=True)
    dossier = cards.create_customer(v, session, actor, data)
    if card_fields:
        cards.edit_card(v, session, actor, dossier, {"fields": card_fields, "reason": reason})
    return dossier


def _update(v: Vault, session: Session, actor: User, dossier: Dossier, kind: str, values: dict[str, str],
            reason: str) -> None:
    card = cards.card_of(session, dossier, create=False)
    if card.customer_kind != kind:
        raise Invalid("customer_kind",
                      "this customer's dossier is of kind {card_kind}; correct the row's customer kind",
                      params={"card_kind": card.customer_kind})
    owner = values.get("owner")
    if owner and owner != dossier.owner.username:
        raise Invalid("owner", "a change of owner needs a manager's approval: ask for it on the dossier's page, "
                      "and leave the owner column as it is here", code="owner_change_needs_approval")
    plain: dict[str, Any] = {n: values[n] for n in ("industry", "region")
                             if n in values and values[n] != getattr(dossier, n)}
    if plain:
        dossiers.update_dossier(v, session, actor, dossier.id, {**plain, "reason": reason})
    card_fields = _card_part(kind, values, creating=False)
    if card_fields:
        cards.edit_card(v, session, actor, dossier, {"fields": card_fields, "reason": reason})


def _one_row(v: Vault, session: Session, actor: User, values: dict[str, str], reason: str,
             seen: dict[tuple[str, str], int], row: int, known: _Known) -> RowOutcome:
    kind, key_field, key = _identity(v, values)
    first = seen.get((key_field, key))
    if first is not None:
        raise Refused(Invalid(key_field, "the same customer as row {first_row}: one row per customer; merge the "
                               "two rows", params={"first_row": first}, code="duplicate_in_file"))
    seen[(key_field, key)] = row
    existing = known.find(v, session, key_field, key)
    if existing is not None and not policy.can_see(actor, existing):
        raise Refused(Conflict("a dossier for this customer exists above your clearance; ask an archivist "
                                "cleared for it to update it", code="above_clearance"))
    if existing is None:
        # its card is searchable at once: creation queues it, gathered in one job for the batch (import_rows)
        dossier = _create(v, session, actor, kind, key_field, key, values, reason)
        return RowOutcome(row, "create", dossier_id=dossier.id)
    _update(v, session, actor, existing, kind, values, reason)
    return RowOutcome(row, "update", dossier_id=existing.id)


def import_customers_allowed(actor: User) -> None:
    """Forbidden unless the actor may import customers (archivists), before any file is read."""
    policy.require(actor, "dossier.create")


def import_customers(v: Vault, session: Session, actor: User, filename: str, data: bytes, *, dry_run: bool,
                     progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Import (or, dry, check) the customers of a CSV/XLSX file: per row create, update or refuse with why."""
    policy.require(actor, "dossier.create")
    sheet = read_sheet(filename, data)
    keys = [column_of(h) if h else None for h in sheet.headings]
    for heading, key in zip(sheet.headings, keys, strict=True):
        if heading and key is None:
            raise Invalid("file", "the column {heading!r} is not one of the customer ledger's or the card's; "
                          "rename it (e.g. 客户名称, 统一社会信用代码, 法定代表人) or remove it",
                          params={"heading": heading[:60]}, code="unknown_column")
    named = [k for k in keys if k is not None and k not in IGNORED]
    if len(named) != len(set(named)):
        dup = next(k for k in named if named.count(k) > 1)
        raise Invalid("file", "two columns name {column}; keep one of them", params={"column": dup},
                      code="duplicate_column")
    if "customer_name" not in named:
        raise Invalid("file", "the file has no customer name column (客户名称 / customer_name); add it",
                      code="customer_name_column_missing")
    filename = clean_filename(filename, "customers")
    reason = f"import {filename}"
    report = ImportReport(filename, dry_run, [])
    seen: dict[tuple[str, str], int] = {}
    known = known_customers(v, session, keys, sheet.rows)

    def one_row(row: int, cells: list[str | None]) -> RowOutcome:
        return _one_row(v, session, actor, _row_values(keys, cells, row, sheet.formulas), reason, seen, row, known)

    run_rows(v, session, report, sheet.rows, one_row, progress)
    if not dry_run:
        audit.record(session, actor, "customers.imported", None, now=v.clock.now(), filename=filename[:200],
                     rows=len(sheet.rows), created=report.count("create"), updated=report.count("update"),
                     refused=report.count("refuse"))
    return report
