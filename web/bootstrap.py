"""The composition root: opens the vault and the search index once, for the web app, the CLI and the worker.

Layers only import downward (config <- vault <- indexer <- web), so the one place that may put a vault
and a search index together is above both. It lives in ``web/`` because every entry point does too: the
app factory (``web.create_app``, ``web.wsgi``), the ``dossier`` command line (``web.cli*``) with
``dossier worker`` and ``dossier serve``. Nothing below ``web`` builds engines: services receive the
vault (settings, database, blobs, keyring, clock, mailer) and, where they search or index, the index.
"""

from __future__ import annotations

from dataclasses import dataclass

from config import Settings
from indexer.search_index import SearchIndex
from indexer.service import open_index
from vault.clock import Clock
from vault.core import Vault
from vault.mail import Mailer


@dataclass(frozen=True)
class Runtime:
    """Everything a running process uses: the vault (the domain's engines) and the search index."""

    vault: Vault
    index: SearchIndex

    @property
    def settings(self) -> Settings:
        return self.vault.settings

    @property
    def clock(self) -> Clock:
        return self.vault.clock

    @property
    def mailer(self) -> Mailer:
        return self.vault.mailer

    def close(self) -> None:
        """Release the database pool (the index holds no connection between calls)."""
        self.vault.close()


def compose(vault: Vault) -> Runtime:
    """The runtime around an open vault: its search index, of the engine the settings name (the files in
    ``index_path``, or the vault's own PostgreSQL tables for ``pg``), opened or created."""
    settings = vault.settings
    return Runtime(vault=vault, index=open_index(settings.search_engine, settings.index_path, vault.engine))


def open_runtime(settings: Settings, *, clock: Clock | None = None, migrate_schema: bool = False) -> Runtime:
    """Open the vault the settings name (its keyring must exist: `dossier init`) and its search index."""
    return compose(Vault.open(settings, clock=clock, migrate_schema=migrate_schema))
