"""Backup and restore: a consistent database snapshot, the blobs it references, the keyring encrypted
with a passphrase, and a manifest of SHA-256s of every file.

Layout of a backup directory::

    manifest.json            format, times, database kind and revision, audit head, {path: sha256}
    database.sqlite3         SQLite: the online-backup API's copy (one consistent point in time)
    database.pgdump          PostgreSQL: `pg_dump -Fc` taken in an exported snapshot (restored with
                             pg_restore in one transaction, into an empty database only)
    keyring.export.json      Keyring.export_encrypted(passphrase): scrypt + AES-256-GCM
    audit-checkpoints.jsonl  the signed checkpoints of the audit chain (vault.audit_checkpoints), one
                             signed just before the snapshot; restore keeps those the snapshot reaches
    blobs/3f/9a/3f9a...      ciphertext exactly as stored (never decrypted by a backup)

Consistency: the blob list, the audit head and the schema revision of the manifest are read from the
same snapshot as the database (blobs are write-once under fresh keys, so copying them afterwards yields
exactly the snapshot's set). A blob that disappears (or is queued for erasure) while the backup runs
belongs to a document destroyed meanwhile: it is listed under `gone_during_backup` and its key is
erased again on restore. The manifest is written last: a directory without one is not a
backup. The search index is not copied: it is derived, and rebuilt after a restore.

Restoring one is `vault.services.restore`; documents destroyed after the backup was taken must stay
destroyed: see `vault.services.register`.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text

from vault import audit, audit_checkpoints
from vault.core import Vault
from vault.errors import BlobNotFound, Invalid, VaultError
from vault.models import BlobErasure

BACKUP_FORMAT = "dossier-vault-backup"
MANIFEST = "manifest.json"
KEYRING_EXPORT = "keyring.export.json"
SQLITE_FILE = "database.sqlite3"
CHECKPOINTS_FILE = "audit-checkpoints.jsonl"
PGDUMP_FILE = "database.pgdump"
CHUNK = 1024 * 1024


class BackupError(VaultError):
    """A backup cannot be taken or restored; the message says what to do."""

    status = 409
    code = "backup_error"


@dataclass
class BackupReport:
    path: Path
    files: int
    blobs: int
    bytes: int
    manifest_sha256: str
    gone_during_backup: list[str] = field(default_factory=list)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_file(path: Path, chunks: Iterable[bytes], mode: int = 0o600) -> int:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    size = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        for chunk in chunks:
            fh.write(chunk)
            size += len(chunk)
        fh.flush()
        os.fsync(fh.fileno())
    return size


def read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        yield from iter(lambda: fh.read(CHUNK), b"")


def is_empty_dir(path: Path) -> bool:
    return path.is_dir() and next(path.iterdir(), None) is None


# -- database snapshots -----------------------------------------------------------------------------


def _sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


@dataclass
class _Snapshot:
    """What the manifest and the blob copy need, read in the same snapshot as the database copy."""

    blob_keys: list[str]
    audit_head: dict[str, Any]
    revision: str | None


_BLOB_KEYS_SQL = ("SELECT blob_key FROM document_versions WHERE blob_key IS NOT NULL"
                  " UNION SELECT blob_key FROM intake_parts WHERE blob_key IS NOT NULL"  # the unfiled inbox
                  " UNION SELECT blob_key FROM intake_stacks WHERE blob_key IS NOT NULL")
_AUDIT_HEAD_SQL = "SELECT seq, hash FROM audit_head WHERE id = 1"
_REVISION_SQL = "SELECT version_num FROM alembic_version"


def _snapshot_info(rows: Callable[[str], list[Any]]) -> _Snapshot:
    head = rows(_AUDIT_HEAD_SQL)
    revision = rows(_REVISION_SQL)
    return _Snapshot(blob_keys=[r[0] for r in rows(_BLOB_KEYS_SQL)],
                     audit_head={"seq": head[0][0], "hash": head[0][1]} if head else {"seq": 0, "hash": audit.GENESIS},
                     revision=revision[0][0] if revision else None)


def _snapshot_sqlite(engine: Engine, dest: Path) -> _Snapshot:
    """Copy the live database with SQLite's online-backup API, and read the copy."""
    src = sqlite3.connect(_sqlite_path(engine), timeout=30)
    dst = sqlite3.connect(dest)
    try:
        src.backup(dst)
        dst.commit()
        info = _snapshot_info(lambda sql: dst.execute(sql).fetchall())
    finally:
        dst.close()
        src.close()
    os.chmod(dest, 0o600)
    return info


def libpq_url(engine: Engine) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password (passed in PGPASSWORD, never on a command line)."""
    url = engine.url.set(drivername="postgresql")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return url.set(password=None).render_as_string(hide_password=False), env


def _version_key(bin_dir: str) -> tuple[int, ...]:
    """(15,) for /usr/lib/postgresql/15/bin, (9, 6) for .../9.6/bin; a name that is no version sorts first."""
    try:
        return tuple(int(part) for part in Path(bin_dir).parent.name.split("."))
    except ValueError:
        return (-1,)


def pg_tool(name: str) -> str:
    """Path of pg_dump / pg_restore: $PG_BIN, else the newest /usr/lib/postgresql/*/bin (Debian's server and
    client packages put them there, often not on PATH), else PATH. The newest, because pg_dump refuses a
    server newer than itself."""
    override = os.environ.get("PG_BIN")
    if override:
        if (Path(override) / name).is_file():
            return str(Path(override) / name)
        raise BackupError(f"PG_BIN is {override}, and it holds no {name}: point PG_BIN at the directory of the "
                          "PostgreSQL client tools", code="pg_tools_missing")
    for bin_dir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        if (Path(bin_dir) / name).is_file():
            return str(Path(bin_dir) / name)
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} is not on PATH: install the PostgreSQL client tools (Debian: postgresql-client) "
                          "or set PG_BIN", code="pg_tools_missing")
    return found


def _snapshot_postgres(engine: Engine, dest: Path, pg_dump: str) -> _Snapshot:
    """pg_dump inside an exported snapshot, and the manifest's facts read in that same snapshot."""
    url, env = libpq_url(engine)
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            # the first statement fixes the transaction's snapshot; pg_dump --snapshot reads exactly it
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            info = _snapshot_info(lambda sql: list(conn.execute(text(sql))))
            proc = subprocess.run(
                [pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                 f"--file={dest}", f"--dbname={url}"],
                env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BackupError(f"pg_dump failed: {proc.stderr.strip()[-500:]}", code="pg_dump_failed")
    os.chmod(dest, 0o600)
    return info


# -- backup -----------------------------------------------------------------------------------------


def backup(v: Vault, dest: Path, passphrase: str, *,
           progress: Callable[[int, int], None] | None = None) -> BackupReport:
    """Write a complete, self-checking backup of the vault into `dest` (a new or empty directory)."""
    dest = Path(dest)
    if dest.exists() and not is_empty_dir(dest):
        raise BackupError(f"{dest} is not empty: back up into a new directory (nothing was written)",
                          code="backup_target_not_empty")
    dialect = v.engine.dialect.name
    if dialect not in ("sqlite", "postgresql"):  # pragma: no cover - settings allow only these two
        raise BackupError(f"cannot back up a {dialect} database")
    pg_dump = pg_tool("pg_dump") if dialect == "postgresql" else ""  # missing tools: stop before writing
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(dest, 0o700)
    # signed before the keyring is exported: the first checkpoint creates the keyring's signing key
    audit_checkpoints.try_sign_head(v)  # the backup carries a signed checkpoint of (nearly) its own head
    # the keyring first: a bad passphrase stops the backup before anything large is written
    export = v.keyring.export_encrypted(passphrase)
    write_file(dest / KEYRING_EXPORT, [export])

    if dialect == "sqlite":
        db_file = SQLITE_FILE
        snap = _snapshot_sqlite(v.engine, dest / db_file)
    else:
        db_file = PGDUMP_FILE
        snap = _snapshot_postgres(v.engine, dest / db_file, pg_dump)

    with v.session() as s:
        # queued for erasure now, live in the snapshot: destroyed meanwhile, like a blob already deleted
        pending = set(s.scalars(select(BlobErasure.blob_key)).all())
    gone: list[str] = []
    copied = total_bytes = 0
    wanted = sorted(snap.blob_keys)
    for i, key in enumerate(wanted, 1):
        try:
            stream = None if key in pending else v.blobs.get(key)
        except BlobNotFound:
            stream = None
        if stream is None:
            gone.append(key)  # destroyed after the snapshot: restore erases its key again
            continue
        total_bytes += write_file(dest / "blobs" / key, stream)
        copied += 1
        if progress:
            progress(i, len(wanted))

    checkpoints = v.settings.audit_checkpoints_path
    if checkpoints.is_file():  # all of them: a copy outside the home that shows a later truncation too
        write_file(dest / CHECKPOINTS_FILE, [checkpoints.read_bytes()])
    files = {p.relative_to(dest).as_posix(): sha256_file(p) for p in sorted(dest.rglob("*")) if p.is_file()}
    manifest = {
        "format": BACKUP_FORMAT,
        "version": 1,
        "created_at": v.clock.now().isoformat(),
        "database": {"kind": dialect, "file": db_file, "revision": snap.revision},
        "audit_head": snap.audit_head,
        "blobs": copied,
        "gone_during_backup": gone,
        "files": files,
    }
    data = json.dumps(manifest, indent=2, ensure_ascii=False).encode() + b"\n"
    tmp = dest / (MANIFEST + ".tmp")
    write_file(tmp, [data])
    os.replace(tmp, dest / MANIFEST)  # last: a directory without a manifest is not a backup
    manifest_sha256 = hashlib.sha256(data).hexdigest()
    with v.session() as s:
        audit.record(s, None, "backup.created", now=v.clock.now(), blobs=copied, bytes=total_bytes,
                     database=dialect, manifest_sha256=manifest_sha256, audit_seq=snap.audit_head["seq"])
    return BackupReport(path=dest, files=len(files) + 1, blobs=copied, bytes=total_bytes,
                        manifest_sha256=manifest_sha256, gone_during_backup=gone)


def check_passphrase(passphrase: str) -> str:
    """The passphrase protecting the keyring export: refuse an empty or very short one."""
    if len(passphrase) < 8:
        raise Invalid("passphrase", "the backup passphrase must be at least 8 characters")
    return passphrase


__all__ = ["BackupError", "BackupReport", "backup", "check_passphrase", "pg_tool"]
