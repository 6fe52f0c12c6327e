"""Concurrent writers on PostgreSQL: the audit head row lock serialises them into one gap-free chain."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from tests.conftest import People
from vault import audit
from vault.core import Vault
from vault.models import AuditEvent, Dossier
from vault.services import dossiers

THREADS = 8
PER_THREAD = 12


def test_dossiers_created_at_once_from_many_connections_leave_a_gap_free_chain(vault: Vault,
                                                                               people: People) -> None:
    archivist = people.archivist
    with vault.session() as s:
        events_before = s.scalar(select(func.count()).select_from(AuditEvent)) or 0
    start = threading.Barrier(THREADS)

    def writer(n: int) -> list[str]:
        start.wait()  # every thread opens its transactions at the same moment
        made = []
        for i in range(PER_THREAD):
            with vault.session() as s:
                d = dossiers.create_dossier(vault, s, archivist,
                                            {"customer_name": f"并发客户{n}-{i}", "customer_type": "client"})
                made.append(d.archive_no)
        return made

    with ThreadPoolExecutor(THREADS) as pool:
        numbers = [no for made in pool.map(writer, range(THREADS)) for no in made]

    assert len(numbers) == len(set(numbers)) == THREADS * PER_THREAD
    serials = sorted(int(no[-6:]) for no in numbers)
    assert serials == list(range(1, THREADS * PER_THREAD + 1)), "archive numbers skipped or repeated"
    with vault.session() as s:
        report = audit.verify_chain(s)
        seqs = s.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all()
        created = s.scalar(select(func.count()).select_from(AuditEvent)
                           .where(AuditEvent.action == "dossier.created")) or 0
        assert s.scalar(select(func.count()).select_from(Dossier)) == THREADS * PER_THREAD
    assert report.ok, report
    assert report.events == events_before + THREADS * PER_THREAD == len(seqs)
    assert list(seqs) == list(range(1, len(seqs) + 1))
    assert created == THREADS * PER_THREAD
