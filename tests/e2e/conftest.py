"""A real `dossier serve` on 127.0.0.1 with a fresh home, users per role, and headless Debian Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PASSWORD = "e2e password 12345"
SCREENSHOTS = Path(__file__).parent / "screenshots"
USERS = {"archivist": "archivist", "employee": "employee", "manager": "manager", "legal": "legal"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    port = _free_port()
    log = (home / "serve.log").open("w")
    proc = subprocess.Popen([str(Path(sys.executable).with_name("dossier")), "serve", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base + "/api/v1/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("dossier serve did not start: " + (home / "serve.log").read_text()) from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


class Shots:
    """Saves screenshots of the main pages under tests/e2e/screenshots/ (ignored by git)."""

    def __init__(self) -> None:
        SCREENSHOTS.mkdir(exist_ok=True)

    def __call__(self, page: Any, name: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="session")
def shots() -> Shots:
    return Shots()
