"""Paper-side commands: overdue transfers, the receipt register, and a dossier's printable sheets."""

from __future__ import annotations

from pathlib import Path

import click

from vault.errors import VaultError
from web.cli import main, open_vault, system_actor


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
    from vault.services.dossiers import resolve_archive_no
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
