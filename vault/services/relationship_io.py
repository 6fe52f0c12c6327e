"""Importing and exporting a customer's contacts (联系人) and records of contact (往来记录) as CSV or XLSX.

Each row names its customer by credit code (organisations) or resident ID number (individuals), like the
customer ledger; the customer must exist (import the 客户一览表 first). Idempotent by natural keys, so a
file imported twice changes nothing the second time:

- a contact is the customer's contact of that name (one name, one contact per customer): met again, it
  takes the row's non-empty cells (`contacts.put_contact`), reported as "update";
- a record is the customer's record of the same kind, time (occurred_at) and summary: records are never
  edited, so one met again is left as it is and reported as "update" with that reason.

Refusals, dry runs, audit and search jobs as for customers (`import_rows.run_rows`). Exports write the
same columns for the customers the caller sees (the dossier list's filters), through the services that
list contacts and records, so what the caller may not read comes masked (and reads are audited there);
cells are neutralised against formula injection by the shared writers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy.orm import Session

from vault import audit
from vault.card_values import id_number_problem, normalise_id_number
from vault.core import Vault
from vault.creditcode import credit_code_problem, normalize_credit_code
from vault.errors import Invalid, NotFound
from vault.models import User
from vault.paging import MAX_PER_PAGE
from vault.services import cards, contacts, customer_import, customer_records, exports
from vault.services.customer_columns import CONTACT_COLUMNS, RECORD_COLUMNS, SHEET_IGNORED, headings_of
from vault.services.customer_export import FILTER_KEYS
from vault.services.dossiers import list_dossiers
from vault.services.exports import Column
from vault.services.import_rows import ImportReport, Refused, RowOutcome, cell_text, clean_filename, run_rows
from vault.services.sheet_reader import read_sheet

SHEETS = ("contacts", "records")
IMPORT_SHEETS = ("customers", *SHEETS)  # what `import_file` takes
_YES = {"是", "y", "yes", "true", "1", "主要", "√"}
_NO = {"否", "n", "no", "false", "0", ""}
_RECORD_KINDS = {"拜访": "visit", "电话": "call", "会议": "meeting", "服务": "service", "咨询": "inquiry",
                 "投诉": "complaint", "建议": "suggestion", "回访": "follow_up", "交易": "transaction"}
_DECISION = {"决策人": "decision_maker", "财务": "finance", "采购": "purchasing", "技术": "technical"}


@dataclass(frozen=True)
class _Sheet:
    name: str
    columns: tuple[Column, ...]
    title_zh: str
    title_en: str


_SHEETS = {"contacts": _Sheet("contacts", CONTACT_COLUMNS, "联系人", "Contacts"),
           "records": _Sheet("records", RECORD_COLUMNS, "往来记录", "Records")}


def _sheet(name: str) -> _Sheet:
    if name not in _SHEETS:
        raise Invalid("sheet", "{field} must be one of {allowed}", params={"allowed": ", ".join(SHEETS)})
    return _SHEETS[name]


def _keys(sheet: _Sheet, headings: list[str]) -> list[str | None]:
    table = headings_of(sheet.columns)
    keys = [table.get("".join(h.lower().replace("_", " ").split())) if h else None for h in headings]
    for heading, key in zip(headings, keys, strict=True):
        if heading and key is None:
            raise Invalid("file", "the column {heading!r} is not one of the {sheet} sheet's; rename it (e.g. "
                          "{example}) or remove it", params={"heading": heading[:60], "sheet": sheet.title_zh,
                                                             "example": ", ".join(c.zh for c in sheet.columns[2:6])},
                          code="unknown_column")
    named = [k for k in keys if k is not None]
    dup = next((k for k in named if named.count(k) > 1), None)
    if dup is not None:
        raise Invalid("file", "two columns name {column}; keep one of them", params={"column": dup},
                      code="duplicate_column")
    if "credit_code" not in named and "id_number" not in named:
        raise Invalid("file", "the file names no customer: add the column 统一社会信用代码 (credit_code) or "
                      "身份证号码 (id_number)", code="customer_key_column_missing")
    return keys


def _body(sheet: _Sheet, keys: list[str | None], cells: list[str | None], row: int,
          formulas: set[tuple[int, int]]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for i, key in enumerate(keys):
        if key is None or key in SHEET_IGNORED or key == "no" or i >= len(cells) or cells[i] is None:
            continue
        text = cell_text(key, cells[i], row, i, formulas)
        if key == "primary":
            low = text.strip().lower()
            if low not in _YES | _NO:
                raise Refused(Invalid("primary", "{field} must be 是 or 否 (yes or no)"))
            body[key] = low in _YES
        elif key == "kind":
            body[key] = _RECORD_KINDS.get(text, text.lower())
        elif key == "decision_role":
            body[key] = _DECISION.get(text, text.lower())
        elif key == "currency":
            body[key] = text.upper()
        elif key == "phone":
            body["phones"] = [p.strip() for p in text.replace("；", ";").replace("/", ";").split(";") if p.strip()]
        else:
            body[key] = text
    return body


def _customer(v: Vault, session: Session, body: dict[str, Any], known: Any, seen_key: list[str]) -> int:
    code = normalize_credit_code(str(body.pop("credit_code", "") or ""))
    number = normalise_id_number(str(body.pop("id_number", "") or ""))
    if code and number:
        raise Refused(Invalid("credit_code", "give the customer's credit code or ID number, not both"))
    if not code and not number:
        raise Refused(Invalid("credit_code", "the row names no customer: fill in its credit code "
                              "(统一社会信用代码) or, for a person, the ID number (身份证号码)",
                              code="customer_key_missing"))
    key_field, key = ("credit_code", code) if code else ("id_number", number)
    if code and credit_code_problem(code):
        raise Refused(Invalid("credit_code", "统一社会信用代码无效 / invalid credit code: {problem}",
                              params={"problem": credit_code_problem(code)}, code="invalid_credit_code"))
    problem = None if code else id_number_problem(number, v.clock.now().date())
    if problem:
        raise Refused(Invalid("id_number", "身份证号码无效 / invalid ID number: {problem}", params={"problem": problem},
                              code="invalid_id_number"))
    dossier = known.find(v, session, key_field, key)
    if dossier is None:
        raise Refused(NotFound("no customer has this {field}; import the customer (客户一览表) first, or "
                               "correct the {field}", params={"field": key_field}, code="customer_not_found"))
    seen_key.append(key)
    return int(dossier.id)


def import_sheet(v: Vault, session: Session, actor: User, sheet_name: str, filename: str, data: bytes, *,
                 dry_run: bool, progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Import (or, dry, check) the contacts or records of a CSV/XLSX file: per row create, update or refuse."""
    customer_import.import_customers_allowed(actor)
    sheet = _sheet(sheet_name)
    table = read_sheet(filename, data)
    keys = _keys(sheet, table.headings)
    filename = clean_filename(filename, sheet.name)
    report = ImportReport(filename, dry_run, [])
    known = customer_import.known_customers(v, session, keys, table.rows)
    seen: dict[tuple[Any, ...], int] = {}

    def one_row(row: int, cells: list[str | None]) -> RowOutcome:
        body = _body(sheet, keys, cells, row, table.formulas)
        customer_key: list[str] = []
        dossier_id = _customer(v, session, body, known, customer_key)
        if sheet.name == "contacts":
            natural: tuple[Any, ...] = (customer_key[0], str(body.get("name", "")).strip())
        else:
            natural = (customer_key[0], body.get("kind"), str(body.get("occurred_at", "")).strip(),
                       str(body.get("summary", "")).strip())
        first = seen.get(natural)
        if first is not None:
            raise Refused(Invalid("name" if sheet.name == "contacts" else "summary",
                                  "the same {what} as row {first_row}: one row each; merge the two rows",
                                  params={"what": "联系人 / contact" if sheet.name == "contacts"
                                          else "往来记录 / record", "first_row": first}, code="duplicate_in_file"))
        seen[natural] = row
        if sheet.name == "contacts":
            created = contacts.put_contact(v, session, actor, dossier_id, body)
            return RowOutcome(row, "create" if created else "update", dossier_id=dossier_id)
        if customer_records.same_record(v, session, actor, dossier_id, body) is not None:
            return RowOutcome(row, "update", template="this record is there already (same customer, kind, time and "
                              "summary); records are never edited: it is left as it is", dossier_id=dossier_id)
        customer_records.add_record(v, session, actor, dossier_id, body)
        return RowOutcome(row, "create", dossier_id=dossier_id)

    run_rows(v, session, report, table.rows, one_row, progress)
    if not dry_run:
        audit.record(session, actor, f"{sheet.name}.imported", None, now=v.clock.now(), filename=filename,
                     rows=len(table.rows), created=report.count("create"), updated=report.count("update"),
                     refused=report.count("refuse"))
    return report


def import_file(v: Vault, session: Session, actor: User, sheet: str, filename: str, data: bytes, *, dry_run: bool,
                progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Import (or, dry, check) a file of one of `IMPORT_SHEETS`: customers, their contacts or their records."""
    if sheet == "customers":
        return customer_import.import_customers(v, session, actor, filename, data, dry_run=dry_run, progress=progress)
    return import_sheet(v, session, actor, sheet, filename, data, dry_run=dry_run, progress=progress)


def _customer_cells(v: Vault, session: Session, actor: User, dossier: Any) -> dict[str, Any]:
    # the ID number as the customer export shows it: in full to who may read the dossier's content (audited
    # as `card.read` of that field), masked to the others
    card = cards.read_card(v, session, actor, dossier.id, only=("id_number",))
    number = card.fields.get("id_number")
    return {"archive_no": dossier.archive_no, "customer_name": dossier.customer_name,
            "credit_code": dossier.credit_code, "id_number": number}


def _sheet_rows(v: Vault, session: Session, actor: User, sheet: _Sheet, filters: Mapping[str, Any],
                first: Any) -> Iterator[dict[str, Any]]:
    page, found = 1, first
    while True:
        if page > 1:
            found = list_dossiers(session, actor, filters, page, MAX_PER_PAGE)
        for dossier in found.items:
            base = _customer_cells(v, session, actor, dossier)
            if sheet.name == "contacts":
                for c in contacts.list_contacts(v, session, actor, dossier.id)[0]:
                    yield {**base, "name": c.name, "position": c.position, "department": c.department,
                           "phone": None if c.phones is None else "; ".join(c.phones), "email": c.email,
                           "decision_role": c.decision_role, "primary": "是" if c.primary else "否",
                           "since": c.since, "left_on": c.left_on}
            else:
                for r in customer_records.list_records(v, session, actor, dossier.id)[0]:
                    yield {**base, "kind": r.kind, "occurred_at": r.occurred_at.isoformat(), "channel": r.channel,
                           "staff": r.staff, "summary": r.summary, "details": r.details, "outcome": r.outcome,
                           "next_action": r.next_action, "next_action_due": r.next_action_due,
                           "assignee": r.assignee, "handler": r.handler, "deadline": r.deadline,
                           "amount": r.amount, "currency": r.currency, "item": r.item,
                           "payment_terms": r.payment_terms}
        if page * found.per_page >= found.total or not found.items:
            return
        page += 1


def export_sheet(v: Vault, session: Session, actor: User, sheet_name: str, fmt: str, args: Mapping[str, Any],
                 out: IO[bytes], lang: str = "zh") -> tuple[int, str]:
    """Write the contacts or records of the customers the actor sees (masked as they see them) as CSV or XLSX;
    returns (rows, file name)."""
    sheet = _sheet(sheet_name)
    if fmt not in ("csv", "xlsx"):
        raise Invalid("format", "{field} must be one of {allowed}", params={"allowed": "csv, xlsx"})
    filters = {k: args[k] for k in FILTER_KEYS if args.get(k) not in (None, "")}
    rows = _sheet_rows(v, session, actor, sheet, filters, list_dossiers(session, actor, filters, 1, MAX_PER_PAGE))
    if fmt == "csv":
        n = exports.write_csv(out, sheet.columns, rows, lang)
    else:
        n = exports.write_xlsx(out, [(sheet.title_zh if lang.startswith("zh") else sheet.title_en, sheet.columns,
                                      rows)], lang)
    audit.record(session, actor, f"{sheet.name}.exported", None, now=v.clock.now(), format=fmt, rows=n,
                 filters={k: str(val)[:100] for k, val in filters.items()})
    return n, f"{sheet.name}.{fmt}"

