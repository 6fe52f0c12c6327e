"""Signed checkpoints catch a chain rewritten by someone who can write the database, and name the attack.

Each attack below is done as an insider with database access would: change the rows, recompute every
hash after the change and move the stored head, so the chain on its own still verifies (asserted).
Only the checkpoints, signed with the keyring's key and kept in a file outside the database, tell.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

from indexer.search_index import SearchIndex
from tests.conftest import Api, People
from tests.ops.conftest import run_cli, store_files
from tests.support.backups import destroy, run_cli_home
from vault import audit, audit_checkpoints
from vault.core import Vault
from vault.models import AuditEvent, AuditHead
from vault.services import dossiers
from web.errors import translate_text


def _make_events(vault: Vault, people: People, n: int) -> None:
    archivist = people.archivist
    for i in range(n):
        with vault.session() as s:
            dossiers.create_dossier(vault, s, archivist, {"customer_name": f"客户{i}", "customer_type": "client"})


def _rehash(vault: Vault) -> None:
    """What the attacker does after changing rows: recompute every hash and the stored head."""
    with vault.session() as s:
        prev = audit.GENESIS
        events = s.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        for e in events:
            e.prev_hash = prev
            e.hash = audit._event_hash(prev, audit._fields(e))  # noqa: SLF001 - the attacker knows the formula
            prev = e.hash
        head = s.get(AuditHead, 1)
        assert head is not None
        head.seq, head.hash = (events[-1].seq if events else 0), prev


def _renumber(vault: Vault, order: list[int]) -> None:
    """Give the events now at the seqs in `order` the seqs 1, 2, ... in that order."""
    with vault.session() as s:
        for seq in order:  # out of the way first: seq is unique
            s.get_one(AuditEvent, seq).seq = -seq
        s.flush()
        for new, old in enumerate(order, 1):
            s.get_one(AuditEvent, -old).seq = new


def _verify_cli(vault: Vault) -> tuple[int, dict[str, Any]]:
    result = run_cli(vault, "audit", "verify")
    return result.exit_code, json.loads(result.output.strip().splitlines()[-1])


def _chain_alone_ok(vault: Vault) -> bool:
    with vault.session() as s:
        return audit.verify_chain(s).ok


@pytest.fixture
def signed(vault: Vault, people: People) -> int:
    """Twelve events, a checkpoint after the sixth, one after the twelfth, then two more events."""
    _make_events(vault, people, 6)
    assert audit_checkpoints.sign_head(vault) is not None
    _make_events(vault, people, 6)
    last = audit_checkpoints.sign_head(vault)
    assert last is not None
    _make_events(vault, people, 2)
    return last.seq


def test_an_untouched_chain_verifies_against_its_checkpoints(vault: Vault, signed: int) -> None:
    code, report = _verify_cli(vault)
    assert code == 0 and report["ok"]
    assert report["checkpoints"] == {"count": 2, "last_seq": signed}
    assert audit_checkpoints.sign_head(vault) is not None and audit_checkpoints.sign_head(vault) is None, \
        "a checkpoint is written when the head moved, not again for the same head"


def test_an_event_edited_with_the_hashes_after_it_recomputed_is_named_edited(vault: Vault, signed: int) -> None:
    with vault.session() as s:
        s.get_one(AuditEvent, 9).actor_name = "someone-else"
    _rehash(vault)
    assert _chain_alone_ok(vault)
    code, report = _verify_cli(vault)
    assert code == 1 and report["first_bad"]["kind"] == "edited" and report["first_bad"]["seq"] == 9


def test_an_event_deleted_and_the_rest_renumbered_is_named_deleted(vault: Vault, signed: int) -> None:
    with vault.session() as s:
        top = s.scalar(select(AuditHead.seq).where(AuditHead.id == 1))
        s.execute(delete(AuditEvent).where(AuditEvent.seq == 8))
    assert top is not None
    _renumber(vault, [n for n in range(1, top + 1) if n != 8])
    _rehash(vault)
    assert _chain_alone_ok(vault)
    code, report = _verify_cli(vault)
    assert code == 1 and report["first_bad"]["kind"] == "deleted" and report["first_bad"]["seq"] == 8


def test_two_events_swapped_is_named_reordered(vault: Vault, signed: int) -> None:
    with vault.session() as s:
        top = s.scalar(select(AuditHead.seq).where(AuditHead.id == 1))
    assert top is not None
    order = list(range(1, top + 1))
    order[9], order[10] = order[10], order[9]  # events 10 and 11 change places
    _renumber(vault, order)
    _rehash(vault)
    assert _chain_alone_ok(vault)
    code, report = _verify_cli(vault)
    assert code == 1 and report["first_bad"]["kind"] == "reordered" and report["first_bad"]["seq"] == 10


def test_events_cut_off_the_end_with_the_head_rewritten_are_named_truncated(vault: Vault, signed: int) -> None:
    with vault.session() as s:  # everything from two events before the last checkpoint on
        s.execute(delete(AuditEvent).where(AuditEvent.seq > signed - 2))
    _rehash(vault)
    assert _chain_alone_ok(vault)
    code, report = _verify_cli(vault)
    assert code == 1 and report["first_bad"]["kind"] == "truncated"
    assert report["first_bad"]["seq"] == signed - 1 and f"names event {signed}" in report["first_bad"]["problem"]


def test_a_checkpoint_line_written_without_the_key_is_named_forged(vault: Vault, signed: int) -> None:
    path = vault.settings.audit_checkpoints_path
    lines = path.read_text().splitlines()
    doctored = json.loads(lines[-1])
    doctored["seq"] += 100
    path.write_text("\n".join([*lines, json.dumps(doctored)]) + "\n")
    code, report = _verify_cli(vault)
    assert code == 1 and report["first_bad"]["kind"] == "forged"
    assert "检查点" in translate_text(report["first_bad"]["problem"], "zh")


def test_verify_and_the_api_report_the_rewrite_too(vault: Vault, signed: int, api: Api, people: People) -> None:
    with vault.session() as s:
        s.get_one(AuditEvent, 3).action = "dossier.viewed"
    _rehash(vault)
    result = run_cli(vault, "verify")
    assert result.exit_code == 1 and "FINDING audit_chain: event 3: edited" in result.output
    r = api.get(people.admin, "/api/v1/audit/verify")
    assert r.status_code == 200 and r.get_json()["first_bad"]["kind"] == "edited"


def test_a_destruction_signs_a_checkpoint_that_covers_it(vault: Vault, people: People) -> None:
    document_id = store_files(vault, people, old_first=True)[0].document_id
    destroy(vault, people, document_id)
    checkpoints, _ = audit_checkpoints.read_checkpoints(vault.settings.audit_checkpoints_path)
    with vault.session() as s:
        executed = s.scalar(select(AuditEvent.seq).where(AuditEvent.action == "destruction.executed"))
    assert executed is not None and checkpoints and checkpoints[-1].seq >= executed


def test_a_backup_carries_the_checkpoints_that_show_a_later_truncation_and_restore_keeps_its_own(
        vault: Vault, people: People, tmp_path: Path) -> None:
    _make_events(vault, people, 5)
    dest = tmp_path / "backup"
    assert run_cli(vault, "backup", str(dest), "--passphrase-stdin", input="a long backup passphrase\n").exit_code == 0
    copy = dest / "audit-checkpoints.jsonl"
    signed, _ = audit_checkpoints.read_checkpoints(copy)
    assert signed and json.loads((dest / "manifest.json").read_text())["files"]["audit-checkpoints.jsonl"]
    # the insider cuts the trail back, rewrites the head and empties the home's checkpoint file
    with vault.session() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq > 2))
    _rehash(vault)
    vault.settings.audit_checkpoints_path.write_text("")
    assert _verify_cli(vault)[0] == 0, "nothing in the home shows it"
    result = run_cli(vault, "audit", "verify", "--checkpoints", str(copy))
    report = json.loads(result.output.strip().splitlines()[-1])
    assert result.exit_code == 1 and report["first_bad"]["kind"] == "truncated"

    home = tmp_path / "restored"
    restored = run_cli_home(home, "restore", str(dest), "--passphrase-stdin", input="a long backup passphrase\n")
    assert restored.exit_code == 0, restored.output
    check = run_cli_home(home, "audit", "verify")
    assert check.exit_code == 0, check.output
    assert json.loads(check.output.strip().splitlines()[-1])["checkpoints"]["count"] >= 1


@pytest.mark.parametrize("settings_overrides", [{"audit_checkpoint_interval_s": 0.2}])
def test_the_worker_signs_a_checkpoint_of_the_head_every_interval(vault: Vault, index: SearchIndex,
                                                                  people: People) -> None:
    from indexer.worker import BackgroundWorker

    _make_events(vault, people, 3)

    def signed_heads(wanted: int) -> list[int]:
        deadline = time.monotonic() + 20
        while True:
            seqs = [c.seq for c in audit_checkpoints.read_checkpoints(vault.settings.audit_checkpoints_path)[0]]
            if len(seqs) >= wanted or time.monotonic() > deadline:
                return seqs
            time.sleep(0.1)

    def head() -> int:
        with vault.session() as s:
            return s.get_one(AuditHead, 1).seq

    worker = BackgroundWorker(vault, index).start()
    try:
        assert signed_heads(1) == [head()]
        _make_events(vault, people, 1)  # the head moves: the next interval signs it
        assert signed_heads(2) == [head() - 1, head()]
    finally:
        worker.stop()
    code, report = _verify_cli(vault)
    assert code == 0 and report["checkpoints"]["count"] == 2


@pytest.mark.parametrize(("now", "kind", "seq"), [
    (["a", "b", "X", "d", "e", "f"], "edited", 13),
    (["a", "c", "d", "e", "f", "g"], "deleted", 12),
    (["a", "b", "d", "e", "f", "g"], "deleted", 13),
    (["a", "b", "e", "f", "g", "h"], "deleted", 13),
    (["a", "b", "c", "d", "e", "Y", "f"], "inserted", 16),
    (["a", "b", "d", "c", "e", "f"], "reordered", 13),
    (["a", "b", "c"], "truncated", 14),
    ([], "truncated", 11),
])
def test_the_difference_from_a_checkpoint_is_named_for_what_was_done(now: list[str], kind: str, seq: int) -> None:
    """The digests of events 11..16 as signed, against what the database holds now (one letter per event)."""
    signed = ["a", "b", "c", "d", "e", "f"]
    cp = audit_checkpoints.Checkpoint(16, "h" * 64, "2026-01-05T09:00:00+00:00", 10,
                                      "".join(x * audit_checkpoints.DIGEST_HEX for x in signed), "key")
    found = audit_checkpoints._classify(cp, [x * audit_checkpoints.DIGEST_HEX for x in now])  # noqa: SLF001
    assert (found.kind, found.seq) == (kind, seq), found.problem
    said = translate_text(found.problem, "zh")
    assert "事件" in said and "event" not in said, "the audit page says the finding in the reader's language"
