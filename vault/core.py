"""The domain's engines: settings, database, blob store, keyring, mailer and clock, opened once (see web.bootstrap)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from vault.clock import Clock, SystemClock
from vault.crypto import Keyring
from vault.db import READ_ONLY, make_engine, make_sessionmaker, migrate, unit_of_work
from vault.mail import Mailer, SmtpMailer
from vault.storage import BlobStore, make_blob_store


@dataclass
class Vault:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]  # bare sessions, no transaction rule: prefer `session()`
    blobs: BlobStore
    keyring: Keyring
    mailer: Mailer
    clock: Clock = field(default_factory=SystemClock)
    # the search index lives in `indexer`, which vault never imports: web.bootstrap.Runtime holds both

    @classmethod
    def open(cls, settings: Settings, *, clock: Clock | None = None, migrate_schema: bool = False) -> Vault:
        """Connect to what the settings name; the keyring must exist (`dossier init` creates it)."""
        settings.home.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.db_url)
        if migrate_schema:
            migrate(engine)
        v = cls(
            settings=settings,
            engine=engine,
            session_factory=make_sessionmaker(engine),
            blobs=make_blob_store(settings),
            keyring=Keyring.load(settings.keyring_file),
            mailer=SmtpMailer(settings),
            clock=clock or SystemClock(),
        )
        from vault.services.completeness_flag import sync_rules  # services build on the core: imported late

        sync_rules(v)  # changed required types or fields: every dossier's `incomplete` flag follows them now
        return v

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: commit at the end of the block, roll back on error."""
        with unit_of_work(self.session_factory) as s:
            yield s

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A unit of work that only reads and never commits: on SQLite it takes no write lock, so it does not
        wait behind a writer (a worker's index commit holds one for seconds). Writing in it is a bug."""
        with Session(self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False) as s:
            try:
                yield s
            finally:
                s.rollback()

    def close(self) -> None:
        self.engine.dispose()


def ensure_home(settings: Settings) -> tuple[Keyring, bool]:
    """Create the home, keyring (0600) and Flask secret key if missing; returns (keyring, created)."""
    settings.home.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.home, 0o700)
    settings.keyring_file.parent.mkdir(parents=True, exist_ok=True)
    keyring, created = Keyring.load_or_create(settings.keyring_file)
    secret_file = settings.secret_key_file
    if not secret_file.exists():
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return keyring, created
