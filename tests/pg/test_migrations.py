"""Migrations on SQLite and PostgreSQL: from empty to head, and upgrade from the previous release with data.

Written over whatever revisions exist, in order, so each new revision is covered without editing
this file: the previous release is the first revision (0001); a row written there must still be
readable through the current models at head, and new writes must continue where the old ones left off.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, select

from config import load_settings
from indexer import pg_index
from indexer.analyzer import phrase_tokens
from indexer.query import parse_query
from indexer.search_index import SearchFilters
from vault import audit
from vault.clock import FixedClock
from vault.core import Vault, ensure_home
from vault.db import MIGRATIONS_DIR, current_revision, make_engine, migrate
from vault.models import Base, Document, Dossier, User
from vault.policy import Scope
from vault.services import dossiers, users


def revisions_in_order() -> list[str]:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(cfg)
    return [r.revision for r in reversed(list(script.walk_revisions("base", "heads")))]


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        make: Callable[[], str] = request.getfixturevalue("pg_empty_database")
        yield make()


@pytest.fixture
def engine(empty_database_url: str) -> Iterator[Engine]:
    e = make_engine(empty_database_url)
    yield e
    e.dispose()


def test_the_revisions_form_one_line_starting_at_the_first_release() -> None:
    revs = revisions_in_order()
    assert revs[0] == "0001" and len(revs) == len(set(revs))


def test_an_empty_database_migrates_to_head_and_matches_the_models(engine: Engine) -> None:
    assert current_revision(engine) is None
    migrate(engine)
    assert current_revision(engine) == revisions_in_order()[-1]
    migrate(engine)  # idempotent: a second run changes nothing
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
    assert diff == [], f"the models and the migrations disagree: {diff}"


def _write_release_1_rows(engine: Engine) -> int:
    """Rows as release 1 wrote them, with only the columns revision 0001 has (the models may have more);
    ids come from the database as they did then (on PostgreSQL the sequences must move on)."""
    now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    stored = now.replace(tzinfo=None) if engine.dialect.name == "sqlite" else now
    meta = sa.MetaData()
    users_t = sa.Table("users", meta, autoload_with=engine)
    dossiers_t = sa.Table("dossiers", meta, autoload_with=engine)
    counters_t = sa.Table("archive_counters", meta, autoload_with=engine)
    with engine.begin() as conn:
        user_id = conn.execute(users_t.insert().values(
            username="old-archivist", display_name="", role="archivist", clearance="confidential",
            password_hash=None, active=True, session_epoch=0, created_at=stored).returning(users_t.c.id)).scalar_one()
        conn.execute(counters_t.insert().values(year=2026, last_value=7))
        conn.execute(dossiers_t.insert().values(
            archive_no="KH-2026-000007", customer_name="旧版本客户有限公司", credit_code=None,
            customer_type="supplier", grade="A", industry="制造业", region="上海", owner_id=user_id,
            secrecy="internal", status="active", location="A室/1柜", created_at=stored, updated_at=stored,
            created_by_id=user_id))
    return int(user_id)


def test_data_written_by_the_previous_release_survives_every_upgrade(engine: Engine, empty_database_url: str,
                                                                     tmp_path: Path) -> None:
    revisions = revisions_in_order()
    migrate(engine, revisions[0])
    user_id = _write_release_1_rows(engine)
    for rev in revisions[1:]:
        migrate(engine, rev)
        assert current_revision(engine) == rev
    settings = load_settings({"home": str(tmp_path / "home"), "database_url": empty_database_url}, environ={})
    ensure_home(settings)
    clock = FixedClock()
    v = Vault.open(settings, clock=clock)
    try:
        with v.session() as s:
            old = s.scalars(select(Dossier).where(Dossier.archive_no == "KH-2026-000007")).one()
            assert old.customer_name == "旧版本客户有限公司" and old.owner.username == "old-archivist"
            assert old.created_at == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
            assert old.name_sort == "jiubanbenkehuyouxiangongsi"  # backfilled by 0014: sorts in pinyin order
            assert s.scalars(select(Document).where(Document.dossier_id == old.id)).all() == []
            archivist = s.scalars(select(User).where(User.username == "old-archivist")).one()
            system = users.system_user(s, clock.now())
            assert system.id != archivist.id
        with v.session() as s:
            old_archivist = s.get(User, user_id)
            assert old_archivist is not None
            new = dossiers.create_dossier(v, s, old_archivist, {"customer_name": "新客户", "customer_type": "client"})
            assert new.archive_no == f"KH-{clock.now().year}-" + (
                "000008" if clock.now().year == 2026 else "000001")
        with v.session() as s:
            assert audit.verify_chain(s).ok
    finally:
        v.close()


def test_the_pg_search_rows_of_0019_are_converted_in_place_and_found_by_the_new_search(
        request: pytest.FixtureRequest) -> None:
    """0020 moves a document's runs from its chunks to its own row: a search right after the upgrade finds
    what was indexed before it, without a reindex, and a document too big for one row keeps them per chunk."""
    e = make_engine(request.getfixturevalue("pg_empty_database")())
    try:
        migrate(e, "0019")
        texts = {1: "青岛有限公司签约 letter of credit", 2: "仲裁 " + " ".join(f"词{i:05d}" for i in range(30_000))}
        with e.begin() as conn:
            for doc_id, content in texts.items():  # as 0019's PgIndex wrote them: positions, and runs of 2-3
                conn.execute(sa.text("INSERT INTO search_documents (document_id, dossier_id, owner_id, secrecy, "
                                     "doc_type, doc_date) VALUES (:i, 1, NULL, 'internal', 'contract', NULL)"),
                             {"i": doc_id})
                for part, tokens in enumerate(pg_index.chunks(list(phrase_tokens(content))), 1):
                    runs: dict[str, None] = {}
                    pg_index.run_lexemes(tokens, runs)
                    conn.execute(sa.text("INSERT INTO search_chunks (document_id, part, tsv, grams) VALUES "
                                         "(:i, :p, CAST(:tsv AS tsvector), CAST(:grams AS tsvector))"),
                                 {"i": doc_id, "p": part, "tsv": pg_index.tsvector_literal(tokens),
                                  "grams": pg_index.terms_literal({g: None for g in runs if " " in g})})
        migrate(e, "0020")
        with e.connect() as conn:
            oversize = dict(conn.execute(sa.text("SELECT document_id, terms IS NULL FROM search_documents")).all())
            emptied = conn.execute(sa.text("SELECT count(*) FROM search_chunks WHERE document_id = 1 "
                                           "AND grams <> ''")).scalar_one()
        assert oversize == {1: False, 2: True} and emptied == 0
        ix, everything = pg_index.PgIndex(e), Scope(("internal",), frozenset(), frozenset())
        for q, expected in (("有限公司", [1]), ('"letter of credit"', [1]), ("青岛有限公司签约", [1]),
                            ("签", [1]), ("词29999", [2]), ("仲裁 词00001", [2]), ("有限公司 仲裁", [])):
            result = ix.search(parse_query(q), everything, SearchFilters(), 1, 10)
            assert [h.document_id for h in result.hits] == expected, q
    finally:
        e.dispose()


def test_0021_adds_each_documents_dossier_and_owner_to_its_terms_and_owners_find_what_was_indexed_before(
        request: pytest.FixtureRequest) -> None:
    """An owner's search finds the documents by lexemes of their dossier and owner: rows written before 0021
    get them in place, so an employee finds their own documents right after the upgrade, without a reindex."""
    e = make_engine(request.getfixturevalue("pg_empty_database")())
    try:
        migrate(e, "0020")
        rows = [(1, 10, 7, "internal"), (2, 11, 7, "secret"), (3, 20, 8, "internal"), (4, 30, None, "public"),
                (-121, 30, None, "card.public"), (-45, 11, 7, "card.secret")]  # customer cards
        with e.begin() as conn:
            for doc_id, dossier_id, owner_id, secrecy in rows:  # as 0020's PgIndex wrote them
                runs: dict[str, None] = {}
                pg_index.run_lexemes(list(phrase_tokens("青岛有限公司 付款条款")), runs)
                runs[pg_index.recent_group(doc_id)] = None
                conn.execute(sa.text("INSERT INTO search_documents (document_id, dossier_id, owner_id, secrecy, "
                                     "doc_type, doc_date, terms) VALUES (:i, :d, :o, :s, 'contract', NULL, "
                                     "CAST(:terms AS tsvector))"),
                             {"i": doc_id, "d": dossier_id, "o": owner_id, "s": secrecy,
                              "terms": pg_index.terms_literal(runs)})
            before = dict(conn.execute(sa.text("SELECT document_id, CAST(terms AS text) FROM search_documents")).all())
        migrate(e, "0021")
        ix = pg_index.PgIndex(e)

        def found(scope: Scope) -> set[int]:
            return {h.document_id for h in ix.search(parse_query("有限公司"), scope, SearchFilters(), 1, 10).hits}

        assert found(Scope(None, frozenset({10}), frozenset(), 7, ("public", "internal"))) == {1}
        assert found(Scope(None, frozenset({10, 11}), frozenset(), 7, ("public", "internal", "secret"))) == {1, 2}
        assert found(Scope(None, frozenset({20, 30}), frozenset(), 8, ("public", "internal"), frozenset({30}))) == {
            3, 4, -121}, "an owner's own, and a dossier granted (it has no owner) with its card"
        assert found(Scope(None, frozenset(), frozenset(), 9, ("public", "internal"))) == set()
        # as the search service widens an employee's scope: the cards of every dossier within their clearance
        cards = ("card.public", "card.internal")
        assert found(Scope(None, frozenset({10}), frozenset(), 7, ("public", "internal"), card_levels=cards)) == {
            1, -121}
        assert found(Scope(None, frozenset({10, 11}), frozenset(), 7, ("public", "internal", "secret"),
                           card_levels=(*cards, "card.secret"))) == {1, 2, -121, -45}
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.attributes["engine"] = e
        command.downgrade(cfg, "0020")
        with e.connect() as conn:
            after = dict(conn.execute(sa.text("SELECT document_id, CAST(terms AS text) FROM search_documents")).all())
        assert after == before, "the downgrade takes them out again"
    finally:
        e.dispose()


def test_0022_puts_the_customer_files_groups_of_ids_right_and_an_employee_finds_the_cards_indexed_before(
        request: pytest.FixtureRequest) -> None:
    """0020 wrote a row's group of ids with SQL's division, which truncates toward zero: the card of dossier 8
    (key -33) got group ' 0', where the index writes ' -1'. An employee's search looks for the cards within
    their clearance group by group below 0, after their own documents: without 0022 it misses that card."""
    e = make_engine(request.getfixturevalue("pg_empty_database")())
    try:
        migrate(e, "0019")
        # (key, dossier, owner, secrecy): a document, cards in group -1, at -2048 (a multiple of 1024: the same
        # both ways) and in group -5
        rows = [(5, 1, 7, "internal"), (-33, 8, 8, "card.internal"), (-2048, 512, 8, "card.public"),
                (-4101, 1025, 9, "card.public"), (-45, 11, 9, "card.secret")]
        with e.begin() as conn:
            for key, dossier_id, owner_id, secrecy in rows:  # as 0019's PgIndex wrote them
                conn.execute(sa.text("INSERT INTO search_documents (document_id, dossier_id, owner_id, secrecy, "
                                     "doc_type, doc_date) VALUES (:i, :d, :o, :s, 'card', NULL)"),
                             {"i": key, "d": dossier_id, "o": owner_id, "s": secrecy})
                tokens, runs = list(phrase_tokens("青岛有限公司")), {}
                pg_index.run_lexemes(tokens, runs)
                conn.execute(sa.text("INSERT INTO search_chunks (document_id, part, tsv, grams) VALUES "
                                     "(:i, 1, CAST(:tsv AS tsvector), CAST(:grams AS tsvector))"),
                             {"i": key, "tsv": pg_index.tsvector_literal(tokens),
                              "grams": pg_index.terms_literal({g: None for g in runs if " " in g})})
        migrate(e, "0021")

        def groups() -> dict[int, list[str]]:
            with e.connect() as conn:
                found = conn.execute(sa.text("SELECT document_id, tsvector_to_array(terms) FROM search_documents"))
                return {int(key): [x for x in lexemes if x.lstrip(" -").isdigit()] for key, lexemes in found}

        assert groups()[-33] == [" 0"], "as 0020 wrote it"
        migrate(e, "0022")
        employee = Scope(None, frozenset({1}), frozenset(), 7, ("public", "internal"),
                         card_levels=("card.public", "card.internal"))
        result = pg_index.PgIndex(e).search(parse_query("有限公司"), employee, SearchFilters(), 1, 10)
        assert {h.document_id for h in result.hits} == {5, -33, -2048, -4101} and result.total == 4
        assert groups() == {key: [pg_index.recent_group(key)] for key, *_ in rows}
    finally:
        e.dispose()
