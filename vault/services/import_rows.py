"""What the spreadsheet imports share (customers, contacts, records): the per-row report, and the loop that
takes each row so that a refused row writes nothing and the others go on (each row in its own savepoint, or,
for customers, new rows checked first and written per batch: `customer_bulk`).

Speed (a 10,000-row ledger): the audit events and the search jobs of the rows are gathered and written
once per `BATCH_ROWS` rows (`audit.defer`, `common.defer_customer_reindex`): one audit-head lock and one
re-index job for a batch instead of several per row; a rolled-back row's held events are dropped with it.
The whole import is still one unit of work of the caller: nothing is committed here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from functools import partial
from typing import Any, Protocol, cast

from sqlalchemy.orm import Session

from vault import audit
from vault.core import Vault
from vault.errors import Invalid, VaultError, render
from vault.services import common
from vault.services.completeness_flag import refresh_completeness

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


class NewRows(Protocol):
    """Rows checked one by one and written a batch at a time (`customer_bulk.NewCustomers`)."""

    def write(self, session: Session) -> list[int]: ...

    def discard(self) -> None: ...


Step = Callable[[], RowOutcome]  # the writes of a row that changes what is there, run at the batch's end
_Steps = list[tuple[int, int, Step]]  # (index in the report, row, step)


def run_rows(v: Vault, session: Session, report: ImportReport, rows: list[tuple[int, list[str | None]]],
             one_row: Callable[[int, list[str | None]], RowOutcome | Step],
             progress: Callable[[int, int], None] | None = None, *, new: NewRows | None = None) -> None:
    """Take each row, appending its outcome to ``report``; the batch's work done every `BATCH_ROWS` rows
    (`end_batch`).

    Without ``new`` each row runs in a savepoint (rolled back for a refusal, and for every row of a dry run).
    With ``new``, ``one_row`` only checks a new row (kept by ``new`` until the batch is written) and returns
    the write step of a row that changes something already there; the batch's steps run together in one
    savepoint at its end, and only when one of them is refused, each again in a savepoint of its own."""
    audit.defer(session)
    common.defer_customer_reindex(session)
    total = len(rows)
    steps: _Steps = []
    try:
        for done, (row, cells) in enumerate(rows, start=1):
            taken = _take(session, report.dry_run, row, partial(one_row, row, cells),
                          savepoint=new is None, defer=new is not None)
            if not isinstance(taken, RowOutcome):
                steps.append((len(report.rows), row, taken))
                taken = RowOutcome(row, "update")  # until its step has run
            report.rows.append(taken)
            if done % BATCH_ROWS == 0:
                end_batch(v, session, report, new, steps)
            if progress is not None:
                progress(done, total)
    except BaseException:
        if new is not None:
            new.discard()
        audit.drop_pending(session, 0)
        audit.write_pending(session, stop=True)
        common.flush_customer_reindex(session, v.clock.now(), stop=True, queue=False)
        raise
    end_batch(v, session, report, new, steps, stop=True)


def _take(session: Session, dry_run: bool, row: int, one_row: Callable[[], RowOutcome | Step], *,
          savepoint: bool, defer: bool = False) -> RowOutcome | Step:
    mark = audit.pending_mark(session)
    gathered = common.customer_reindex_mark(session)
    nested = session.begin_nested() if savepoint else None
    try:
        outcome = one_row()
        if not isinstance(outcome, RowOutcome):
            if defer:
                return outcome
            nested = session.begin_nested()
            outcome = outcome()
    except (Refused, VaultError) as exc:
        if nested is not None:
            nested.rollback()
        audit.drop_pending(session, mark)
        common.drop_customer_reindex(session, gathered)  # a rolled-back row's dossier is not the job's
        err = exc.error if isinstance(exc, Refused) else exc
        return RowOutcome(row, "refuse", field=str(err.params.get("field") or "") or None, template=err.template,
                          params=err.params)
    if nested is not None and dry_run:
        nested.rollback()
        audit.drop_pending(session, mark)
        common.drop_customer_reindex(session, gathered)
        outcome.dossier_id = None
    elif nested is not None:
        nested.commit()
    return outcome


def _run_steps(session: Session, report: ImportReport, steps: _Steps) -> None:
    """The batch's steps in one savepoint; when one is refused, each again in its own (so only it writes
    nothing); a dry run's rolled back."""
    batch = list(steps)
    steps.clear()
    if not batch:
        return
    mark = audit.pending_mark(session)
    nested = session.begin_nested()
    try:
        outcomes = [step() for _, _, step in batch]
    except (Refused, VaultError):
        nested.rollback()
        audit.drop_pending(session, mark)
        for i, row, step in batch:
            report.rows[i] = cast(RowOutcome, _take(session, report.dry_run, row, step, savepoint=False))
        return
    if report.dry_run:
        nested.rollback()
        audit.drop_pending(session, mark)
        for outcome in outcomes:
            outcome.dossier_id = None
    else:
        nested.commit()
    for (i, _, _), outcome in zip(batch, outcomes, strict=True):
        report.rows[i] = outcome


def end_batch(v: Vault, session: Session, report: ImportReport, new: NewRows | None, steps: _Steps, *,
              stop: bool = False) -> set[int]:
    """The batch's work, the one place after its rows: its changes to what is there (``steps``), its new rows
    written (``new``), its audit events chained, one search job queued for the dossiers it created or changed
    (a dry run's forgotten); the ids of those dossiers (work that must follow every change of a batch's
    dossiers goes here, on them)."""
    dry_run = report.dry_run
    _run_steps(session, report, steps)
    if new is not None:
        if dry_run:
            new.discard()
        else:
            new.write(session)
    if dry_run:
        audit.drop_pending(session, 0)
    audit.write_pending(session, stop=stop)
    ids = common.flush_customer_reindex(session, v.clock.now(), stop=stop, queue=not dry_run)
    if not dry_run:
        refresh_completeness(session, ids)  # the new rows went in by bulk insert(), which no flush listener sees
    return ids
