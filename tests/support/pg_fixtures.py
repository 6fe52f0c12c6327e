"""Pytest fixtures for a real PostgreSQL server (started once per session, on first use).

Register with `pytest_plugins = [..., "tests.support.pg_fixtures"]` in tests/conftest.py.

- `pg_server` (session): the running cluster (~2 s to start), stopped and removed at session end.
- `pg_template` (session): name of a database migrated to head once; per-test copies start from it.
- `pg_url` (function): a fresh database at the head revision for one test, dropped afterwards.
- `pg_fresh_database` (session): a factory of fresh databases at the head revision, for a fixture of
  wider scope (a module's index); each is dropped at session end.
- `pg_empty_database` (function): a factory of fresh, empty databases (no schema), for migration tests.

Use `pg_url` with the shared `vault` fixture through `settings_overrides`:

    @pytest.fixture
    def settings_overrides(pg_url: str) -> dict[str, Any]:
        return {"database_url": pg_url}
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator

import pytest

from tests.support.postgres import PostgresServer, start_postgres

_names = itertools.count(1)


def _fresh_name(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{next(_names)}"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_template(pg_server: PostgresServer) -> str:
    from vault.db import make_engine, migrate

    name = _fresh_name("dv_template")
    pg_server.create_database(name)
    engine = make_engine(pg_server.url(name))
    try:
        migrate(engine)
    finally:
        engine.dispose()  # a template may have no open connection while it is copied
    return name


@pytest.fixture
def pg_url(pg_server: PostgresServer, pg_template: str) -> Iterator[str]:
    name = _fresh_name("dv_test")
    url = pg_server.create_database(name, template=pg_template)
    try:
        yield url
    finally:
        pg_server.drop_database(name)


@pytest.fixture
def pg_empty_database(pg_server: PostgresServer) -> Iterator[Callable[[], str]]:
    made: list[str] = []

    def make() -> str:
        name = _fresh_name("dv_empty")
        made.append(name)
        return pg_server.create_database(name)

    try:
        yield make
    finally:
        for name in made:
            pg_server.drop_database(name)


@pytest.fixture(scope="session")
def pg_fresh_database(pg_server: PostgresServer, pg_template: str) -> Iterator[Callable[[], str]]:
    made: list[str] = []

    def make() -> str:
        name = _fresh_name("dv_module")
        made.append(name)
        return pg_server.create_database(name, template=pg_template)

    try:
        yield make
    finally:
        for name in made:
            pg_server.drop_database(name)
