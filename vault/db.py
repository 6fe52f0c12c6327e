"""Engine and sessions: SQLite (WAL, busy_timeout, BEGIN IMMEDIATE, secure_delete) or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
READ_ONLY = "dossier_read_only"  # an execution option: this connection only reads (Vault.read_session)


def make_engine(url: str, *, busy_timeout_ms: int = 10_000) -> Engine:
    """An engine with this project's connection rules applied on every new connection."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # let SQLAlchemy's begin event issue BEGIN IMMEDIATE instead of pysqlite's lazy BEGIN
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA secure_delete=ON")  # erased keys and text do not linger in free pages
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # writers take the lock up front: no deadlock-prone read->write upgrades; a read-only unit of
            # work (Vault.read_session) is a plain WAL reader, which never waits for a writer
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    # objects stay usable after commit: handlers serialise what a service returned
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back on any exception."""
    with factory.begin() as session:
        yield session


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` with Alembic (idempotent)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
