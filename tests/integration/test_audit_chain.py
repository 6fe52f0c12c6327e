"""The audit chain names the first event that was edited, deleted, reordered or cut off."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from tests.conftest import People
from vault import audit
from vault.core import Vault
from vault.models import AuditEvent
from vault.services import dossiers
from web.errors import translate_text


def _make_events(vault: Vault, people: People, n: int = 5) -> None:
    archivist = people.archivist
    for i in range(n):
        with vault.session() as s:
            dossiers.create_dossier(vault, s, archivist, {"customer_name": f"客户{i}", "customer_type": "client"})


def _verify(vault: Vault) -> audit.ChainReport:
    with vault.session() as s:
        return audit.verify_chain(s)


def test_an_untouched_chain_verifies(vault: Vault, people: People) -> None:
    _make_events(vault, people)
    report = _verify(vault)
    assert report.ok and report.events >= 5 and len(report.head) == 64


def test_an_edited_event_is_found(vault: Vault, people: People) -> None:
    _make_events(vault, people)
    with vault.session() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 4).values(actor_name="someone-else"))
    report = _verify(vault)
    assert not report.ok and report.first_bad_seq == 4 and "altered" in (report.problem or "")
    assert "在写入后被修改" in translate_text(report.problem, "zh")  # as the audit page says it


def test_a_deleted_event_is_found(vault: Vault, people: People) -> None:
    _make_events(vault, people)
    with vault.session() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq == 3))
    report = _verify(vault)
    assert not report.ok and report.first_bad_seq == 3 and "missing" in (report.problem or "")
    assert "缺少事件 3" in translate_text(report.problem, "zh")  # as the audit page says it


def test_reordered_events_are_found(vault: Vault, people: People) -> None:
    _make_events(vault, people)
    with vault.session() as s:
        a = s.get(AuditEvent, 3)
        b = s.get(AuditEvent, 4)
        assert a is not None and b is not None
        fields = ("at", "actor_id", "actor_name", "action", "object_type", "object_id", "dossier_id",
                  "document_id", "client_addr", "details", "prev_hash", "hash")
        va, vb = {f: getattr(a, f) for f in fields}, {f: getattr(b, f) for f in fields}
        for f in fields:
            setattr(a, f, vb[f])
            setattr(b, f, va[f])
    report = _verify(vault)
    assert not report.ok and report.first_bad_seq == 3


def test_a_truncated_chain_is_found(vault: Vault, people: People) -> None:
    _make_events(vault, people)
    with vault.session() as s:
        last = s.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
        s.execute(delete(AuditEvent).where(AuditEvent.seq >= (last or 0) - 1))
    report = _verify(vault)
    assert not report.ok and "removed from the end" in (report.problem or "")
    assert "末尾的事件被删除" in translate_text(report.problem, "zh")  # as the audit page says it


def test_audit_details_refuse_secrets(vault: Vault, people: People) -> None:
    import pytest

    with vault.session() as s, pytest.raises(ValueError, match="password"):
        audit.record(s, people.admin, "user.created", None, now=vault.clock.now(), password="x")
