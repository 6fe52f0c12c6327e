"""Oversized bodies to every JSON and form endpoint of a real `dossier serve` are refused (413) and the
server's resident memory does not grow with them (issue 10, item 6).

The bodies (100 MB declared, or streamed without a length) come from a generator, so the test itself
stays small; the server's peak resident size (VmHWM in /proc/<pid>/status) is read before and after.
"""

from __future__ import annotations

import os
import re
import select
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from config import load_settings
from tests.support.serve import dossier_serve
from web.security import UPLOAD_ENDPOINTS

pytestmark = pytest.mark.slow

BODY_BYTES = 100 * 1024 * 1024
CHUNK = b"A" * (256 * 1024)
# the server may grow a little (threads, caches) but never by anything near one oversized body
GROWTH_BOUND = 48 * 1024 * 1024


def _kib(pid: int, field: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(rf"^{field}:\s+(\d+) kB", status, re.M)
    assert found, status
    return int(found.group(1)) * 1024


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, int]]:
    """`dossier serve --no-worker` on a fresh home: (host, port, pid)."""
    home = tmp_path_factory.mktemp("limits-home")
    env = {**os.environ, "DOSSIER_HOME": str(home)}
    cli = str(Path(sys.executable).with_name("dossier"))
    done = subprocess.run([cli, "init"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with dossier_serve(env, home, "--no-worker") as (port, proc):
        yield "127.0.0.1", port, proc.pid


def _body_endpoints(tmp_path: Path) -> list[tuple[str, str, str]]:
    """(method, path, content type) for every route that takes a JSON or form body, uploads excepted."""
    from vault.core import Vault, ensure_home
    from web import create_app

    settings = load_settings({"home": str(tmp_path / "routes-home")}, environ={})
    ensure_home(settings)
    (settings.home / "secret_key").write_text("routes only")
    v = Vault.open(settings, migrate_schema=True)
    try:
        app = create_app(vault=v)
    finally:
        v.close()
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in UPLOAD_ENDPOINTS or rule.rule.startswith("/static"):
            continue
        path = re.sub(r"<any\(([^,)]+)[^>]*>", r"\1", rule.rule)
        path = re.sub(r"<int:[^>]+>", "1", path)
        path = re.sub(r"<[^>]+>", "x", path)
        ctype = "application/json" if path.startswith("/api/") else "application/x-www-form-urlencoded"
        for method in sorted((rule.methods or set()) & {"POST", "PATCH", "PUT", "DELETE"}):
            out.append((method, path, ctype))
    return out


def _send_oversized(host: str, port: int, method: str, path: str, ctype: str, *, chunked: bool) -> int:
    """Stream a body far over the limit until the server answers; the status code it answered."""
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {ctype}\r\nConnection: close\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {BODY_BYTES}\r\n\r\n"
    frame = (f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n") if chunked else CHUNK
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(head.encode())
        sent = 0
        while sent < BODY_BYTES:
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered (and stopped reading)
            try:
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(CHUNK)
        reply = b""
        try:
            while b"\r\n" not in reply:
                data = sock.recv(4096)
                if not data:
                    break
                reply += data
        except ConnectionResetError:
            pass
    assert reply.startswith(b"HTTP/1."), (method, path, reply[:200])
    return int(reply.split(b" ", 2)[1])


def test_oversized_bodies_are_refused_without_the_server_growing(served: tuple[str, int, int],
                                                                 tmp_path: Path) -> None:
    host, port, pid = served
    endpoints = _body_endpoints(tmp_path)
    assert ("POST", "/api/v1/auth/token", "application/json") in endpoints
    assert ("POST", "/login", "application/x-www-form-urlencoded") in endpoints
    _send_oversized(host, port, "POST", "/api/v1/auth/token", "application/json", chunked=False)  # warm-up
    peak_before = _kib(pid, "VmHWM")
    answers = {(m, p): _send_oversized(host, port, m, p, ct, chunked=False) for m, p, ct in endpoints}
    for method, path in (("POST", "/api/v1/auth/token"), ("POST", "/login"), ("POST", "/logout")):
        ctype = "application/json" if path.startswith("/api/") else "application/x-www-form-urlencoded"
        answers[(method, path + " (chunked)")] = _send_oversized(host, port, method, path, ctype, chunked=True)
    peak_after = _kib(pid, "VmHWM")
    assert {k: v for k, v in answers.items() if v != 413} == {}
    assert peak_after - peak_before < GROWTH_BOUND, (peak_before, peak_after)
