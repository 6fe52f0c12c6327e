"""Operations from the command line: `dossier keys ...`, `dossier backup`, `dossier restore`,
`dossier export-destruction-register`. Attaches itself to `dossier` (see web.cli._load_commands)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from vault.errors import VaultError
from web.bootstrap import compose
from web.cli import _settings, audit, main, open_vault, progress_bar, rebuild_index, system_actor


def _passphrase(from_stdin: bool) -> str:
    from vault.services.backup import check_passphrase

    if from_stdin:
        text = sys.stdin.readline().rstrip("\r\n")
    else:
        text = click.prompt("Backup passphrase", hide_input=True)
    try:
        return check_passphrase(text)
    except VaultError as exc:
        raise click.ClickException(exc.message) from None


@main.group()
def keys() -> None:
    """Master keys: rotate, retire, status."""


@keys.command("rotate")
@click.option("--resume", is_flag=True, help="finish an interrupted rotation: re-wrap what is still on old keys, "
              "without creating another master-key version")
@click.option("--batch-size", default=200, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--keep-old", is_flag=True, help="do not retire old versions at the end")
def keys_rotate(resume: bool, batch_size: int, keep_old: bool) -> None:
    """New master-key version; every data key re-wrapped under it (blobs untouched); unused versions retired."""
    from vault.services import keys as key_service

    v = open_vault()
    actor = system_actor(v)
    try:
        with click.progressbar(length=1, label="Re-wrapping data keys", file=sys.stderr) as bar:
            def start(key_id: int, total: int) -> None:
                bar.length = max(total, 1)
                if not resume:
                    click.echo(f"master key version {key_id} created and made current", err=True)

            report = key_service.rotate_master_key(v, actor, resume=resume, retire=not keep_old,
                                                   batch_size=batch_size, progress=bar.update, on_start=start)
    except VaultError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        v.close()
    click.echo(f"current master key: {report.key_id}; re-wrapped {report.rewrapped} data keys"
               + (f", {report.skipped} changed meanwhile and left alone" if report.skipped else ""))
    if report.retired:
        click.echo(f"retired versions: {', '.join(map(str, report.retired))}")
    for key_id, n in sorted(report.still_used.items()):
        click.echo(f"version {key_id} still wraps {n} data keys: run `dossier keys rotate --resume`")


@keys.command("retire")
@click.argument("key_id", type=int, required=False)
def keys_retire(key_id: int | None) -> None:
    """Retire old master-key versions that no live document uses (or only KEY_ID)."""
    from vault.services import keys as key_service

    v = open_vault()
    try:
        retired, still_used = key_service.retire_unused(v, system_actor(v), only=key_id)
    except VaultError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        v.close()
    click.echo(f"retired: {', '.join(map(str, retired)) or 'none'}")
    for kid, n in sorted(still_used.items()):
        click.echo(f"version {kid} still wraps {n} data keys: not retired")
    if key_id is not None and key_id in still_used:
        raise SystemExit(1)


@keys.command("status")
def keys_status() -> None:
    """Each master-key version, its status and how many live data keys it wraps."""
    from vault.services import keys as key_service

    v = open_vault()
    try:
        usage = key_service.key_usage(v)
        for kid in v.keyring.ids:
            mark = " (current)" if kid == v.keyring.current_id else ""
            click.echo(f"{kid}\t{v.keyring.status(kid)}{mark}\t{usage.get(kid, 0)} data keys")
    finally:
        v.close()


@main.command()
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--passphrase-stdin", is_flag=True, help="read the passphrase for the keyring export from stdin")
def backup(dest: Path, passphrase_stdin: bool) -> None:
    """Consistent backup into DEST: database snapshot, blobs, keyring encrypted with a passphrase, manifest."""
    from vault.services import backup as service

    passphrase = _passphrase(passphrase_stdin)
    v = open_vault()
    try:
        with progress_bar("Copying blobs") as progress:
            report = service.backup(v, dest, passphrase, progress=progress)
    except VaultError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        v.close()
    click.echo(f"backup written to {report.path}: {report.blobs} blobs ({report.bytes} bytes), {report.files} files")
    click.echo(f"manifest SHA-256: {report.manifest_sha256}  (record it with the backup's location)")
    if report.gone_during_backup:
        click.echo(f"{len(report.gone_during_backup)} blobs were destroyed while the backup ran; restore erases "
                   "their keys too")


@main.command()
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--passphrase-stdin", is_flag=True, help="read the passphrase of the keyring export from stdin")
@click.option("--destruction-register", "register_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="register of destructions executed after the backup (default: destruction-register.json "
                   "beside SRC, if present)")
def restore(src: Path, passphrase_stdin: bool, register_path: Path | None) -> None:
    """Restore SRC into an empty home; replay later destructions; rebuild the index; verify."""
    from vault.services import register
    from vault.services import restore as service
    from vault.services.fixity import verify_all

    passphrase = _passphrase(passphrase_stdin)
    settings = _settings()
    try:
        with progress_bar("Restoring blobs") as progress:
            v, report = service.restore(settings, src, passphrase, progress=progress)
    except VaultError as exc:
        raise click.ClickException(exc.message) from None
    try:
        register_path = register_path or register.register_beside(src)
        if register_path is not None:
            replayed = register.replay_destructions(v, register.load_register(register_path), system_actor(v))
            click.echo(f"destruction register {register_path}: {len(replayed)} documents destroyed after the "
                       "backup were destroyed again")
        count = rebuild_index(v, compose(v).index, "Rebuilding the search index")
        click.echo(f"search index rebuilt: {count} documents")
        fixity = verify_all(v, deep=True)
    except VaultError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        v.close()
    click.echo(f"restored {report.blobs} blobs into {settings.home.resolve()} (schema {report.revision})")
    for f in fixity.findings:
        click.echo(f"FINDING {f.kind}: {f.subject}: {f.detail}")
    if not fixity.ok:
        raise SystemExit(1)
    click.echo("verify: OK, no findings")


@main.command("export-destruction-register")
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
def export_register(dest: Path) -> None:
    """Write the register of executed destructions (keep it beside the backups after every destruction)."""
    from vault.services.register import export_destruction_register

    v = open_vault()
    try:
        data = export_destruction_register(v)
    finally:
        v.close()
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(dest)
    click.echo(f"{len(data['batches'])} executed destruction batches written to {dest}")


@audit.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign a checkpoint of the audit chain's head now (the worker does so every interval)."""
    from vault.audit_checkpoints import sign_head

    v = open_vault()
    try:
        checkpoint = sign_head(v)
    except VaultError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        v.close()
    if checkpoint is None:
        click.echo("the audit chain has not moved since the last checkpoint: nothing to sign")
    else:
        click.echo(f"checkpoint of event {checkpoint.seq} signed and appended to "
                   f"{v.settings.audit_checkpoints_path}")
