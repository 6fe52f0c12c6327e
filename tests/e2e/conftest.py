"""A real `dossier serve` on 127.0.0.1 with a fresh home, users per role, and headless Debian Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.serve import dossier_serve

PASSWORD = "e2e password 12345"
SCREENSHOTS = Path(__file__).parent / "screenshots"
USERS = {"archivist": "archivist", "employee": "employee", "manager": "manager", "legal": "legal"}


def _dossier(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    cli = Path(sys.executable).with_name("dossier")
    done = subprocess.run([str(cli), *args], env=env, input=stdin, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`dossier serve` as a subprocess (with its in-process worker when the indexer has one)."""
    home = tmp_path_factory.mktemp("e2e-home")
    env = {**os.environ, "DOSSIER_HOME": str(home)}
    _dossier(env, "init")
    for name, role in USERS.items():
        _dossier(env, "user", "add", name, "--role", role, "--clearance", "secret", "--password-stdin",
                 stdin=PASSWORD + "\n")
    with dossier_serve(env, home, start_s=30) as (port, _):
        yield f"http://127.0.0.1:{port}"


class Shots:
    """Saves screenshots of the main pages under tests/e2e/screenshots/ (ignored by git)."""

    def __init__(self) -> None:
        SCREENSHOTS.mkdir(exist_ok=True)

    def __call__(self, page: Any, name: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="session")
def shots() -> Shots:
    return Shots()
