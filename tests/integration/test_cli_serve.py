"""`dossier serve` serves with gunicorn beside one index worker, and stops cleanly: Ctrl+C (SIGINT) or
SIGTERM (kill, docker stop, a supervisor) end it with exit status 0, so `make run` reports no error."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import docx
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


def _children(pid: int) -> list[str]:
    """The command lines of a process's children."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found.append((stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, IndexError, ValueError):
            continue  # the process ended meanwhile
    return found


def _json(url: str, body: dict[str, str] | None = None, token: str | None = None) -> Any:
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_serve_runs_gunicorn_processes_and_one_index_worker_that_indexes_what_is_imported(tmp_path: Path) -> None:
    home, corpus = tmp_path / "home", tmp_path / "corpus"
    assert _run(home, "init").returncode == 0
    for name in ("legal", "archivist"):
        assert _run(home, "user", "add", name, "--role", name, "--password-stdin",
                    stdin="a-long-password-1\n").returncode == 0
    corpus.mkdir()
    note = docx.Document()
    note.add_paragraph("Sonderklausel 7781 gilt.")
    note.save(str(corpus / "note.docx"))
    manifest = {"files": [{"path": "note.docx", "customer": "Serve GmbH", "doc_type": "other", "title": "Note"}]}
    (corpus / "manifest.json").write_text(json.dumps(manifest))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
    env.update(DOSSIER_HOME=str(home), DOSSIER_WEB_PROCESSES="2", DOSSIER_WEB_THREADS="2")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "web.cli", "serve", "--port", str(port)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                _json(f"{base}/api/v1/health")
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "dossier serve did not start"
                time.sleep(0.2)
        children = _children(proc.pid)
        assert sum(" serve " in c for c in children) == 2, children  # gunicorn's web processes
        assert sum(c.rstrip().endswith(" worker") for c in children) == 1, children  # one index worker
        imported = _run(home, "import", str(corpus), "--manifest", str(corpus / "manifest.json"))
        assert imported.returncode == 0, imported.stderr
        token = _json(f"{base}/api/v1/auth/token", {"username": "legal", "password": "a-long-password-1"})["token"]
        while _json(f"{base}/api/v1/search?q=Sonderklausel", token=token)["total"] != 1:
            assert time.monotonic() < deadline + 60, "the index worker did not index the import"
            time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, output
    assert "development server" not in output and "Traceback" not in output
    assert _children(proc.pid) == []
