"""`dossier serve` stops cleanly: Ctrl+C (SIGINT) or SIGTERM (kill, docker stop, a supervisor) end it
with exit status 0, so `make run` reports no error when it is stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.integration.test_cli import _run

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_stopped_by_a_signal_exits_with_status_0(tmp_path: Path, signum: signal.Signals) -> None:
    home = tmp_path / "home"
    assert _run(home, "init").returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
    env["DOSSIER_HOME"] = str(home)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "web.cli", "serve", "--port", str(port)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2):
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "dossier serve did not start"
                time.sleep(0.2)
        proc.send_signal(signum)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, output
    assert "Dossier Vault stopped" in output and "Traceback" not in output
