"""A served app for tests that need one: a real `dossier serve` subprocess, or the test app in a thread."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DOSSIER = str(Path(sys.executable).with_name("dossier"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def dossier_serve(env: dict[str, str], home: Path, *args: str,
                  start_s: float = 60) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """Yield (port, process) of `dossier serve *args` once /api/v1/health answers; its output goes to
    home/serve.log, which a failed start shows. On exit the server is terminated (killed after 10 s)."""
    port = free_port()
    log = (home / "serve.log").open("w")
    proc = subprocess.Popen([DOSSIER, "serve", "--host", "127.0.0.1", "--port", str(port), *args],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + start_s
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("dossier serve did not start: " + (home / "serve.log").read_text()) from None
                time.sleep(0.2)
        yield port, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextmanager
def app_in_thread(app: Any) -> Iterator[str]:
    """The base URL of `app` served by werkzeug in a thread on a free loopback port, for the browser."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
