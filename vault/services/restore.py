"""Restore a backup (`vault.services.backup` describes its layout) into an empty home, database and bucket.

Every file is checked against the manifest before anything is written; the keyring comes first (a wrong
passphrase stops there); blobs destroyed while the backup ran are erased again. Destructions executed
after the backup are replayed by the caller (`vault.services.register`), and the search index rebuilt.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import make_url, select, text
from sqlalchemy.exc import OperationalError

from config import Settings
from vault import audit, audit_checkpoints
from vault.core import Vault, ensure_home
from vault.crypto import Keyring
from vault.db import current_revision, make_engine
from vault.models import DocumentVersion
from vault.services.backup import (
    BACKUP_FORMAT,
    CHECKPOINTS_FILE,
    KEYRING_EXPORT,
    MANIFEST,
    BackupError,
    is_empty_dir,
    libpq_url,
    pg_tool,
    read_chunks,
    sha256_file,
    write_file,
)
from vault.services.erasure import erase_versions, retry_blob_erasures
from vault.storage import make_blob_store
from vault.storage.base import BlobStore, is_blob_key


@dataclass
class RestoreReport:
    blobs: int
    revision: str | None
    replayed_documents: list[int] = field(default_factory=list)


def read_manifest(src: Path) -> dict[str, Any]:
    """Load the manifest and check every file against it: present, unchanged, nothing extra."""
    src = Path(src)
    try:
        manifest = json.loads((src / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{src} has no {MANIFEST}: not a backup, or a backup that did not finish",
                          code="backup_manifest_missing") from None
    except ValueError:
        raise BackupError(f"{src / MANIFEST} is not valid JSON", code="backup_manifest_invalid") from None
    if not isinstance(manifest, dict) or manifest.get("format") != BACKUP_FORMAT or manifest.get("version") != 1:
        raise BackupError(f"{src / MANIFEST} is not a Dossier Vault backup manifest (format 1)",
                          code="backup_manifest_invalid")
    files: dict[str, str] = manifest.get("files") or {}
    present = {p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file()} - {MANIFEST}
    problems = [f"missing: {name}" for name in sorted(set(files) - present)]
    problems += [f"not in the manifest: {name}" for name in sorted(present - set(files))]
    for name in sorted(set(files) & present):
        if sha256_file(src / name) != files[name]:
            problems.append(f"changed: {name}")
    if problems:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise BackupError(f"the backup in {src} does not match its manifest ({shown}); nothing was restored",
                          code="backup_damaged", problems=problems)
    return manifest


def _require_empty_target(settings: Settings) -> None:
    home = settings.home
    if home.exists() and not is_empty_dir(home):
        raise BackupError(f"restore needs an empty home, and {home.resolve()} is not empty: point DOSSIER_HOME at "
                          "a new directory (nothing was changed)", code="restore_target_not_empty")
    for path in (settings.keyring_file, settings.blob_path, settings.index_path):
        if path.exists() and not (path.is_dir() and is_empty_dir(path)):
            raise BackupError(f"restore needs an empty target, and {path} exists (nothing was changed)",
                              code="restore_target_not_empty")
    if settings.blob_backend == "s3":
        store = make_blob_store(settings)
        try:
            if next(iter(store.keys()), None) is not None:
                raise BackupError(f"restore needs an empty bucket, and {store.describe()} holds blobs "
                                  "(nothing was changed)", code="restore_target_not_empty")
        finally:
            close = getattr(store, "close", None)
            if close:
                close()
    if settings.db_url.startswith("postgresql"):
        engine = make_engine(settings.db_url)
        try:
            with engine.connect() as conn:
                # tables, sequences, views, ... in any schema but PostgreSQL's own: pg_restore would collide
                relations = conn.execute(text(
                    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'")).scalar_one()
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            raise BackupError(f"cannot connect to the target PostgreSQL database {engine.url.database} ({reason}): "
                              "create an empty database and point DOSSIER_DATABASE_URL at it (nothing was changed)",
                              code="restore_target_unreachable") from None
        finally:
            engine.dispose()
        if relations:
            raise BackupError(f"restore needs an empty database, and the target PostgreSQL database "
                              f"{engine.url.database} holds tables (nothing was changed): create a new database "
                              "and point DOSSIER_DATABASE_URL at it", code="restore_target_not_empty")


def _require_same_kind(settings: Settings, manifest: dict[str, Any]) -> str:
    """The kind of database the backup holds, which must be the target's."""
    kind = str(manifest["database"]["kind"])
    target = "sqlite" if settings.db_url.startswith("sqlite") else "postgresql"
    if kind != target:
        raise BackupError(f"this backup holds a {kind} database and the target is {target}: restore into the same "
                          "kind of database, then migrate the data (nothing was changed)",
                          code="restore_kind_mismatch")
    return kind


def _restore_database(settings: Settings, src: Path, manifest: dict[str, Any], pg_restore: str) -> None:
    kind = manifest["database"]["kind"]
    dump = src / manifest["database"]["file"]
    if kind == "sqlite":
        db_path = Path(make_url(settings.db_url).database or "")
        db_path.parent.mkdir(parents=True, exist_ok=True)
        write_file(db_path, read_chunks(dump))
        return
    engine = make_engine(settings.db_url)
    try:
        url, env = libpq_url(engine)
    finally:
        engine.dispose()
    # one transaction: a failed restore leaves the database as empty as it was
    proc = subprocess.run([pg_restore, "--no-owner", "--no-privileges", "--exit-on-error",
                           "--single-transaction", f"--dbname={url}", str(dump)],
                          env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BackupError(f"pg_restore failed: {proc.stderr.strip()[-500:]}", code="pg_restore_failed")


def restore(settings: Settings, src: Path, passphrase: str, *,
            progress: Callable[[int, int], None] | None = None) -> tuple[Vault, RestoreReport]:
    """Restore a backup into the empty home (and database / bucket) the settings name.

    Order: manifest checked, kind of database and its tools checked, target checked empty, keyring
    imported (a wrong passphrase stops here with nothing written), database (PostgreSQL: in one
    transaction), blobs; then the schema is migrated to this release and blobs destroyed during the
    backup are erased again. Returns the opened vault; the caller replays destructions that happened
    after the backup (`replay_destructions`) and rebuilds the search index.
    """
    src = Path(src)
    manifest = read_manifest(src)
    kind = _require_same_kind(settings, manifest)
    pg_restore = pg_tool("pg_restore") if kind == "postgresql" else ""  # missing tools: stop before writing
    _require_empty_target(settings)
    settings.home.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.home, 0o700)
    settings.keyring_file.parent.mkdir(parents=True, exist_ok=True)
    Keyring.import_encrypted((src / KEYRING_EXPORT).read_bytes(), passphrase, settings.keyring_file)
    ensure_home(settings)  # the Flask secret key (a new one: sessions of the old service end)
    _restore_database(settings, src, manifest, pg_restore)
    store: BlobStore = make_blob_store(settings)
    blob_files = sorted(p for p in (src / "blobs").rglob("*") if p.is_file()) if (src / "blobs").is_dir() else []
    for i, path in enumerate(blob_files, 1):
        key = path.relative_to(src / "blobs").as_posix()
        if not is_blob_key(key):
            raise BackupError(f"{path} is not a blob of this format; nothing further was restored")
        store.put(key, read_chunks(path))
        if progress:
            progress(i, len(blob_files))
    with contextlib.suppress(Exception):
        getattr(store, "close", lambda: None)()
    _restore_checkpoints(settings, src, int(manifest["audit_head"]["seq"]))
    v = Vault.open(settings, migrate_schema=True)
    report = RestoreReport(blobs=len(blob_files), revision=current_revision(v.engine))
    gone = set(manifest.get("gone_during_backup") or [])
    if gone:
        _erase_versions_by_blob(v, gone)
    with v.session() as s:
        audit.record(s, None, "backup.restored", now=v.clock.now(), blobs=len(blob_files),
                     backup_created_at=manifest.get("created_at"), backup_audit_seq=manifest["audit_head"]["seq"])
    return v, report


def _restore_checkpoints(settings: Settings, src: Path, snapshot_seq: int) -> None:
    """Put the backup's signed checkpoints that the restored chain reaches into the new home's file
    (the later ones name events this restore legitimately lacks)."""
    checkpoints, _ = audit_checkpoints.read_checkpoints(src / CHECKPOINTS_FILE)
    kept = "".join(c.line() for c in checkpoints if c.seq <= snapshot_seq)
    if kept:
        audit_checkpoints.append_lines(settings.audit_checkpoints_path, kept)


def _erase_versions_by_blob(v: Vault, keys: set[str]) -> None:
    """Erase the versions whose blobs vanished while the backup ran (destroyed meanwhile), audited."""
    with v.session() as s:
        versions = s.scalars(select(DocumentVersion).where(DocumentVersion.blob_key.in_(keys))).all()
        erase_versions(s, None, versions, v.clock.now(), reason="gone_during_backup")
    retry_blob_erasures(v)


__all__ = ["RestoreReport", "read_manifest", "restore"]
