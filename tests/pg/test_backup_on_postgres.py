"""`dossier backup` / `dossier restore` on PostgreSQL: pg_dump in an exported snapshot, pg_restore into an
empty database, and the restored service verifies clean, searches and reads as before, keeps later
destructions and refuses a database that already holds data. Writes made while the backup runs are in
neither the dump nor its manifest; without the client tools nothing is written at all.

The PostgreSQL client tools are taken off PATH while the commands run: on Debian they live in
/usr/lib/postgresql/<version>/bin, and `dossier` must find them there as the test server's code does.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from indexer.search_index import SearchIndex
from tests.conftest import Api, People
from tests.corpus import SYNTHETIC
from tests.ops.conftest import plaintext_of, store_files
from tests.support.backups import PASS, approved_destruction, destroy, home_env, open_restored, run_cli_home, search_ids
from tests.support.workflow_fixtures import upload
from vault import audit
from vault.core import Vault
from vault.db import current_revision
from vault.models import AuditEvent, AuditHead, Document, DocumentStatus, DocumentVersion, User
from vault.services import backup as backup_service
from vault.services import destruction

# text PDFs and DOCX only (no OCR): two customers, five documents
DOSSIERS = [
    ["C01/02_contract_HYGL-JG-20220309-062.pdf", "C01/03_资信调查报告_ZX2022359624.docx",
     "C01/04_关于调整信用额度的函.docx"],
    ["C02/02_contract_HYGL-JG-20231221-068.pdf", "C02/04_催款函.docx"],
]
DOC_TYPES = {"02": "contract", "03": "credit_report", "04": "correspondence"}
DOSSIER = str(Path(sys.executable).parent / "dossier")
BROAD, NARROW = "公司", "HYGL-JG-20220309-062"  # every document; the first contract and the letter citing it


def _without_pg_tools_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Debian machine where pg_dump / pg_restore are not on PATH and PG_BIN is not set (elsewhere, where
    the tools are found only through PATH or PG_BIN, they stay as they are)."""
    if not glob.glob("/usr/lib/postgresql/*/bin/pg_dump"):
        return
    monkeypatch.delenv("PG_BIN", raising=False)
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not (Path(d) / "pg_dump").exists() and not (Path(d) / "pg_restore").exists()]
    monkeypatch.setenv("PATH", os.pathsep.join(dirs))
    assert shutil.which("pg_dump") is None and shutil.which("pg_restore") is None


def _upload_corpus(api: Api, people: People) -> dict[Path, int]:
    """Two dossiers and their documents uploaded through the API; {file: document id}."""
    ids: dict[Path, int] = {}
    for n, files in enumerate(DOSSIERS):
        dossier_id = api.new_dossier(people.archivist, customer_name=f"备份测试客户{n}有限公司")["id"]
        for name in files:
            path = SYNTHETIC / name
            ids[path] = upload(api, people.archivist, dossier_id, path,
                               doc_type=DOC_TYPES[path.name[:2]])["id"]
    return ids


def _audit_hashes(v: Vault, up_to: int) -> list[tuple[int, str]]:
    with v.session() as s:
        return [(e.seq, e.hash) for e in s.scalars(select(AuditEvent).where(AuditEvent.seq <= up_to)
                                                   .order_by(AuditEvent.seq))]


def _fingerprint(v: Vault) -> tuple[Any, ...]:
    """What a refused restore must leave exactly as it was: rows, the audit head, the blobs."""
    with v.session() as s:
        head = s.get(AuditHead, 1)
        assert head is not None
        return (s.scalar(select(func.count()).select_from(Document)),
                s.scalar(select(func.count()).select_from(DocumentVersion)),
                head.seq, head.hash, sorted(v.blobs.keys()))


def test_a_postgres_backup_restores_into_an_empty_database_verified_searchable_and_later_destructions_kept(
        vault: Vault, index: SearchIndex, people: People, api: Api, tmp_path: Path, pg_empty_database: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from indexer.worker import run_pending

    ids = _upload_corpus(api, people)
    assert run_pending(vault, index) == len(ids) + len(DOSSIERS)  # the files, and each new customer's card
    legal = people.legal
    before = {q: search_ids(vault, index, legal, q) for q in (BROAD, NARROW)}
    assert before[BROAD] == sorted(ids.values())
    first_contract, letter = (ids[SYNTHETIC / DOSSIERS[0][i]] for i in (0, 2))
    assert before[NARROW] == sorted([first_contract, letter])

    _without_pg_tools_on_path(monkeypatch)
    source_home, source_db = vault.settings.home, vault.settings.database_url
    backup_dir = tmp_path / "backups" / "2026-01-05"
    result = run_cli_home(source_home, "backup", str(backup_dir), "--passphrase-stdin", database_url=source_db,
                          input=PASS)
    assert result.exit_code == 0, result.output

    manifest = json.loads((backup_dir / "manifest.json").read_text())
    assert manifest["database"] == {"kind": "postgresql", "file": "database.pgdump",
                                    "revision": current_revision(vault.engine)}
    assert manifest["blobs"] == len(ids) and manifest["gone_during_backup"] == []
    on_disk = {p.relative_to(backup_dir).as_posix() for p in backup_dir.rglob("*") if p.is_file()}
    assert set(manifest["files"]) == on_disk - {"manifest.json"}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((backup_dir / name).read_bytes()).hexdigest() == digest
    assert (backup_dir / "database.pgdump").read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    manifest_sha = hashlib.sha256((backup_dir / "manifest.json").read_bytes()).hexdigest()
    assert f"manifest SHA-256: {manifest_sha}" in result.output
    # the snapshot's audit head: the backup's own `backup.created` event comes after it
    backup_seq = manifest["audit_head"]["seq"]
    chain_at_backup = _audit_hashes(vault, backup_seq)
    assert chain_at_backup[-1] == (backup_seq, manifest["audit_head"]["hash"])

    # destroyed after the backup, with the register kept beside the backups
    destroy(vault, people, first_contract)
    register = run_cli_home(source_home, "export-destruction-register",
                            str(backup_dir.parent / "destruction-register.json"), database_url=source_db)
    assert register.exit_code == 0, register.output

    home, target_db = tmp_path / "restored", pg_empty_database()
    restored = run_cli_home(home, "restore", str(backup_dir), "--passphrase-stdin", database_url=target_db,
                            input=PASS)
    assert restored.exit_code == 0, restored.output
    assert "1 documents destroyed after the backup were destroyed again" in restored.output
    assert f"search index rebuilt: {len(ids) - 1} documents" in restored.output
    assert "verify: OK" in restored.output

    # a separate process, as an operator runs it (in-process, `dossier verify` leaves its engine to the GC)
    verify = subprocess.run([DOSSIER, "verify", "--deep"], env={**os.environ, **home_env(home, target_db)},
                            capture_output=True, text=True, timeout=120, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "OK: no findings" in verify.stdout
    restored_runtime = open_restored(home, target_db)
    v2 = restored_runtime.vault
    try:
        assert v2.engine.dialect.name == "postgresql" and v2.engine.url.database == target_db.rsplit("/", 1)[1]
        with v2.session() as s:
            chain = audit.verify_chain(s)
            assert chain.ok, chain.problem
            doc = s.get(Document, first_contract)
            assert doc is not None and doc.status is DocumentStatus.DESTROYED
            assert all(ver.wrapped_key is None and ver.blob_key is None for ver in doc.versions)
            replayed = s.scalars(select(AuditEvent).where(AuditEvent.action == "document.destroyed",
                                                          AuditEvent.seq > backup_seq)).all()
            assert len(replayed) == 1 and replayed[0].document_id == first_contract
            restored_legal = s.scalars(select(User).where(User.username == "legal")).one()
            s.expunge(restored_legal)
        assert _audit_hashes(v2, backup_seq) == chain_at_backup  # the same chain, continued
        assert len(list(v2.blobs.keys())) == len(ids) - 1
        for q, found in before.items():
            assert search_ids(v2, restored_runtime.index, restored_legal, q) == [
                i for i in found if i != first_contract]

        from web import create_app

        restored_app = create_app(runtime=restored_runtime)
        restored_app.config.update(TESTING=True)
        restored_api = Api(restored_app.test_client(), people)
        for path, doc_id in ids.items():
            r = restored_api.get(people.archivist, f"/api/v1/documents/{doc_id}/content")
            if doc_id == first_contract:
                assert r.status_code == 410 and r.get_json()["error"]["code"] == "document_destroyed"
            else:
                assert r.status_code == 200 and r.data == path.read_bytes(), (path, r.status_code)
        # the service goes on where the backup left off: sequences restored, the audit chain continued
        with v2.session() as s:
            letter_doc = s.get(Document, letter)
            assert letter_doc is not None
            dossier_id = letter_doc.dossier_id
        fresh = upload(restored_api, people.archivist, dossier_id, SYNTHETIC / "C02/05_授权委托书.docx",
                       doc_type="other")
        assert fresh["id"] > max(ids.values())
        with v2.session() as s:
            assert audit.verify_chain(s).ok
    finally:
        v2.close()


def test_restore_into_a_postgres_database_that_holds_data_or_is_missing_is_refused_and_changes_nothing(
        vault: Vault, people: People, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store_files(vault, people, [SYNTHETIC / name for name in DOSSIERS[1]])
    backup_dir = tmp_path / "backup"
    backup_service.backup(vault, backup_dir, PASS.strip())
    untouched = _fingerprint(vault)

    _without_pg_tools_on_path(monkeypatch)
    home = tmp_path / "new-home"  # empty: only the database is in the way
    result = run_cli_home(home, "restore", str(backup_dir), "--passphrase-stdin",
                          database_url=vault.settings.database_url, input=PASS)
    assert result.exit_code == 1, result.output
    assert "restore needs an empty database" in result.output and "nothing was changed" in result.output
    assert not home.exists() or not any(home.iterdir())
    assert _fingerprint(vault) == untouched

    missing_db = vault.settings.database_url.rsplit("/", 1)[0] + "/no_such_database"
    result = run_cli_home(home, "restore", str(backup_dir), "--passphrase-stdin", database_url=missing_db,
                          input=PASS)
    assert result.exit_code == 1, result.output
    assert "cannot connect to the target PostgreSQL database no_such_database" in result.output
    assert 'database "no_such_database" does not exist' in result.output
    assert not home.exists() or not any(home.iterdir())

    sqlite_home = tmp_path / "sqlite-home"  # no database URL: the home's SQLite, the wrong kind
    result = run_cli_home(sqlite_home, "restore", str(backup_dir), "--passphrase-stdin", input=PASS)
    assert result.exit_code == 1, result.output
    assert "holds a postgresql database and the target is sqlite" in result.output
    assert not sqlite_home.exists()


def test_without_the_postgres_client_tools_backup_and_restore_stop_before_writing_anything(
        vault: Vault, people: People, tmp_path: Path, pg_empty_database: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    store_files(vault, people, [SYNTHETIC / DOSSIERS[1][1]])
    backup_dir = tmp_path / "backup"
    backup_service.backup(vault, backup_dir, PASS.strip())
    nowhere = tmp_path / "no-tools"
    nowhere.mkdir()
    monkeypatch.setenv("PG_BIN", str(nowhere))

    result = run_cli_home(vault.settings.home, "backup", str(tmp_path / "second"), "--passphrase-stdin",
                          database_url=vault.settings.database_url, input=PASS)
    assert result.exit_code == 1 and f"PG_BIN is {nowhere}, and it holds no pg_dump" in result.output
    assert not (tmp_path / "second").exists()

    home, target_db = tmp_path / "restored", pg_empty_database()
    result = run_cli_home(home, "restore", str(backup_dir), "--passphrase-stdin", database_url=target_db,
                          input=PASS)
    assert result.exit_code == 1 and "holds no pg_restore" in result.output
    assert not home.exists()


def test_writes_while_the_backup_runs_are_in_neither_the_dump_nor_the_manifest(
        vault: Vault, people: People, tmp_path: Path, pg_empty_database: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    old, kept = store_files(vault, people, [SYNTHETIC / name for name in DOSSIERS[1]], old_first=True)
    batch_id = approved_destruction(vault, people, old.document_id)
    with vault.session() as s:
        head = s.get(AuditHead, 1)
        assert head is not None
        at_snapshot = {"seq": head.seq, "hash": head.hash}
        old_key = s.scalars(select(DocumentVersion.blob_key)
                            .where(DocumentVersion.document_id == old.document_id)).one()
    late: list[int] = []
    real_run = subprocess.run

    def run_after_other_writers(cmd: list[str], *args: Any, **kwargs: Any) -> Any:
        if Path(cmd[0]).name == "pg_dump":  # the snapshot is exported: the service goes on meanwhile
            destruction.execute(vault, people.archivist, batch_id)
            late.extend(s.document_id for s in store_files(vault, people, [SYNTHETIC / DOSSIERS[0][1]]))
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", run_after_other_writers)
    report = backup_service.backup(vault, tmp_path / "backup", PASS.strip())
    monkeypatch.undo()

    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["audit_head"] == at_snapshot
    assert report.gone_during_backup == manifest["gone_during_backup"] == [old_key]
    assert manifest["blobs"] == report.blobs == 1

    home, target_db = tmp_path / "restored", pg_empty_database()
    result = run_cli_home(home, "restore", str(tmp_path / "backup"), "--passphrase-stdin", database_url=target_db,
                          input=PASS)
    assert result.exit_code == 0, result.output
    assert "verify: OK" in result.output
    restored_runtime = open_restored(home, target_db)
    v2 = restored_runtime.vault
    try:
        with v2.session() as s:
            assert s.get(Document, late[0]) is None  # uploaded after the snapshot
            versions = s.scalars(select(DocumentVersion)
                                 .where(DocumentVersion.document_id == old.document_id)).all()
            assert all(ver.wrapped_key is None and ver.blob_key is None for ver in versions)
            assert audit.verify_chain(s).ok
            event = s.scalars(select(AuditEvent).where(AuditEvent.seq == at_snapshot["seq"])).one()
            assert event.hash == at_snapshot["hash"]
            assert s.scalar(select(func.count()).select_from(AuditEvent)
                            .where(AuditEvent.action == "document.destroyed")) == 0
        assert plaintext_of(v2, kept.document_id) == kept.path.read_bytes()
    finally:
        v2.close()
