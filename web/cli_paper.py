"""Paper-side commands: `dossier intake FILE` files a scanned stack, with a progress bar."""

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
