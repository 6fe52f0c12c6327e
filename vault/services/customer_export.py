"""Exporting customers (the 客户一览表 with the card's fields) as CSV or XLSX, masked as the reader sees them.

The rows are the dossier list's for the same filters (so its clearance rule and every filter it knows
apply); each card is read through `cards.read_card`, so sensitive values come masked unless the reader
may read that dossier's content, and each read in full is audited there. Cells are neutralised against
formula injection by the shared writers (`exports.py`). The export itself is audited with its filters.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

from vault import audit
from vault.core import Vault
from vault.errors import Invalid
from vault.models import User
from vault.paging import MAX_PER_PAGE, Page
from vault.services import cards, exports
from vault.services.customer_columns import COLUMNS
from vault.services.dossiers import list_dossiers

FORMATS = ("csv", "xlsx")
MIME = {f: exports.MIME[f] for f in FORMATS}
FILTER_KEYS = ("q", "grade", "customer_type", "status", "owner", "secrecy", "stage", "customer_kind", "industry",
                "region", "review_due", "incomplete")


@dataclass(frozen=True)
class ExportResult:
    fmt: str
    rows: int
    filename: str


def _rows(v: Vault, session: Any, actor: User, filters: Mapping[str, Any], first: Page) -> Iterator[dict[str, Any]]:
    page, found = 1, first
    while True:
        if page > 1:
            found = list_dossiers(session, actor, filters, page, MAX_PER_PAGE)
        for dossier in found.items:
            view = cards.read_card(v, session, actor, dossier.id)
            row = dict(view.fields)
            row.update(archive_no=dossier.archive_no, industry=dossier.industry, region=dossier.region,
                       credit_code=dossier.credit_code, owner=dossier.owner.username)
            yield row
        if page * found.per_page >= found.total or not found.items:
            return
        page += 1


def export_customers(v: Vault, session: Any, actor: User, fmt: str, args: Mapping[str, Any], out: IO[bytes],
                     lang: str = "zh") -> ExportResult:
    """Write the customers the actor may see, filtered like the dossier list, as CSV or XLSX into ``out``."""
    if fmt not in FORMATS:
        raise Invalid("format", "{field} must be one of {allowed}", params={"allowed": ", ".join(FORMATS)})
    filters = {k: args[k] for k in FILTER_KEYS if args.get(k) not in (None, "")}
    # the first page before any file is begun: a bad filter is refused before a writer holds half a file
    rows = _rows(v, session, actor, filters, list_dossiers(session, actor, filters, 1, MAX_PER_PAGE))
    if fmt == "csv":
        n = exports.write_csv(out, COLUMNS, rows, lang)
    else:
        n = exports.write_xlsx(out, [("客户一览表" if lang.startswith("zh") else "Customers", COLUMNS, rows)], lang)
    audit.record(session, actor, "customers.exported", None, now=v.clock.now(), format=fmt, rows=n,
                 filters={k: str(val)[:100] for k, val in filters.items()})
    return ExportResult(fmt, n, f"customers.{fmt}")
