"""Migration 0010 numbers the documents already in the archive, per dossier, in the order they were created,
and the next document of a dossier continues after them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import select

from config import load_settings
from vault.clock import FixedClock
from vault.core import Vault, ensure_home
from vault.db import make_engine, migrate
from vault.models import Document, User
from vault.services.item_numbers import assign_item_no


def test_existing_documents_are_numbered_in_creation_order_and_numbering_continues(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    migrate(engine, "0007")
    meta = sa.MetaData()
    users_t, dossiers_t, documents_t = (sa.Table(n, meta, autoload_with=engine)
                                        for n in ("users", "dossiers", "documents"))
    base = datetime(2026, 3, 1, 9, 0)
    with engine.begin() as conn:
        uid = conn.execute(users_t.insert().values(
            username="old", display_name="", role="archivist", clearance="confidential", password_hash=None,
            active=True, session_epoch=0, created_at=base).returning(users_t.c.id)).scalar_one()
        dossier_ids = [conn.execute(dossiers_t.insert().values(
            archive_no=f"KH-2026-00000{n}", customer_name=f"客户{n}", customer_type="client", grade="B",
            industry="", region="", owner_id=uid, secrecy="internal", status="active", location="",
            created_at=base, updated_at=base, created_by_id=uid).returning(dossiers_t.c.id)).scalar_one()
            for n in (1, 2)]
        # ids and creation times disagree on purpose: creation time decides
        for dossier, title, minutes in ((0, "third", 30), (0, "first", 10), (1, "only", 5), (0, "second", 20)):
            conn.execute(documents_t.insert().values(
                dossier_id=dossier_ids[dossier], doc_type="contract", title=title, status="active",
                created_at=base + timedelta(minutes=minutes), created_by_id=uid))
    migrate(engine)
    engine.dispose()

    settings = load_settings({"home": str(tmp_path / "home"), "database_url": url}, environ={})
    ensure_home(settings)
    v = Vault.open(settings, clock=FixedClock(datetime(2026, 12, 1, tzinfo=UTC)))
    try:
        with v.session() as s:
            numbered = {(d.dossier_id, d.title): d.item_no for d in s.scalars(select(Document))}
            assert numbered == {(dossier_ids[0], "first"): 1, (dossier_ids[0], "second"): 2,
                                (dossier_ids[0], "third"): 3, (dossier_ids[1], "only"): 1}
            user = s.scalars(select(User)).first()
            assert user is not None
            new = Document(dossier_id=dossier_ids[0], doc_type="contract", title="new", created_at=v.clock.now(),
                           created_by_id=user.id)
            s.add(new)
            s.flush()
            assert assign_item_no(s, new) == 4
    finally:
        v.close()


def test_migration_0017_queues_the_dossiers_of_paper_documents_for_the_search_index(tmp_path: Path) -> None:
    """Documents received on paper before their metadata was indexed become searchable after the upgrade:
    their dossiers (and only theirs) are queued for re-indexing."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    migrate(engine, "0014")
    meta = sa.MetaData()
    users_t, dossiers_t, documents_t, versions_t = (sa.Table(n, meta, autoload_with=engine) for n in
                                                    ("users", "dossiers", "documents", "document_versions"))
    base = datetime(2026, 3, 1, 9, 0)
    with engine.begin() as conn:
        uid = conn.execute(users_t.insert().values(
            username="old", display_name="", role="archivist", clearance="confidential", password_hash=None,
            active=True, session_epoch=0, created_at=base).returning(users_t.c.id)).scalar_one()
        paper, scanned = (conn.execute(dossiers_t.insert().values(
            archive_no=f"KH-2026-00000{n}", customer_name=f"客户{n}", customer_type="client", grade="B",
            industry="", region="", owner_id=uid, secrecy="internal", status="active", location="",
            created_at=base, updated_at=base, created_by_id=uid, name_sort="").returning(dossiers_t.c.id)
        ).scalar_one() for n in (1, 2))
        for dossier, item_no in ((paper, 1), (paper, 2), (scanned, 1)):
            conn.execute(documents_t.insert().values(
                dossier_id=dossier, doc_type="contract", title="合同", status="active", item_no=item_no,
                created_at=base, created_by_id=uid))
        doc_id = conn.execute(select(documents_t.c.id).where(documents_t.c.dossier_id == scanned)).scalar_one()
        version_id = conn.execute(versions_t.insert().values(
            uid="a" * 32, document_id=doc_id, version_no=1, key_id=1, plaintext_size=1, ciphertext_size=1,
            ciphertext_sha256="", fingerprint="", mime="application/pdf", original_filename="x.pdf",
            index_status="indexed", uploaded_at=base, uploaded_by_id=uid).returning(versions_t.c.id)).scalar_one()
        conn.execute(documents_t.update().where(documents_t.c.id == doc_id).values(current_version_id=version_id))
    migrate(engine)
    jobs_t = sa.Table("jobs", sa.MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        queued = conn.execute(select(jobs_t.c.kind, jobs_t.c.payload, jobs_t.c.status)).all()
    engine.dispose()
    assert [(k, json.loads(p) if isinstance(p, str) else p, st) for k, p, st in queued] == \
        [("reindex_dossier", {"dossier_id": paper}, "queued")]
