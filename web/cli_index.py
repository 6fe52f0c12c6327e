"""`dossier worker`, `dossier reindex`, `dossier search`: the indexer from the command line."""

from __future__ import annotations

import html
import re
import signal
import threading
from types import FrameType
from typing import Any

import click
from sqlalchemy import select

from vault.errors import VaultError
from vault.models import User
from web.cli import main, open_runtime, rebuild_index


def plain_snippet(snippet: str) -> str:
    """A search snippet (HTML with <mark> hits) as terminal text: hits between asterisks, no entities."""
    return html.unescape(re.sub(r"</?mark>", "*", snippet))


@main.command()
def worker() -> None:
    """Run a standalone index worker until interrupted (several may run at once)."""
    from indexer.worker import run_forever

    runtime = open_runtime()
    stop = threading.Event()

    def _stop(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo("index worker running (Ctrl+C to stop)")
    run_forever(runtime.vault, runtime.index, stop)


@main.command()
def reindex() -> None:
    """Rebuild the search index from the database and the stored encrypted text (progress bar)."""
    runtime = open_runtime()
    try:
        count = rebuild_index(runtime.vault, runtime.index)
    finally:
        runtime.close()
    click.echo(f"reindexed {count} documents")


@main.command("search")
@click.argument("query")
@click.option("--as", "username", required=True, help="search with this user's rights (audited as them)")
@click.option("--doc-type", default=None)
@click.option("--archive-no", default=None, help="only this dossier, by its archive number (KH-2026-000006)")
@click.option("--limit", default=20, show_default=True, type=int)
def search_cmd(query: str, username: str, doc_type: str | None, archive_no: str | None, limit: int) -> None:
    """Search documents as a given user; prints archive no, title and snippet."""
    from indexer import service

    runtime = open_runtime()
    v = runtime.vault
    try:
        with v.session() as s:
            user = s.scalar(select(User).where(User.username == username))
            if user is None:
                raise click.ClickException(f"no user named {username!r}")
            wanted: dict[str, Any] = {"doc_type": doc_type}
            if archive_no:
                from vault.services.common import resolve_archive_no

                wanted["dossier_id"] = resolve_archive_no(s, user, archive_no).id
            result = service.search(v, runtime.index, s, user, query, service.parse_filters(wanted), 1, limit)
    except VaultError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{result.total} documents match {result.query!r}" + (" (partial)" if result.partial else ""))
    for item in result.items:
        snippet = plain_snippet(item.snippet)
        what = (f"#{item.document_id} {item.title} ({item.doc_type})" if item.document_id is not None
                else f"{item.source}: {item.title}")  # the customer file's card, a contact or a record
        click.echo(f"- [{item.archive_no}] {what}\n    {snippet}")
