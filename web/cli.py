"""The `dossier` command line: composes vault and indexer on the operator's authority."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import click

from config import Settings, SettingsError, load_settings
from indexer.search_index import SearchIndex
from vault.core import Vault, ensure_home
from vault.db import make_engine, migrate
from vault.errors import VaultError
from vault.models import User
from web import bootstrap
from web.bootstrap import Runtime


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr, fed by the ``progress(done, total)`` callback the services call."""
    with click.progressbar(length=1, label=label, file=sys.stderr) as bar:
        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        yield progress


def rebuild_index(v: Vault, index: SearchIndex, label: str = "Reindexing") -> int:
    """``reindex_all`` with a progress bar, saying so when the engine compacts its index after the load."""
    from indexer.service import reindex_all

    with progress_bar(label) as progress:
        return reindex_all(v, index, progress, compacting=lambda: click.echo(
            "\ncompacting the search index in one pass (searches go on meanwhile; "
            "minutes for 100,000 documents, an hour for 1,000,000)",
            err=True))


def _initialised_settings() -> Settings:
    settings = _settings()
    if not settings.keyring_file.exists():
        raise click.ClickException(f"no keyring at {settings.keyring_file}: run `dossier init` first")
    return settings


def open_runtime(*, migrate_schema: bool = False) -> Runtime:
    """The vault and its search index, for the commands that search or index (see web.bootstrap)."""
    settings = _initialised_settings()
    try:
        return bootstrap.open_runtime(settings, migrate_schema=migrate_schema)
    except VaultError as exc:
        raise click.ClickException(exc.message) from None


def open_vault(*, migrate_schema: bool = False) -> Vault:
    """The vault alone, for the commands that neither search nor write the index."""
    settings = _initialised_settings()
    try:
        return Vault.open(settings, migrate_schema=migrate_schema)
    except VaultError as exc:
        raise click.ClickException(exc.message) from None


def system_actor(v: Vault) -> User:
    from vault.services.users import system_user

    with v.session() as s:
        user = system_user(s, v.clock.now())
        s.expunge(user)
    return user


@click.group()
def main() -> None:
    """Dossier Vault: encrypted customer-dossier archive (客户档案)."""


@main.command()
def init() -> None:
    """Create home, schema, keyring (0600) and the first admin (idempotent)."""
    settings = _settings()
    _, created = ensure_home(settings)
    engine = make_engine(settings.db_url)
    migrate(engine)
    engine.dispose()
    v = Vault.open(settings)
    from vault.services.users import ensure_first_admin

    with v.session() as s:
        password = ensure_first_admin(v, s)
    v.close()
    click.echo(f"Dossier Vault home: {settings.home.resolve()}")
    click.echo(f"  database: {settings.db_url.split('@')[-1]}")
    click.echo(f"  keyring:  {settings.keyring_file} ({'created' if created else 'kept'}, mode 0600)")
    if password:
        click.echo("")
        click.echo("First run: user 'admin' was created. Its one-time password (shown only now):")
        click.echo(f"    {password}")
        click.echo("Sign in and add users with: dossier user add NAME --role archivist --password-stdin")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--processes", type=click.IntRange(min=1), default=None, help="web processes (setting web_processes)")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="threads per process (setting web_threads)")
@click.option("--no-worker", is_flag=True, help="do not start the index worker beside the web processes")
def serve(host: str, port: int, processes: int | None, threads: int | None, no_worker: bool) -> None:
    """Serve the web app and API with gunicorn, and one index worker unless --no-worker; Ctrl+C or SIGTERM
    stops both cleanly, with exit status 0."""
    from web import serving

    runtime = open_runtime(migrate_schema=True)  # schema and index ready before any web process starts
    settings = runtime.settings
    runtime.close()
    processes = processes or settings.web_processes
    threads = threads or settings.web_threads
    worker = None if no_worker else serving.start_index_worker()
    click.echo(f"Dossier Vault serving on http://{host}:{port}/  ({processes} processes x {threads} threads"
               f"{'' if no_worker else ', one index worker'}; Ctrl+C to stop)")
    try:
        serving.run(host, port, processes, threads)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl+C must not cut the shutdown short
        if worker is not None:
            serving.stop_index_worker(worker)
    click.echo("Dossier Vault stopped")


@main.group()
def user() -> None:
    """Manage users."""


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["admin", "archivist", "employee", "legal", "manager"]))
@click.option("--clearance", default="internal", show_default=True,
              type=click.Choice(["public", "internal", "confidential", "secret"]))
@click.option("--display-name", default="")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def user_add(name: str, role: str, clearance: str, display_name: str, password_stdin: bool) -> None:
    """Add a user; the password comes from stdin (never from the command line)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    v = open_vault()
    from vault.services.users import create_user

    actor = system_actor(v)
    try:
        with v.session() as s:
            create_user(v, s, actor, name, role, password, clearance=clearance, display_name=display_name)
    except VaultError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"user {name} added ({role}, clearance {clearance})")


@main.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
@click.option("--checkpoints", "also", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="also check against this checkpoint file (a collected copy, or the one in a backup)")
def audit_verify(also: tuple[Path, ...]) -> None:
    """Verify the audit hash chain and its signed checkpoints; exits 1 and names the first bad event."""
    from vault.audit_checkpoints import verify

    v = open_vault()
    try:
        with v.session() as s:
            report = verify(v, s, also)
    finally:
        v.close()
    click.echo(json.dumps(report.as_json(), ensure_ascii=False))
    if not report.ok:
        raise SystemExit(1)


@main.command()
@click.option("--deep", is_flag=True, help="also decrypt and authenticate every blob")
@click.option("--orphans", "remove_orphans", is_flag=True,
              help="remove blobs no document owns (left by a crash mid-upload)")
@click.option("--grace-minutes", default=60, show_default=True, type=int,
              help="an upload younger than this is taken to be in flight, not orphaned")
def verify(deep: bool, remove_orphans: bool, grace_minutes: int) -> None:
    """Fixity of every blob, orphans, audit chain; non-zero exit on any finding."""
    from vault.services.fixity import verify_all

    v = open_vault()
    try:
        with progress_bar("Checking blobs") as progress:
            report = verify_all(v, deep=deep, remove_orphans=remove_orphans, progress=progress,
                                grace=timedelta(minutes=grace_minutes))
    finally:
        v.close()
    click.echo(f"versions checked: {report.versions_checked}, bytes: {report.bytes_checked}, "
               f"audit events: {report.audit_events}, orphans removed: {report.orphans_removed}, "
               f"interrupted uploads cleaned: {report.interrupted_uploads_removed}")
    for line in report.lines(deep=deep):  # 四性: authenticity, integrity, usability, security
        click.echo(line)
    if not report.ok:
        raise SystemExit(1)
    click.echo("OK: no findings")


def _load_commands() -> None:
    """Command groups of other features live in their own modules and attach themselves to `main`."""
    from web import cli_customers, cli_import, cli_index, cli_ops, cli_paper, cli_workflows  # noqa: F401


_load_commands()

if __name__ == "__main__":
    # under `python -m web.cli` this module is __main__: the feature modules attached their commands to
    # web.cli.main, so run that one
    from web.cli import main as _main

    _main()
