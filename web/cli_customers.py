"""`dossier customers import|export`: the customer spreadsheet (客户一览表 with card fields) on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import click
from sqlalchemy import select

from vault.core import Vault
from vault.errors import VaultError
from vault.models import User
from vault.services import customer_export, relationship_io
from web.cli import main, open_vault, progress_bar, system_actor


def _actor(v: Vault, as_user: str) -> User:
    if not as_user:
        return system_actor(v)
    with v.session() as s:
        actor = s.scalar(select(User).where(User.username == as_user, User.active.is_(True)))
        if actor is None:
            raise click.ClickException(f"no active user {as_user!r}")
        s.expunge(actor)
    return actor


@main.group()
def customers() -> None:
    """Import and export customers (客户一览表) as CSV or XLSX."""


@customers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="report what each row would do and write nothing")
@click.option("--sheet", type=click.Choice(relationship_io.IMPORT_SHEETS), default="customers",
              show_default=True, help="what the file holds: customers (客户一览表), contacts (联系人) or records "
              "(往来记录), each row naming its customer by credit code or ID number")
@click.option("--as", "as_user", default="", help="import as this archivist (their clearance applies); "
              "default: system")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
def import_command(file: Path, dry_run: bool, sheet: str, as_user: str, as_json: bool) -> None:
    """Import customers (or their contacts or records) from FILE: per row create, update or refuse with why."""
    v = open_vault()
    actor = _actor(v, as_user)
    try:
        with v.session() as session, progress_bar("Checking" if dry_run else "Importing") as progress:
            report = relationship_io.import_file(v, session, actor, sheet, file.name, file.read_bytes(),
                                                 dry_run=dry_run, progress=progress)
    except VaultError as exc:
        raise click.ClickException(exc.message) from None
    rows = [{"row": r.row, "action": r.action, **({"field": r.field, "reason": r.reason} if r.reason else {})}
            for r in report.rows]
    counts = {"created": report.count("create"), "updated": report.count("update"),
              "refused": report.count("refuse")}
    if as_json:
        click.echo(json.dumps({"rows": rows, **counts, "dry_run": dry_run}, ensure_ascii=False, indent=2))
    else:
        for r in rows:
            click.echo(f"row {r['row']}: {r['action']}" + (f" ({r['field']}: {r['reason']})" if "reason" in r else ""))
        verb = "would be" if dry_run else "were"
        click.echo(f"{counts['created']} {verb} created, {counts['updated']} {verb} updated, "
                   f"{counts['refused']} refused")
    if counts["refused"]:
        raise SystemExit(2)


@customers.command("export")
@click.option("--format", "fmt", type=click.Choice(customer_export.FORMATS), default="xlsx", show_default=True)
@click.option("--sheet", type=click.Choice(relationship_io.IMPORT_SHEETS), default="customers",
              show_default=True, help="customers, or their contacts or records")
@click.option("--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--as", "as_user", default="", help="export as this user (masking and clearance as they see)")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="column headings")
def export_command(fmt: str, sheet: str, output: Path, as_user: str, lang: str) -> None:
    """Write the customers, or their contacts or records (masked as the user sees them), to OUTPUT."""
    v = open_vault()
    actor = _actor(v, as_user)
    tmp = output.with_name(output.name + ".part")
    try:
        with v.session() as session, tmp.open("wb") as fh:
            if sheet == "customers":
                rows = customer_export.export_customers(v, session, actor, fmt, {}, fh, lang).rows
            else:
                rows = relationship_io.export_sheet(v, session, actor, sheet, fmt, {}, fh, lang)[0]
    except VaultError as exc:
        tmp.unlink(missing_ok=True)
        raise click.ClickException(exc.message) from None
    tmp.replace(output)
    click.echo(f"{rows} {sheet} written to {output}")
