"""`dossier backup` / `dossier restore`: a restored service verifies clean, reads back, searches as before,
and documents destroyed after the backup stay destroyed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from indexer.search_index import SearchIndex
from tests.conftest import People
from tests.ops.conftest import Stored, plaintext_of, run_cli, store_files
from tests.support.backups import PASS, destroy, open_restored, run_cli_home, search_ids
from vault.core import Vault
from vault.models import (
    AuditEvent,
    BlobErasure,
    Document,
    DocumentStatus,
    DocumentVersion,
    Job,
    JobKind,
    JobStatus,
    User,
)


def test_a_restored_backup_verifies_reads_and_searches_as_before_and_replays_destructions(
        vault: Vault, index: SearchIndex, people: People, tmp_path: Path) -> None:
    from indexer.worker import run_pending

    stored = store_files(vault, people, old_first=True)
    run_pending(vault, index)
    legal = people.legal
    term = "公司"
    before = search_ids(vault, index, legal, term)
    assert len(before) >= 3

    backup_dir = tmp_path / "backups" / "2026-01-05"
    result = run_cli(vault, "backup", str(backup_dir), "--passphrase-stdin", input=PASS)
    assert result.exit_code == 0, result.output
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    assert manifest["blobs"] == len(stored) and "keyring.export.json" in manifest["files"]
    assert "database.sqlite3" in manifest["files"]
    # ciphertext as stored, never decrypted: the backup's blob files are the store's bytes
    for key in vault.blobs.keys():
        assert (backup_dir / "blobs" / key).read_bytes() == b"".join(vault.blobs.get(key))

    destroyed = stored[0]
    destroy(vault, people, destroyed.document_id)
    register = run_cli(vault, "export-destruction-register", str(backup_dir.parent / "destruction-register.json"))
    assert register.exit_code == 0, register.output

    home = tmp_path / "restored"
    restored = run_cli_home(home, "restore", str(backup_dir), "--passphrase-stdin", input=PASS)
    assert restored.exit_code == 0, restored.output
    assert "1 documents destroyed after the backup were destroyed again" in restored.output
    assert "Rebuilding the search index" in restored.output  # a progress bar: a big archive takes a while
    assert "verify: OK" in restored.output

    restored_runtime = open_restored(home)
    v2 = restored_runtime.vault
    try:
        assert run_cli(v2, "verify", "--deep").exit_code == 0
        for item in stored[1:]:
            assert plaintext_of(v2, item.document_id) == item.path.read_bytes()
        with v2.session() as s:
            doc = s.get(Document, destroyed.document_id)
            assert doc is not None and doc.status is DocumentStatus.DESTROYED
            versions = s.scalars(select(DocumentVersion).where(DocumentVersion.document_id == doc.id)).all()
            assert all(ver.wrapped_key is None and ver.blob_key is None for ver in versions)
            restored_legal = s.scalars(select(User).where(User.username == "legal")).one()
            s.expunge(restored_legal)
        assert len(list(v2.blobs.keys())) == len(stored) - 1
        assert search_ids(v2, restored_runtime.index, restored_legal, term) == [
            i for i in before if i != destroyed.document_id]
        # the replay purged the index as an execution does: through the worker's purge job, audited
        with v2.session() as s:
            purges = s.scalars(select(Job).where(Job.kind == JobKind.PURGE_INDEX)).all()
            assert [(j.status, j.payload["document_ids"]) for j in purges] == [
                (JobStatus.QUEUED, [destroyed.document_id])]
            assert s.scalars(select(BlobErasure)).all() == []
        assert run_pending(v2, restored_runtime.index) == 1
        with v2.session() as s:
            assert s.scalars(select(Job.status).where(Job.kind == JobKind.PURGE_INDEX)).all() == [JobStatus.DONE]
            purged = s.scalars(select(AuditEvent).where(AuditEvent.action == "index.purged")).one()
            assert json.loads(purged.details)["document_ids"] == [destroyed.document_id]
    finally:
        v2.close()


@pytest.fixture
def backup_dir(vault: Vault, stored: list[Stored], tmp_path: Path) -> Path:
    dest = tmp_path / "backup"
    result = run_cli(vault, "backup", str(dest), "--passphrase-stdin", input=PASS)
    assert result.exit_code == 0, result.output
    return dest


def test_restore_refuses_a_home_that_is_not_empty(backup_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "busy"
    home.mkdir()
    (home / "something").write_text("x")
    result = run_cli_home(home, "restore", str(backup_dir), "--passphrase-stdin", input=PASS)
    assert result.exit_code == 1 and "restore needs an empty home" in result.output
    assert sorted(p.name for p in home.iterdir()) == ["something"]


def test_restore_refuses_a_backup_that_does_not_match_its_manifest(backup_dir: Path, tmp_path: Path) -> None:
    blob = next(p for p in (backup_dir / "blobs").rglob("*") if p.is_file())
    data = bytearray(blob.read_bytes())
    data[-1] ^= 1
    blob.write_bytes(bytes(data))
    result = run_cli_home(tmp_path / "new", "restore", str(backup_dir), "--passphrase-stdin", input=PASS)
    assert result.exit_code == 1 and "does not match its manifest" in result.output
    assert "changed: blobs/" in result.output
    assert not (tmp_path / "new").exists()


def test_restore_with_the_wrong_passphrase_writes_nothing_but_the_empty_home(backup_dir: Path, tmp_path: Path) -> None:
    result = run_cli_home(tmp_path / "new", "restore", str(backup_dir), "--passphrase-stdin",
                          input="not the passphrase\n")
    assert result.exit_code == 1 and "wrong passphrase" in result.output
    assert not any(p.is_file() for p in (tmp_path / "new").rglob("*"))
