"""What the spreadsheet imports share (customers, contacts, records): the per-row report, and the loop that
takes each row in its own savepoint, so that a refused row writes nothing and the others go on.

Speed (a 10,000-row ledger): the audit events and the search jobs of the rows are gathered and written
once per `BATCH_ROWS` rows (`audit.defer`, `common.defer_customer_reindex`): one audit-head lock and one
re-index job for a batch instead of several per row; a rolled-back row's held events are dropped with it.
The whole import is still one unit of work of the caller: nothing is committed here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from sqlalchemy.orm import Session

from vault import audit
from vault.core import Vault
from vault.errors import Invalid, VaultError, render
from vault.services import common

BATCH_ROWS = 500
_FORMULA = ("=",)
_NEUTRALISED = ("'=", "'+", "'-", "'@")


@dataclass
class RowOutcome:
    """What happens (or happened) to one row: create, update or refuse, and for a refusal why."""

    row: int
    action: str
    field: str | None = None
    template: str | None = None
    params: Mapping[str, Any] = dc_field(default_factory=dict)
    dossier_id: int | None = None

    @property
    def reason(self) -> str | None:
        return None if self.template is None else render(self.template, self.params)


@dataclass
class ImportReport:
    """The per-row outcomes and their counts."""

    filename: str
    dry_run: bool
    rows: list[RowOutcome]

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)


class Refused(Exception):
    """A row that cannot be taken: `error` names the field and what to do."""

    def __init__(self, error: VaultError) -> None:
        super().__init__(error.message)
        self.error = error


def clean_filename(filename: str, default: str) -> str:
    """The upload's name as the reasons and the audit trail tell it: printable, at most 200 characters."""
    return "".join(ch for ch in filename if ch.isprintable()).strip()[:200] or default


def cell_text(key: str, raw: object, row: int, column: int, formulas: set[tuple[int, int]]) -> str:
    """A cell's text; a formula (a cell that held one, or text starting with =) refused naming the column,
    a neutralised formula's apostrophe (what our exports write) dropped."""
    text = str(raw)
    if (row, column) in formulas or text.startswith(_FORMULA):
        raise Refused(Invalid(key, "{field} holds a formula; type the value itself (a formula is never run "
                              "on import)", code="formula_cell"))
    return text[1:] if text.startswith(_NEUTRALISED) else text


def run_rows(v: Vault, session: Session, report: ImportReport, rows: list[tuple[int, list[str | None]]],
             one_row: Callable[[int, list[str | None]], RowOutcome],
             progress: Callable[[int, int], None] | None = None) -> None:
    """Take each row in a savepoint (rolled back for a refusal, and for every row of a dry run), appending
    its outcome to ``report``; audit events and search jobs written per batch of rows."""
    audit.defer(session)
    common.defer_customer_reindex(session)
    total = len(rows)
    try:
        for done, (row, cells) in enumerate(rows, start=1):
            mark = audit.pending_mark(session)
            gathered = common.customer_reindex_mark(session)
            savepoint = session.begin_nested()
            try:
                outcome = one_row(row, cells)
            except (Refused, VaultError) as exc:
                savepoint.rollback()
                audit.drop_pending(session, mark)
                common.drop_customer_reindex(session, gathered)
                err = exc.error if isinstance(exc, Refused) else exc
                report.rows.append(RowOutcome(row, "refuse", field=str(err.params.get("field") or "") or None,
                                              template=err.template, params=err.params))
            else:
                if report.dry_run:
                    savepoint.rollback()
                    audit.drop_pending(session, mark)
                    common.drop_customer_reindex(session, gathered)
                    outcome.dossier_id = None
                else:
                    savepoint.commit()
                report.rows.append(outcome)
            if done % BATCH_ROWS == 0 and not report.dry_run:
                audit.write_pending(session)
                common.flush_customer_reindex(session, v.clock.now())
            if progress is not None:
                progress(done, total)
    except BaseException:
        audit.drop_pending(session, 0)
        audit.write_pending(session, stop=True)
        common.flush_customer_reindex(session, v.clock.now(), stop=True, queue=False)
        raise
    audit.write_pending(session, stop=True)
    common.flush_customer_reindex(session, v.clock.now(), stop=True, queue=not report.dry_run)
