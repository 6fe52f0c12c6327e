"""Helpers for the backup / restore stories (SQLite in tests/ops, PostgreSQL in tests/pg): the passphrase,
a search as one user, a destruction through the whole workflow, the CLI run against a restored home."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from config import load_settings
from indexer.search_index import SearchIndex
from tests.conftest import People
from vault.core import Vault
from vault.models import User
from vault.services import destruction
from web.bootstrap import Runtime, open_runtime

PASS = "backup passphrase 2026\n"


def search_ids(v: Vault, index: SearchIndex, user: User, text: str) -> list[int]:
    """The ids of the documents a search finds for `user`, sorted (through the service, audited)."""
    from indexer.service import parse_filters, search

    with v.session() as s:
        page = search(v, index, s, user, text, parse_filters({}), per_page=100)
        return sorted(item.document_id for item in page.items if item.document_id is not None)  # documents only


def approved_destruction(vault: Vault, people: People, document_id: int) -> int:
    """A destruction batch for one document, proposed and approved (manager and legal): ready to execute."""
    with vault.session() as s:
        batch_id = destruction.propose(vault, s, people.archivist, [document_id], "retention ended").id
    for approver in (people.manager, people.legal):
        with vault.session() as s:
            destruction.approve(vault, s, approver, batch_id, "ok")
    return batch_id


def destroy(vault: Vault, people: People, document_id: int) -> None:
    """Propose, approve (manager and legal) and execute the destruction of one document."""
    destruction.execute(vault, people.archivist, approved_destruction(vault, people, document_id))


def home_env(home: Path, database_url: str | None = None) -> dict[str, str]:
    """The environment a user sets to point `dossier` at a home (and a database other than its SQLite)."""
    env = {"DOSSIER_HOME": str(home)}
    if database_url:
        env["DOSSIER_DATABASE_URL"] = database_url
    return env


def run_cli_home(home: Path, *args: str, database_url: str | None = None, input: str | None = None) -> Result:
    """Run `dossier ...` in-process against `home` (e.g. a restore target that has no vault yet)."""
    from web.cli import main

    return CliRunner().invoke(main, list(args), env=home_env(home, database_url), input=input,
                              catch_exceptions=False)


def open_restored(home: Path, database_url: str | None = None) -> Runtime:
    """Open a restored vault and its search index as the service would (settings from the home)."""
    overrides = {"home": str(home)} | ({"database_url": database_url} if database_url else {})
    return open_runtime(load_settings(overrides, environ={}))
