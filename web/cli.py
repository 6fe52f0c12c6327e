"""The `dossier` command line: composes vault (and indexer when present) on the operator's authority."""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from config import Settings, SettingsError, load_settings
from vault.core import Vault, ensure_home
from vault.db import make_engine, migrate
from vault.errors import VaultError
from vault.models import Dossier, Role, User


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


def open_vault(*, migrate_schema: bool = False) -> Vault:
    settings = _settings()
    if not settings.keyring_file.exists():
        raise click.ClickException(f"no keyring at {settings.keyring_file}: run `dossier init` first")
    try:
        v = Vault.open(settings, migrate_schema=migrate_schema)
    except VaultError as exc:
        raise click.ClickException(exc.message) from None
    try:
        from indexer.service import attach_index
    except ImportError:
        pass
    else:
        attach_index(v)
    return v


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
    from vault.services.users import hash_password, system_user

    with v.session() as s:
        system_user(s, v.clock.now())
        has_admin = s.scalar(select(User.id).where(User.role == Role.ADMIN)) is not None
        password = None
        if not has_admin:
            password = secrets.token_urlsafe(12)
            now = v.clock.now()
            admin = User(username="admin", display_name="Administrator", role=Role.ADMIN, clearance="secret",
                         password_hash=hash_password(password), active=True, created_at=now,
                         password_changed_at=now)
            s.add(admin)
            from vault import audit

            audit.record(s, None, "user.created", admin, now=now, username="admin", role="admin")
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
@click.option("--no-worker", is_flag=True, help="do not run the index worker in this process")
def serve(host: str, port: int, no_worker: bool) -> None:
    """Serve the web app and API (with an in-process index worker unless --no-worker)."""
    from werkzeug.serving import run_simple

    from web import create_app

    v = open_vault(migrate_schema=True)
    app = create_app(vault=v)
    worker = None
    if not no_worker:
        try:
            from indexer.worker import start_background_worker
        except ImportError:
            pass
        else:
            worker = start_background_worker(v)
    click.echo(f"Dossier Vault serving on http://{host}:{port}/  (Ctrl+C to stop)")
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
    finally:
        if worker is not None:
            worker.stop()


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


def _import_manifest(v: Vault, root: Path, manifest: dict[str, Any], owner: str) -> dict[str, int]:
    from vault.services import documents, dossiers

    actor = system_actor(v)
    customers = {c["id"]: c for c in manifest.get("customers", [])}
    files = manifest.get("files", [])
    counts = {"uploaded": 0, "duplicates": 0, "refused": 0}
    dossier_ids: dict[str, int] = {}
    with click.progressbar(files, label="Importing", file=sys.stderr,
                           item_show_func=lambda f: f["path"] if f else None) as bar:
        for entry in bar:
            key = entry.get("customer_id") or entry.get("credit_code") or entry.get("customer") or "unknown"
            if key not in dossier_ids:
                cust = customers.get(entry.get("customer_id", ""), {})
                code = entry.get("credit_code") or cust.get("credit_code")
                with v.session() as s:
                    existing = s.scalar(select(Dossier).where(Dossier.credit_code == code)) if code else None
                    if existing is None:
                        existing = dossiers.create_dossier(v, s, actor, {
                            "customer_name": entry.get("customer") or cust.get("name") or key,
                            "credit_code": code, "customer_type": entry.get("customer_type", "client"),
                            "industry": cust.get("industry", ""), "owner": owner,
                        })
                    dossier_ids[key] = existing.id
            path = root / entry["path"]
            try:
                with path.open("rb") as fh:
                    staged = documents.stage_upload(v, iter(lambda: fh.read(65536), b""), path.name)
                try:
                    with v.session() as s:
                        documents.commit_upload(v, s, actor, dossier_ids[key], staged,
                                                doc_type=entry.get("doc_type", "other"), title=entry.get("title"),
                                                doc_date=entry.get("doc_date"))
                except BaseException:
                    documents.discard_staged(v, staged)
                    raise
                counts["uploaded"] += 1
            except VaultError as exc:
                if exc.code == "duplicate_document":
                    counts["duplicates"] += 1
                else:
                    counts["refused"] += 1
                    click.echo(f"\nrefused {entry['path']}: {exc.message}", err=True)
    return counts


@main.command("import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--manifest", "manifest_path", required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--owner", default=None, help="username owning new dossiers (default: the first archivist)")
def import_cmd(directory: Path, manifest_path: Path, owner: str | None) -> None:
    """Bulk upload the files a corpus manifest lists, one dossier per customer (progress bar)."""
    v = open_vault()
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise click.ClickException(f"{manifest_path} is not valid JSON: {exc}") from None
    if owner is None:
        with v.session() as s:
            owner = s.scalar(select(User.username).where(User.role == Role.ARCHIVIST, User.active.is_(True))
                             .order_by(User.id))
        if owner is None:
            raise click.ClickException("no archivist exists to own the dossiers: add one or pass --owner")
    try:
        counts = _import_manifest(v, directory, manifest, owner)
    except VaultError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"uploaded {counts['uploaded']}, already present {counts['duplicates']}, refused {counts['refused']}")
    if counts["refused"]:
        raise SystemExit(1)


def _load_commands() -> None:
    """Command groups of other features live in their own modules and attach themselves to `main`."""
    import importlib

    for module in ("web.cli_index", "web.cli_workflows", "web.cli_ops"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


_load_commands()

if __name__ == "__main__":
    # under `python -m web.cli` this module is __main__: the feature modules attached their commands to
    # web.cli.main, so run that one
    from web.cli import main as _main

    _main()
