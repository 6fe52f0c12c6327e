"""Paper-side commands: overdue transfers, the receipt register, a dossier's printable sheets, and
`dossier intake FILE`, which files a scanned stack with a progress bar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from indexer import intake
from vault.errors import VaultError
from vault.models import User
from web.cli import main, open_vault, progress_bar, system_actor


@main.group("transfers")
def transfers_group() -> None:
    """Transfers into the archive (移交/接收)."""


@transfers_group.command("overdue")
def transfers_overdue() -> None:
    """Tell senders and managers about transfers past their deadline (the worker does this every minute)."""
    from vault.services.transfer_register import overdue_transfers, run_overdue_transfers

    v = open_vault()
    newly = run_overdue_transfers(v)
    actor = system_actor(v)
    with v.session() as s:
        every = overdue_transfers(v, s, actor)
        for t in every:
            mark = " (notified now)" if t.id in newly else ""
            click.echo(f"#{t.id} {t.dossier.archive_no} from {t.sender.username} due {t.deadline.isoformat()} "
                       f"{t.status.value}{mark}")
    click.echo(f"{len(every)} overdue transfer(s), {len(newly)} newly notified")


@transfers_group.command("receipts")
@click.option("--since", default=None, help="first receipt date, e.g. 2026-11-01")
@click.option("--until", default=None, help="last receipt date, e.g. 2026-11-30")
def transfers_receipts(since: str | None, until: str | None) -> None:
    """The receipt register (接收登记): receipt number, date, dossier, sender, receiver, items by state."""
    from vault.services.transfer_register import list_receipts

    v = open_vault()
    actor = system_actor(v)
    try:
        with v.session() as s:
            for t in list_receipts(s, actor, {"since": since, "until": until}):
                states = [i.state.value for i in t.items if i.state is not None]
                counts = ", ".join(f"{n} {k}" for k in ("present", "differs", "missing")
                                   if (n := states.count(k)))
                assert t.received_at is not None and t.received_by is not None
                click.echo(f"{t.receipt_no}\t{t.received_at.date().isoformat()}\t{t.dossier.archive_no}\t"
                           f"{t.sender.username}\t{t.received_by.username}\t{counts}")
    except VaultError as exc:
        raise click.ClickException(exc.message) from None


@main.command("sheets")
@click.argument("archive_no")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              help="directory for the PDFs")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh")
@click.option("--doc-type", "doc_types", multiple=True, help="also a separator sheet per document type")
def sheets(archive_no: str, out_dir: Path, lang: str, doc_types: tuple[str, ...]) -> None:
    """Write a dossier's contents list, cover, record sheet and separator sheet(s) as A4 PDFs."""
    from vault.services.common import resolve_archive_no
    from vault.services.paper_sheets import render_sheet

    v = open_vault()
    actor = system_actor(v)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with v.session() as s:
            dossier = resolve_archive_no(s, actor, archive_no)
            jobs: list[tuple[str, str | None]] = [("contents", None), ("cover", None), ("record-sheet", None),
                                                  ("separator", None), *(("separator", t) for t in doc_types)]
            for sheet, doc_type in jobs:
                pdf = render_sheet(v, s, actor, dossier.id, sheet, lang=lang, doc_type=doc_type)
                path = out_dir / f"{dossier.archive_no}-{sheet}{'-' + doc_type if doc_type else ''}.pdf"
                path.write_bytes(pdf)
                click.echo(str(path))
    except VaultError as exc:
        raise click.ClickException(exc.message) from None


def _pages(part: dict[str, Any]) -> str:
    return f"pages {part['first_page']}-{part['last_page']}"


@main.command("intake")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "as_user", default="", help="file as this archivist (their clearance applies); default: system")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
def intake_command(file: Path, as_user: str, as_json: bool) -> None:
    """Split a scanned stack (one PDF) at its separator sheets and file the parts into their dossiers."""
    v = open_vault()
    if as_user:
        with v.session() as s:
            actor = s.scalar(select(User).where(User.username == as_user, User.active.is_(True)))
            if actor is None:
                raise click.ClickException(f"no active user {as_user!r}")
            s.expunge(actor)
    else:
        actor = system_actor(v)
    try:
        with progress_bar("Splitting and filing") as progress:
            result = intake.process_stack(v, actor, file, file.name, source="cli", progress=progress)
    except VaultError as exc:
        raise click.ClickException(exc.message) from None
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    if result.get("already_processed"):
        click.echo("this stack was filed before; its result:")
    for f in result["filed"]:
        click.echo(f"filed      {f['archive_no']}  document {f['document_id']}  {_pages(f)}")
    for d in result["duplicates"]:
        click.echo(f"duplicate  {d['archive_no']}  document {d['document_id']}  {_pages(d)}"
                   "  (already in the dossier: not filed twice)")
    for u in result["unfiled"]:
        click.echo(f"unfiled    part {u['part_id']}  {_pages(u)}  {u['reason']}")
    click.echo(f"{len(result['filed'])} filed, {len(result['duplicates'])} duplicate(s), "
               f"{len(result['unfiled'])} unfiled (see the unfiled inbox)")


@main.group("calendar")
def calendar_group() -> None:
    """The holiday calendar that working-day deadlines follow (public holidays, make-up working days 调休)."""


@calendar_group.command("list")
@click.option("--year", default=None, help="the year to list (default: this year)")
def calendar_list(year: str | None) -> None:
    """The year's listed days: date, holiday or workday, name."""
    from vault.services.workdays import list_days

    v = open_vault()
    try:
        with v.session() as s:
            for d in list_days(s, year or v.clock.now().year):
                click.echo(f"{d.day.isoformat()}\t{'workday' if d.working else 'holiday'}\t{d.name}")
    except VaultError as exc:
        raise click.ClickException(exc.message) from None


@calendar_group.command("set")
@click.argument("days")
@click.argument("kind", type=click.Choice(["holiday", "workday", "normal"]))
@click.option("--name", default="", help="e.g. 国庆节, 国庆调休")
def calendar_set(days: str, kind: str, name: str) -> None:
    """List DAYS (2026-10-01, or a range 2026-10-01..2026-10-07) as holiday, workday (make-up) or normal."""
    from vault.services.workdays import set_days

    first, _sep, last = days.partition("..")
    entry = {"date": first, "day_type": kind, "name": name} if not last else \
        {"from": first, "to": last, "day_type": kind, "name": name}
    v = open_vault()
    try:
        with v.session() as s:
            changed = set_days(v, s, system_actor(v), [entry])
    except VaultError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{len(changed)} day(s) set to {kind}")
