"""`dossier keys rotate`: a new master-key version wraps every data key; blobs stay byte for byte."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests.ops.conftest import Stored, blob_digests, plaintext_of, run_cli
from vault import audit
from vault.core import Vault
from vault.crypto import Keyring
from vault.models import AuditEvent, DocumentVersion
from vault.services import keys
from vault.services.fixity import verify_all


def _wrapped(vault: Vault) -> dict[int, tuple[int, bytes | None]]:
    with vault.session() as s:
        return {v.id: (v.key_id, v.wrapped_key) for v in s.scalars(select(DocumentVersion))}


def test_rotation_rewraps_every_data_key_and_leaves_blobs_byte_for_byte(vault: Vault, stored: list[Stored]) -> None:
    before_blobs = blob_digests(vault)
    before_keys = _wrapped(vault)
    assert {kid for kid, _ in before_keys.values()} == {1}

    result = run_cli(vault, "keys", "rotate", "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert "re-wrapped 5 data keys" in result.output and "retired versions: 1" in result.output

    after_keys = _wrapped(vault)
    assert {kid for kid, _ in after_keys.values()} == {2}
    assert all(after_keys[i][1] != before_keys[i][1] for i in before_keys), "a wrapped key was not rewritten"
    assert blob_digests(vault) == before_blobs  # same keys, same ciphertext
    for item in stored:  # the blob header still says key 1; content decrypts all the same
        assert plaintext_of(vault, item.document_id) == item.path.read_bytes()
    report = verify_all(vault, deep=True)
    assert report.ok, report.findings
    on_disk = Keyring.load(vault.settings.keyring_file)
    assert on_disk.current_id == 2 and on_disk.status(1) == "retired"
    with vault.session() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "keys.rotated")).one()
        assert json.loads(event.details)["rewrapped"] == 5
        assert audit.verify_chain(s).ok


def test_an_interrupted_rotation_resumes_and_retires_the_old_key_only_when_unused(vault: Vault,
                                                                                 stored: list[Stored]) -> None:
    class Interrupted(Exception):
        pass

    def stop_after_first_batch(_n: int) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        keys.rotate_master_key(vault, None, batch_size=2, progress=stop_after_first_batch)
    usage = keys.key_usage(vault)
    assert usage == {1: 3, 2: 2}  # half-way: the first batch committed, the rest still on key 1
    retired, still_used = keys.retire_unused(vault, None)
    assert retired == [] and still_used == {1: 3} and vault.keyring.status(1) == "active"
    for item in stored:  # readable in the middle of a rotation
        assert plaintext_of(vault, item.document_id) == item.path.read_bytes()

    result = run_cli(vault, "keys", "rotate", "--resume")
    assert result.exit_code == 0, result.output
    assert keys.key_usage(vault) == {2: 5}
    on_disk = Keyring.load(vault.settings.keyring_file)  # the CLI changed the file; this process' copy is older
    assert on_disk.ids == (1, 2) and on_disk.status(1) == "retired"  # no third version
    assert verify_all(vault, deep=True).ok
    status = run_cli(vault, "keys", "status")
    assert "2\tactive (current)\t5 data keys" in status.output and "1\tretired\t0 data keys" in status.output
