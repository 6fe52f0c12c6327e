"""The PostgreSQL tier: every test under tests/pg gets a vault whose database is a fresh PostgreSQL one.

The shared `vault` fixture is replaced rather than `settings_overrides`, because tests that are
re-run here from other modules parametrize `settings_overrides` themselves (e.g. a small upload limit).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config import load_settings
from vault.clock import FixedClock
from vault.core import Vault, ensure_home


@pytest.fixture
def vault(tmp_path: Path, clock: FixedClock, settings_overrides: dict[str, Any], pg_url: str) -> Iterator[Vault]:
    settings = load_settings({"home": str(tmp_path / "home"), **settings_overrides, "database_url": pg_url},
                             environ={})
    ensure_home(settings)
    v = Vault.open(settings, clock=clock, migrate_schema=True)
    assert v.engine.dialect.name == "postgresql"
    yield v
    v.close()
